/**
 * The one place PromQL text is written: string literals, label matchers, selectors, `le` matchers
 * of histogram thresholds, and the RE2 form of a configured pattern. The alert rules (alerts/), the
 * Grafana dashboards (dashboards/) and the analyzer's Prometheus store (analyzer/stores/promql.ts)
 * all build their queries from these pieces.
 *
 * Configured patterns (SLO model classes, pools, tiers) are RE2-compatible by construction: the
 * configuration refuses anything else (common/config/re2-syntax.ts). A pattern is searched anywhere
 * in a name by the analyzer (JavaScript) and matched against the whole label value by Prometheus,
 * so the only translation is {@link searchRegex}'s `.*(?:pattern).*` — one pattern, one meaning.
 */

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A number as PromQL reads it, without binary-float noise (`0.050000000000000044` → `0.05`). */
export function promNumber(value: number): string {
  return String(Number(value.toPrecision(12)));
}

/**
 * The text of a label value inside a double-quoted PromQL string: backslash, double quote, newline,
 * carriage return and tab escaped (PromQL strings take Go's escapes; prometheus/promql/parser/lex.go).
 */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n\r\t]/g, (c) => ESCAPES[c] ?? c);
}

const ESCAPES: Readonly<Record<string, string>> = { "\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** A PromQL string literal holding exactly `value`. */
export function promString(value: string): string {
  return `"${escapeLabelValue(value)}"`;
}

/** A literal string as an RE2 expression matching exactly it. */
export function escapeRegex(value: string): string {
  return value.replace(/[\\^$.|?*+()[\]{}]/g, "\\$&");
}

/** `name`, checked as a Prometheus label name; throws for anything else, so no text can change a query's meaning. */
export function labelName(name: string): string {
  if (!LABEL_NAME.test(name)) throw new Error(`promql: invalid label name ${JSON.stringify(name)}`);
  return name;
}

/** `name`, checked as a Prometheus metric name; throws for anything else. */
export function metricName(name: string): string {
  if (!METRIC_NAME.test(name)) throw new Error(`promql: invalid metric name ${JSON.stringify(name)}`);
  return name;
}

/** The four label-matching operators. */
export type MatchOp = "=" | "!=" | "=~" | "!~";

/** One label matcher, `name op "value"`, with the name checked and the value escaped. */
export function matcher(name: string, op: MatchOp, value: string): string {
  return `${labelName(name)}${op}${promString(value)}`;
}

/** A series selector `metric{m1, m2}` from ready matchers; the bare name without any. */
export function selector(metric: string, matchers: readonly string[]): string {
  const nonEmpty = matchers.filter((m) => m !== "");
  return nonEmpty.length === 0 ? metricName(metric) : `${metricName(metric)}{${nonEmpty.join(", ")}}`;
}

/**
 * The spellings of histogram bucket bounds in `le`: the number as written, and for whole numbers
 * also Prometheus 3's float form (`2` → `2.0`; prometheus docs/migration.md), so one matcher holds
 * before and after the normalisation, as kubernetes-mixin does. The number is written as
 * JavaScript writes it, as prom-client writes the agent's bucket bounds.
 */
export function leValues(thresholds: readonly number[]): string[] {
  const values = new Set<string>();
  for (const threshold of thresholds) {
    values.add(String(threshold));
    if (Number.isInteger(threshold)) values.add(threshold.toFixed(1));
  }
  return [...values];
}

/** The `le` matcher of one bucket bound: `le="1.2"`, or `le=~"2(\\.0)?"` for a whole number. */
export function leMatcher(thresholdSeconds: number): string {
  const text = String(thresholdSeconds);
  return Number.isInteger(thresholdSeconds)
    ? matcher("le", "=~", `${escapeRegex(text)}(\\.0)?`)
    : matcher("le", "=", text);
}

/** The `le` matcher of a set of bucket bounds, every spelling of {@link leValues}. */
export function leSetMatcher(thresholds: readonly number[]): string {
  return matcher("le", "=~", leValues(thresholds).map(escapeRegex).join("|"));
}

/**
 * The RE2 expression a label matcher uses for a configured pattern: it matches a whole value
 * exactly when the pattern, searched as the analyzer searches it (JavaScript `RegExp.test`), finds a
 * match. Prometheus anchors label regexes (`^(?:…)$`), so the search becomes `.*(?:pattern).*`;
 * `^` and `$` inside keep their meaning (RE2 without the `m` flag: start and end of the text).
 * `ignoreCase` is RE2's `(?i:…)`, JavaScript's `i` flag.
 */
export function searchRegex(pattern: string, ignoreCase = false): string {
  const search = `.*(?:${pattern}).*`;
  return ignoreCase ? `(?i:${search})` : search;
}
