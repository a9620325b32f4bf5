/**
 * PromQL text for the store's queries, from the pieces of common/promql.ts: names are validated and
 * values escaped there, so nothing a label value holds can change a query's meaning. Every
 * expression aggregates next to the data (`sum by`, `max by`, `<fn>_over_time`) so an answer grows
 * with what it describes.
 */
import { escapeRegex, labelName, matcher, metricName, selector } from "../../common/promql.js";
import type { IncreaseQuery, LabelMatch, LabelOneOf, LatestQuery, OverTimeQuery, Selection } from "./metric-store.js";

/** Runs `render`, its errors (an invalid name) said to be the store's. */
function inStore<T>(render: () => T): T {
  try {
    return render();
  } catch (cause) {
    throw new Error(`prometheus store: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** A label matcher on a regular expression, `name=~"regex"`. */
export function regexMatcher(name: string, regex: string): string {
  return inStore(() => matcher(name, "=~", regex));
}

/** `metric{a="x", b=~"1\\.2|2", …}` with validated names and escaped values; `extra` are ready matchers (shards). */
export function renderSelector(
  metric: string,
  match: LabelMatch = {},
  oneOf: LabelOneOf = {},
  extra: readonly string[] = [],
): string {
  return inStore(() => {
    const matchers = Object.entries(match).map(([name, value]) => matcher(name, "=", value));
    for (const [name, values] of Object.entries(oneOf)) {
      // An empty set matches nothing; `name=~"a^"` is the PromQL way to say so without an error.
      matchers.push(matcher(name, "=~", values.length === 0 ? "a^" : values.map(escapeRegex).join("|")));
    }
    return selector(metric, [...matchers, ...extra]);
  });
}

/** The selector of a Selection, with extra matchers. */
export function selectorOf(selection: Selection, extra: readonly string[] = []): string {
  return renderSelector(selection.metric, selection.match, selection.oneOf, extra);
}

/**
 * A range selector's duration as Prometheus 2.x parses it: whole seconds (`3600s`), else whole
 * milliseconds (`1500ms`); never fractions, which 2.x refuses.
 */
export function renderDuration(ms: number): string {
  if (!(ms > 0) || !Number.isInteger(ms))
    throw new Error(`prometheus store: window must be a positive whole number of milliseconds, got ${ms}`);
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** `op by (a, b) (expr)`, or `op(expr)` without labels. */
function aggregate(op: string, by: readonly string[], expr: string): string {
  inStore(() => by.map(labelName));
  return by.length === 0 ? `${op}(${expr})` : `${op} by (${by.join(", ")}) (${expr})`;
}

/** `sum by (<by>) (increase(<selector>[<window>]))`. */
export function renderIncreaseQuery(
  query: Pick<IncreaseQuery, "metric" | "windowMs" | "by" | "match" | "oneOf">,
  extra: readonly string[] = [],
): string {
  return aggregate("sum", query.by, `increase(${selectorOf(query, extra)}[${renderDuration(query.windowMs)}])`);
}

/** The selector, or `<reduce> by (<by>) (<selector>)`. */
export function renderLatestQuery(query: LatestQuery, extra: readonly string[] = []): string {
  const selector = selectorOf(query, extra);
  return query.by === undefined ? selector : aggregate(query.reduce ?? "max", query.by, selector);
}

/** `<outer> by (<by>) (<fn>_over_time(<selector>[<window>]))`. */
export function renderOverTimeQuery(query: Omit<OverTimeQuery, "atMs">, extra: readonly string[] = []): string {
  const outer = query.fn === "max" || query.fn === "min" ? query.fn : "sum";
  return aggregate(
    outer,
    query.by,
    `${query.fn}_over_time(${selectorOf(query, extra)}[${renderDuration(query.windowMs)}])`,
  );
}

/** `count by (__name__) ({__name__=~"a|b"})`: which of the metrics have series now. */
export function renderPresenceQuery(metrics: readonly string[]): string {
  return inStore(
    () =>
      `count by (__name__) ({${matcher("__name__", "=~", metrics.map((metric) => escapeRegex(metricName(metric))).join("|"))}})`,
  );
}

/** Unix seconds with millisecond precision, as the API's `time`, `start` and `end` take them. */
export function renderTime(ms: number): string {
  const rounded = Math.round(ms);
  const seconds = Math.floor(rounded / 1000);
  return `${seconds}.${String(rounded - seconds * 1000).padStart(3, "0")}`;
}

/**
 * Classes of one character that partition every character: each digit alone, four runs of lower
 * case letters, upper case letters, and everything else. Digits alone because node names and GPU
 * UUIDs end in them most often.
 */
const CHARACTER_CLASSES: readonly string[] = [
  "0",
  "1",
  "2",
  "3",
  "4",
  "5",
  "6",
  "7",
  "8",
  "9",
  "[a-f]",
  "[g-m]",
  "[n-s]",
  "[t-z]",
  "[A-Z]",
  "[^0-9a-zA-Z]",
];

/**
 * A shard of a label's values: the values whose last characters fall in `suffix` (classes, last
 * character first). The shards of one depth, with the short values, partition every value.
 */
export interface Shard {
  readonly suffix: readonly string[];
  /** The values exactly as long as the suffix (no character before it). */
  readonly isExact: boolean;
}

/** The shards one level below `parent` (the root has an empty suffix): one per class, and the exact value of the parent's length. */
export function childShards(parent: Shard = { suffix: [], isExact: false }): Shard[] {
  if (parent.isExact) throw new Error("prometheus store: an exact shard cannot be split");
  return [
    { suffix: parent.suffix, isExact: true },
    ...CHARACTER_CLASSES.map((cls) => ({ suffix: [...parent.suffix, cls], isExact: false })),
  ];
}

/** The RE2 expression of a shard (anchored, as PromQL anchors label regexes). */
export function shardRegex(shard: Shard): string {
  const tail = [...shard.suffix].reverse().join("");
  return shard.isExact ? tail : `.*${tail}`;
}
