import type { TimedValue } from "../fleet/utilization.js";
import type { QueryUsage } from "./query-usage.js";

/** Label values of one series. */
export type SeriesLabels = Readonly<Record<string, string>>;

/** One (aggregated) series' value. */
export interface LabeledValue {
  readonly labels: SeriesLabels;
  readonly value: number;
}

/** One series' samples, oldest first. */
export interface LabeledSamples {
  readonly labels: SeriesLabels;
  readonly samples: readonly TimedValue[];
}

/** Exact-match label filters. */
export type LabelMatch = Readonly<Record<string, string>>;

/**
 * Label filters by a set of values: the series' label value must be one of them (an `le` bound
 * written `2` by Prometheus 2 and `2.0` by Prometheus 3 is given as both).
 */
export type LabelOneOf = Readonly<Record<string, readonly string[]>>;

/** Which series a query reads: one metric name, exact label values, and label values from a set. */
export interface Selection {
  /** The sample name, e.g. `inferwatch_llm_request_duration_seconds_bucket`. */
  readonly metric: string;
  readonly match?: LabelMatch;
  readonly oneOf?: LabelOneOf;
}

/**
 * `sum by (<by>) (increase(<metric>{<match>}[<window>]))` evaluated at `atMs`: one call answers
 * every SLO that reads this metric over this window, which is how queries are batched per window
 * rather than per SLO.
 */
export interface IncreaseQuery extends Selection {
  readonly windowMs: number;
  readonly atMs: number;
  /** Labels kept; every other label is summed away. */
  readonly by: readonly string[];
}

/**
 * The same increase at several instants: startMs, startMs + stepMs, …, up to endMs (a range query
 * of `sum by (<by>) (increase(…[<window>]))`). With stepMs = windowMs the points tile the range,
 * each holding the increase of the window just before it.
 */
export interface IncreaseRangeQuery extends Selection {
  readonly windowMs: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly stepMs: number;
  readonly by: readonly string[];
}

/** Samples of gauge series in [startMs, endMs], aligned to `stepMs` as a range query is. */
export interface RangeQuery extends Selection {
  readonly startMs: number;
  readonly endMs: number;
  readonly stepMs: number;
}

/** How `latest` reduces the series of one group (PromQL aggregation operators). */
export type LatestReduce = "max" | "min" | "sum" | "count";

/**
 * The value of each series at `atMs` (the latest sample no older than the staleness window); with
 * `by`, reduced per group: `<reduce> by (<by>) (<selector>)`, so the answer has one row per group
 * and carries only the labels asked for (pod labels that change at every rollout stay in the store).
 */
export interface LatestQuery extends Selection {
  readonly atMs: number;
  readonly by?: readonly string[];
  /** Default `max`. */
  readonly reduce?: LatestReduce;
}

/** A function over each series' samples in a window, as PromQL's `<fn>_over_time`. */
export type OverTimeFunction = "sum" | "count" | "max" | "min";

/**
 * `<outer> by (<by>) (<fn>_over_time(<selector>[<window>]))` at `atMs`, the outer aggregation being
 * `sum` for sum and count, and the function itself for max and min. The analyzer reads its recorded
 * 5-minute increases with it (long SLO windows are the sum of the 5-minute increases they hold),
 * and time-weighted gauges: `sum` and `count` of a utilization family by (node, uuid) give each
 * GPU's mean over the window and how much of it was sampled, whichever pod's labels its series
 * carried (a rollout's series add up under the GPU's labels). The metric is a parameter, so any
 * activity family (busy time, SM or tensor activity) is aggregated the same way.
 */
export interface OverTimeQuery extends Selection {
  readonly fn: OverTimeFunction;
  readonly windowMs: number;
  readonly atMs: number;
  readonly by: readonly string[];
}

/** The same as OverTimeQuery at several instants: startMs, startMs + stepMs, …, up to endMs (a range query). */
export interface OverTimeRangeQuery extends Selection {
  readonly fn: OverTimeFunction;
  readonly windowMs: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly stepMs: number;
  readonly by: readonly string[];
}

/** What a caller passes with each query: a deadline and where the query's cost is accounted. */
export interface QueryContext {
  /** Aborts the query (the evaluation's deadline, shutdown). */
  readonly signal?: AbortSignal;
  /** Counts queries, bytes, retries and the server's warnings; enforces the evaluation's byte budget. */
  readonly usage?: QueryUsage;
  /**
   * A label whose values split the answer when it is too large to read at once (`uuid`, `node`):
   * the store may then ask in shards, each for the series whose label value ends in one class of
   * characters, and join the answers. Only for queries whose groups keep that label.
   */
  readonly shardBy?: string;
}

/**
 * Where the analyzer reads telemetry. Prometheus (and Thanos, Mimir, VictoriaMetrics behind the same
 * API), the embedded memory store fed by the agents, and InfluxDB implement it; the contract test
 * feeds them one recorded scenario and requires the same answers. `increase` follows Prometheus's
 * semantics (counter resets, extrapolation to the window's edges) so that stores agree.
 *
 * Every answer's size grows with what it describes (per model, per pool, per GPU now), never with
 * history length × series, except `range`, which the capacity report uses on purpose.
 */
export interface MetricStore {
  readonly kind: "prometheus" | "memory" | "influx";
  increase(query: IncreaseQuery, context?: QueryContext): Promise<LabeledValue[]>;
  increaseRange(query: IncreaseRangeQuery, context?: QueryContext): Promise<LabeledSamples[]>;
  range(query: RangeQuery, context?: QueryContext): Promise<LabeledSamples[]>;
  latest(query: LatestQuery, context?: QueryContext): Promise<LabeledValue[]>;
  overTime(query: OverTimeQuery, context?: QueryContext): Promise<LabeledValue[]>;
  overTimeRange(query: OverTimeRangeQuery, context?: QueryContext): Promise<LabeledSamples[]>;
  /** Which of `metrics` have at least one series with a sample at `atMs` (staleness window); recording rules are detected with it. */
  hasSeries(metrics: readonly string[], atMs: number, context?: QueryContext): Promise<ReadonlySet<string>>;
  /** Queries answered since the store was created (the benchmark reports queries per evaluation). */
  readonly queryCount: number;
}
