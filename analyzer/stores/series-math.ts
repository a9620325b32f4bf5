/**
 * PromQL's semantics over samples held in the process, shared by the memory store and the InfluxDB
 * store (which reads raw samples and computes here), so that both answer as the Prometheus store
 * does: selection by label, the lookback (staleness) window of instant selectors, `<fn>_over_time`
 * over a range, and aggregation `by` labels (prometheus/prometheus promql/engine.go:
 * vectorSelectorSingle, matrixIterSlice).
 *
 * `windowStart` says whether a sample exactly at a window's start (or exactly one lookback old)
 * belongs to it: Prometheus 2.x "inclusive", 3.x "exclusive".
 */
import type { TimedValue } from "../fleet/utilization.js";
import type {
  LabelMatch,
  LabelOneOf,
  LabeledValue,
  LatestReduce,
  OverTimeFunction,
  SeriesLabels,
} from "./metric-store.js";

export type WindowStart = "inclusive" | "exclusive";

/** A series as the in-process stores hold it: labels and samples, oldest first. */
export interface HeldSeries {
  readonly labels: SeriesLabels;
  readonly samples: readonly TimedValue[];
}

/** A stable key of a label set (names sorted). */
export function labelKey(labels: SeriesLabels): string {
  let key = "";
  for (const name of Object.keys(labels).sort()) key += `\u0000${name}\u0001${labels[name] as string}`;
  return key;
}

/** Rows sorted by their label key, as every store returns them. */
export function sortedByLabels<T extends { readonly labels: SeriesLabels }>(rows: T[]): T[] {
  const keyed = rows.map((row) => ({ row, key: labelKey(row.labels) }));
  return keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map(({ row }) => row);
}

/** Whether a series matches exact filters and value sets; an empty filter value also matches a series without the label (PromQL). */
export function matchesSelection(
  labels: SeriesLabels,
  match: LabelMatch | undefined,
  oneOf: LabelOneOf | undefined,
): boolean {
  if (match !== undefined)
    for (const [name, value] of Object.entries(match)) if ((labels[name] ?? "") !== value) return false;
  if (oneOf !== undefined)
    for (const [name, values] of Object.entries(oneOf)) if (!values.includes(labels[name] ?? "")) return false;
  return true;
}

/** The labels of `by` a series has; PromQL drops empty values from results. */
export function keptLabels(labels: SeriesLabels, by: readonly string[]): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of by) if (labels[name] !== undefined && labels[name] !== "") kept[name] = labels[name];
  return kept;
}

/** Whether a sample `ageMs` old is still visible to an instant selector. */
export function isFresh(ageMs: number, lookbackMs: number, windowStart: WindowStart): boolean {
  return ageMs >= 0 && (windowStart === "inclusive" ? ageMs <= lookbackMs : ageMs < lookbackMs);
}

/** The index of the last sample at or before `atMs`, -1 when none (samples oldest first). */
function lastAtOrBefore(samples: readonly TimedValue[], atMs: number): number {
  let low = 0;
  let high = samples.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if ((samples[mid] as TimedValue).atMs <= atMs) low = mid + 1;
    else high = mid;
  }
  return low - 1;
}

/** The value an instant selector sees at `atMs`: the latest sample no older than the lookback; undefined when none. */
export function valueAt(
  samples: readonly TimedValue[],
  atMs: number,
  lookbackMs: number,
  windowStart: WindowStart,
): number | undefined {
  const index = lastAtOrBefore(samples, atMs);
  const sample = samples[index];
  return sample !== undefined && isFresh(atMs - sample.atMs, lookbackMs, windowStart) ? sample.value : undefined;
}

/** Samples of a range selector `[w]` at `atMs`: times in [atMs − w, atMs] (inclusive) or (atMs − w, atMs]. */
export function inWindow(
  samples: readonly TimedValue[],
  atMs: number,
  windowMs: number,
  windowStart: WindowStart,
): TimedValue[] {
  const startMs = atMs - windowMs;
  return samples.filter((s) => (windowStart === "inclusive" ? s.atMs >= startMs : s.atMs > startMs) && s.atMs <= atMs);
}

/** `<fn>_over_time` of one series' window samples; undefined for an empty window (PromQL returns nothing). */
export function overTimeOf(samples: readonly TimedValue[], fn: OverTimeFunction): number | undefined {
  if (samples.length === 0) return undefined;
  let result = fn === "max" ? -Infinity : fn === "min" ? Infinity : 0;
  for (const { value } of samples) {
    if (fn === "sum") result += value;
    else if (fn === "count") result += 1;
    else if (fn === "max") result = Number.isNaN(result) || value > result ? value : result;
    else result = Number.isNaN(result) || value < result ? value : result;
  }
  return result;
}

/** The aggregation of a group's values; NaN only when every value is NaN (PromQL's max and min). */
function reduceValues(values: readonly number[], reduce: LatestReduce): number {
  if (reduce === "count") return values.length;
  if (reduce === "sum") return values.reduce((sum, v) => sum + v, 0);
  let result = NaN;
  for (const value of values) {
    if (Number.isNaN(result) || (reduce === "max" ? value > result : value < result)) result = value;
  }
  return result;
}

/** `<reduce> by (<by>) (rows)`, rows sorted by labels. */
export function aggregateBy(
  rows: readonly LabeledValue[],
  by: readonly string[],
  reduce: LatestReduce,
): LabeledValue[] {
  const groups = new Map<string, { labels: Record<string, string>; values: number[] }>();
  for (const row of rows) {
    const labels = keptLabels(row.labels, by);
    const key = labelKey(labels);
    const group = groups.get(key);
    if (group) group.values.push(row.value);
    else groups.set(key, { labels, values: [row.value] });
  }
  return sortedByLabels(
    [...groups.values()].map((group) => ({ labels: group.labels, value: reduceValues(group.values, reduce) })),
  );
}

/** How `<outer> by (…) (<fn>_over_time(…))` combines series: sums for sum and count, the function itself for max and min. */
export function outerOf(fn: OverTimeFunction): LatestReduce {
  return fn === "max" || fn === "min" ? fn : "sum";
}

/** The evaluation instants of a query from startMs to endMs by stepMs (one when they are equal). */
export function instants(startMs: number, endMs: number, stepMs: number): number[] {
  if (startMs === endMs) return [startMs];
  if (!(stepMs > 0) || endMs < startMs)
    throw new RangeError(
      `store: evaluation instants need startMs ≤ endMs and a positive step, got ${startMs}, ${endMs}, ${stepMs}`,
    );
  const times: number[] = [];
  for (let t = startMs; t <= endMs; t += stepMs) times.push(t);
  return times;
}

/** Instant answers at several times, regrouped as one series per label set (a range query's answer). */
export function pointsByGroup(
  answers: readonly { readonly atMs: number; readonly rows: readonly LabeledValue[] }[],
): HeldSeries[] {
  const groups = new Map<string, { labels: SeriesLabels; samples: TimedValue[] }>();
  for (const { atMs, rows } of answers) {
    for (const row of rows) {
      const key = labelKey(row.labels);
      let group = groups.get(key);
      if (group === undefined) groups.set(key, (group = { labels: row.labels, samples: [] }));
      group.samples.push({ atMs, value: row.value });
    }
  }
  return sortedByLabels([...groups.values()]);
}
