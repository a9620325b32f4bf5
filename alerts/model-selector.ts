/**
 * The model classes of the SLO configuration as PromQL label matchers, so that a recording rule
 * counts exactly the models the analyzer's `classOf` assigns to a class.
 *
 * The analyzer searches each rule's regular expression in the model name and takes the first class
 * in configuration order. The configuration accepts only RE2-compatible patterns
 * (common/config/re2-syntax.ts), so each rule is the same pattern in Prometheus, wrapped as a search
 * (common/promql.ts `searchRegex`). Pod-label rules cannot be expressed on the LLM series (they
 * carry no pod labels), as in the analyzer over Prometheus; a class with no model rule gets no rules
 * and a warning.
 */
import type { MatchRule, ModelClass } from "../common/slo/spec.js";
import { matcher, searchRegex } from "../common/promql.js";

function modelRules(modelClass: ModelClass): Extract<MatchRule, { model: string }>[] {
  return modelClass.match.filter((rule): rule is Extract<MatchRule, { model: string }> => "model" in rule);
}

/** One regular expression for every model rule of a class; undefined when it has none. */
function classRegex(modelClass: ModelClass): string | undefined {
  const rules = modelRules(modelClass);
  return rules.length === 0 ? undefined : rules.map((rule) => searchRegex(rule.model, rule.ignoreCase)).join("|");
}

/**
 * The label matchers (without braces) selecting the models of `classes[index]`: its own rules,
 * minus every model an earlier class claims first. Undefined when the class has no model rule.
 */
export function classMatchers(classes: readonly ModelClass[], index: number): string | undefined {
  const own = classes[index] === undefined ? undefined : classRegex(classes[index]);
  if (own === undefined) return undefined;
  const earlier = classes
    .slice(0, index)
    .map(classRegex)
    .filter((regex): regex is string => regex !== undefined);
  return [matcher("model", "=~", own), ...earlier.map((regex) => matcher("model", "!~", regex))].join(", ");
}
