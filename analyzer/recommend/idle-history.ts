/**
 * Request history for idle eviction: requests per model per time bucket over the last days, the
 * input that lets the recommender hold back an eviction when traffic comes back at this time of day.
 *
 * Units: milliseconds since the Unix epoch for instants, milliseconds for durations, requests
 * (counter increments, ok and error alike) for bucket values.
 */
import { z } from "zod";
import { METRICS, OVERFLOW_MODEL } from "../../common/conventions.js";
import type { TimedValue } from "../fleet/utilization.js";
import type { LabeledSamples, MetricStore } from "../stores/metric-store.js";
import { DAY_MS } from "../../common/units.js";

/**
 * Seven days of five-minute buckets: a week covers weekday and weekend patterns (the hold-back looks
 * at the last 7 days), and 5 minutes is the memory store's coarsest step (30-day tier), short next to
 * the agent's 1-hour request-series TTL, so a burst whose series the agent expires is still seen at a
 * bucket edge. 2,016 points per series, under Prometheus's 11,000-point limit.
 */
export const DEFAULT_IDLE_HISTORY = { days: 7, bucketMs: 5 * 60_000 } as const;

/**
 * Requests per model per bucket. Bucket i covers [startMs + i·bucketMs, startMs + (i+1)·bucketMs);
 * a bucket is null when no series of the model had data around it (no evidence either way), 0 when
 * the model's counters were seen and did not move.
 */
export interface IdleHistory {
  readonly startMs: number;
  readonly bucketMs: number;
  readonly requestsByModel: Readonly<Record<string, readonly (number | null)[]>>;
}

/** Validates a history read from a file or an API body (the shape of IdleHistory). */
export const idleHistorySchema = z.strictObject({
  startMs: z.number().int().nonnegative(),
  bucketMs: z.number().int().positive(),
  requestsByModel: z.record(z.string().min(1), z.array(z.number().nonnegative().nullable())),
});

/**
 * Requests of `model` in the buckets that overlap [fromMs, toMs); null when the model has no history
 * there or none of those buckets has data. Whole buckets count, so a coarse bucket widens the window.
 */
export function historyRequestsBetween(
  history: IdleHistory,
  model: string,
  fromMs: number,
  toMs: number,
): number | null {
  const buckets = history.requestsByModel[model];
  if (buckets === undefined || !(toMs > fromMs)) return null;
  const first = Math.max(0, Math.floor((fromMs - history.startMs) / history.bucketMs));
  const last = Math.min(buckets.length - 1, Math.ceil((toMs - history.startMs) / history.bucketMs) - 1);
  let total: number | null = null;
  for (let i = first; i <= last; i++) {
    const value = buckets[i];
    if (value !== null && value !== undefined) total = (total ?? 0) + value;
  }
  return total;
}

/**
 * The increase of one counter series per bucket, from its values at the bucket edges (a range query
 * with step = bucketMs, so point i sits at startMs + i·bucketMs). A drop is a reset to zero, so the
 * later value is the increase (Prometheus's rule). A series that appears after the first edge was
 * born in the bucket before (the agent creates a request series at its first request, and again
 * after expiring it for idleness), so its first value counts there; a gap carries the last value
 * seen across and puts the whole change in the bucket where the series comes back, leaving the
 * buckets of the gap null. Returns `buckets` entries.
 */
export function counterBuckets(
  samples: readonly TimedValue[],
  startMs: number,
  bucketMs: number,
  buckets: number,
): (number | null)[] {
  const atEdge = new Map<number, number>();
  for (const sample of samples) {
    const edge = Math.round((sample.atMs - startMs) / bucketMs);
    if (edge >= 0 && edge <= buckets && !Number.isNaN(sample.value)) atEdge.set(edge, sample.value);
  }
  const result: (number | null)[] = new Array<number | null>(buckets).fill(null);
  let lastSeen: number | undefined = atEdge.get(0);
  for (let edge = 1; edge <= buckets; edge++) {
    const value = atEdge.get(edge);
    if (value === undefined) continue;
    const previous = lastSeen ?? 0;
    result[edge - 1] = value >= previous ? value - previous : value;
    lastSeen = value;
  }
  return result;
}

/** Sums per-bucket increases by model; a bucket stays null only when every series of the model is null there. */
export function requestsByModel(
  rows: readonly LabeledSamples[],
  startMs: number,
  bucketMs: number,
  buckets: number,
): Record<string, (number | null)[]> {
  const byModel: Record<string, (number | null)[]> = {};
  for (const row of rows) {
    const model = row.labels["model"];
    if (model === undefined || model === "" || model === OVERFLOW_MODEL) continue;
    const sums = (byModel[model] ??= new Array<number | null>(buckets).fill(null));
    counterBuckets(row.samples, startMs, bucketMs, buckets).forEach((value, i) => {
      if (value !== null) sums[i] = (sums[i] ?? 0) + value;
    });
  }
  return byModel;
}

/**
 * The request history of every model over the `days` before `atMs`, in buckets of `bucketMs`
 * aligned so that the last bucket ends at `atMs` (with a bucket that divides a day, the buckets of
 * each earlier day line up with the same time of day). One range query of
 * `inferwatch_llm_requests_total` at step `bucketMs` answers every model at once; the per-bucket
 * increase is the difference of consecutive points, with reset handling (counterBuckets), summed
 * over the model's series (pods, nodes, status). A series that lives less than a bucket past its
 * last request can fall between two edges, so keep buckets shorter than the agent's series TTL
 * (DEFAULT_IDLE_HISTORY). Prometheus answers at most 11,000 points per series, so keep
 * days·day/bucketMs under that (7 days of 1-minute buckets is 10,080).
 * Throws what the store throws, with context.
 */
export async function loadIdleHistory(
  store: MetricStore,
  atMs: number,
  days: number,
  bucketMs: number,
): Promise<IdleHistory> {
  if (!(bucketMs > 0) || !(days > 0))
    throw new RangeError(`idle history: days and bucketMs must be positive, got ${days} and ${bucketMs}`);
  const buckets = Math.ceil((days * DAY_MS) / bucketMs);
  const startMs = atMs - buckets * bucketMs;
  let rows: LabeledSamples[];
  try {
    rows = await store.range({ metric: METRICS.llmRequests.name, startMs, endMs: atMs, stepMs: bucketMs });
  } catch (cause) {
    throw new Error(`idle history: range of ${METRICS.llmRequests.name} over ${days} days`, { cause });
  }
  return { startMs, bucketMs, requestsByModel: requestsByModel(rows, startMs, bucketMs, buckets) };
}
