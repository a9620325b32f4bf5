import type { TimedValue } from "../fleet/utilization.js";

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
 * `sum by (<by>) (increase(<metric>{<match>}[<window>]))` evaluated at `atMs`: one call answers
 * every SLO that reads this metric over this window, which is how queries are batched per window
 * rather than per SLO.
 */
export interface IncreaseQuery {
  /** The sample name, e.g. `inferwatch_llm_request_duration_seconds_bucket`. */
  readonly metric: string;
  readonly windowMs: number;
  readonly atMs: number;
  /** Labels kept; every other label is summed away. */
  readonly by: readonly string[];
  readonly match?: LabelMatch;
}

/** Samples of gauge series in [startMs, endMs], aligned to `stepMs` as a range query is. */
export interface RangeQuery {
  readonly metric: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly stepMs: number;
  readonly match?: LabelMatch;
}

/** The value of each series at `atMs` (the latest sample no older than the staleness window). */
export interface LatestQuery {
  readonly metric: string;
  readonly atMs: number;
  readonly match?: LabelMatch;
}

/**
 * Where the analyzer reads telemetry. Prometheus (and Thanos, Mimir, VictoriaMetrics behind the same
 * API), the embedded memory store fed by the agents, and InfluxDB implement it; the contract test
 * feeds them one recorded scenario and requires the same answers. `increase` follows Prometheus's
 * semantics (counter resets, extrapolation to the window's edges) so that stores agree.
 */
export interface MetricStore {
  readonly kind: "prometheus" | "memory" | "influx";
  increase(query: IncreaseQuery): Promise<LabeledValue[]>;
  range(query: RangeQuery): Promise<LabeledSamples[]>;
  latest(query: LatestQuery): Promise<LabeledValue[]>;
  /** Queries answered since the store was created (the benchmark reports queries per evaluation). */
  readonly queryCount: number;
}
