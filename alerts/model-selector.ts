/**
 * The model classes of the SLO configuration as PromQL label matchers, so that a recording rule
 * counts exactly the models the analyzer's `classOf` assigns to a class.
 *
 * The analyzer searches each rule's JavaScript regular expression in the model name and takes the
 * first class in configuration order. Prometheus matches RE2 expressions against the whole value
 * and has no look-around, so each rule is rewritten: a search becomes `.*(?:body).*`, a leading
 * negative look-behind of one character class `(?<![S])` becomes "at the start, or after a character
 * not in S", a trailing negative look-ahead `(?![T])` "at the end, or before a character not in T".
 * Other look-arounds and back-references have no RE2 form and are refused with the rule's text.
 * Pod-label rules cannot be expressed on the LLM series (they carry no pod labels), as in the
 * analyzer over Prometheus; a class with no model rule gets no rules and a warning.
 */
import type { MatchRule, ModelClass } from "../common/slo/spec.js";

const LOOKBEHIND = /^\(\?<!(\[[^\]]*\])\)/;
const LOOKAHEAD = /\(\?!(\[[^\]]*\])\)$/;
const UNSUPPORTED = /\(\?<?[=!]|\\[1-9]|\(\?<[a-zA-Z]|\\k</;

/** The negation of a bracket expression `[abc]` → `[^abc]` (and `[^abc]` → `[abc]`). */
function negate(set: string): string {
  return set.startsWith("[^") ? `[${set.slice(2)}` : `[^${set.slice(1)}`;
}

/**
 * The RE2 expression matching a whole model name exactly when the JavaScript rule finds a match in
 * it (with the rule's case sensitivity). Throws for constructs RE2 lacks.
 */
export function toPromRegex(rule: { readonly model: string; readonly ignoreCase: boolean }): string {
  let body = rule.model;
  let prefix = ".*";
  let suffix = ".*";
  const behind = LOOKBEHIND.exec(body);
  if (behind) {
    prefix = `(?:|.*${negate(behind[1] as string)})`;
    body = body.slice(behind[0].length);
  }
  const ahead = LOOKAHEAD.exec(body);
  if (ahead) {
    suffix = `(?:|${negate(ahead[1] as string)}.*)`;
    body = body.slice(0, body.length - ahead[0].length);
  }
  if (UNSUPPORTED.test(body)) {
    throw new Error(`model rule ${JSON.stringify(rule.model)}: Prometheus (RE2) has no look-around or back-reference; only a leading (?<![…]) and a trailing (?![…]) are translated`);
  }
  if (!behind && body.startsWith("^")) {
    prefix = "";
    body = body.slice(1);
  }
  if (!ahead && body.endsWith("$") && !body.endsWith("\\$")) {
    suffix = "";
    body = body.slice(0, -1);
  }
  const flags = rule.ignoreCase ? "i" : "";
  return flags ? `(?${flags}:${prefix}(?:${body})${suffix})` : `${prefix}(?:${body})${suffix}`;
}

function modelRules(modelClass: ModelClass): Extract<MatchRule, { model: string }>[] {
  return modelClass.match.filter((rule): rule is Extract<MatchRule, { model: string }> => "model" in rule);
}

/** One regular expression for every model rule of a class; undefined when it has none. */
function classRegex(modelClass: ModelClass): string | undefined {
  const rules = modelRules(modelClass);
  return rules.length === 0 ? undefined : rules.map((rule) => toPromRegex(rule)).join("|");
}

/**
 * The label matchers (without braces) selecting the models of `classes[index]`: its own rules,
 * minus every model an earlier class claims first. Undefined when the class has no model rule.
 */
export function classMatchers(classes: readonly ModelClass[], index: number): string | undefined {
  const own = classes[index] === undefined ? undefined : classRegex(classes[index]);
  if (own === undefined) return undefined;
  const earlier = classes.slice(0, index).map(classRegex).filter((regex): regex is string => regex !== undefined);
  return [`model=~${JSON.stringify(own)}`, ...earlier.map((regex) => `model!~${JSON.stringify(regex)}`)].join(", ");
}
