/**
 * The request history idle eviction reads, fetched only where it is read. The hold-back asks, for
 * each of the last `lookbackDays` days, whether a model had requests in [now − k days, now − k days
 * + TTL), and scale-to-zero whether it had any in the last TTL (analyzer/recommend/idle-eviction.ts).
 * So instead of a week of every request counter (a range query whose answer grows with series ×
 * days), the store is asked for those windows only, per model, in 5-minute buckets: one small range
 * query of `sum by (model) (increase(requests[5m]))` per window, and one of the highest last-request
 * time per model, which catches a request whose counter series was born with it (a counter's first
 * value is no increase to Prometheus, and the agent starts a new series at the first request after
 * its idle TTL). Buckets outside the windows stay null (no evidence), as idle-history.ts defines.
 */
import { METRICS, OVERFLOW_MODEL } from "../../common/conventions.js";
import { DEFAULT_IDLE_HISTORY, type IdleHistory } from "../recommend/idle-history.js";
import type { IdleEvictionConfig } from "../../common/config/idle-eviction-config.js";
import type { MetricStore, QueryContext } from "../stores/metric-store.js";
import { DAY_MS } from "../../common/units.js";

/** The longest time-to-live any replica can get from the configuration. */
export function longestTtlMs(config: IdleEvictionConfig): number {
  const overrides = Object.values(config.models).flatMap((model) => (model.ttl === undefined ? [] : [model.ttl]));
  return Math.max(config.defaultTtl, ...Object.values(config.tierTtl), ...overrides);
}

/** Bucket index ranges [first, last] the idle decisions read, in a history of `buckets` buckets starting at startMs. */
export function historyWindows(
  atMs: number,
  config: IdleEvictionConfig,
  startMs: number,
  bucketMs: number,
  buckets: number,
): { first: number; last: number }[] {
  const ttlMs = longestTtlMs(config);
  const bucketOf = (ms: number) => Math.floor((ms - startMs) / bucketMs);
  const windows = [{ first: Math.max(0, bucketOf(atMs - ttlMs)), last: buckets - 1 }];
  for (let k = 1; k <= config.holdBack.lookbackDays; k++) {
    const fromMs = atMs - k * DAY_MS;
    const first = Math.max(0, bucketOf(fromMs));
    const last = Math.min(buckets - 1, Math.ceil((fromMs + ttlMs - startMs) / bucketMs) - 1);
    if (last >= first) windows.push({ first, last });
  }
  return windows;
}

/**
 * The idle history at `atMs` for `config`, in DEFAULT_IDLE_HISTORY's 5-minute buckets over
 * `lookbackDays` days, filled in the windows the decisions read (two range queries per window).
 * Throws what the store throws, with context.
 */
export async function loadIdleHistoryWindows(
  store: MetricStore,
  atMs: number,
  config: IdleEvictionConfig,
  context: QueryContext = {},
): Promise<IdleHistory> {
  const bucketMs = DEFAULT_IDLE_HISTORY.bucketMs;
  const days = Math.max(config.holdBack.lookbackDays, 1);
  const buckets = Math.ceil((days * DAY_MS) / bucketMs);
  const startMs = atMs - buckets * bucketMs;
  const requestsByModel: Record<string, (number | null)[]> = {};
  const bucketsOf = (model: string) => (requestsByModel[model] ??= new Array<number | null>(buckets).fill(null));
  const isModel = (model: string | undefined): model is string =>
    model !== undefined && model !== "" && model !== OVERFLOW_MODEL;
  try {
    await Promise.all(
      historyWindows(atMs, config, startMs, bucketMs, buckets).map(async ({ first, last }) => {
        // The point at a bucket's end holds the bucket: increase over the 5 minutes before it.
        const range = {
          startMs: startMs + (first + 1) * bucketMs,
          endMs: startMs + (last + 1) * bucketMs,
          stepMs: bucketMs,
          windowMs: bucketMs,
          by: ["model"],
        };
        const [increases, lastRequests] = await Promise.all([
          store.increaseRange({ metric: METRICS.llmRequests.name, ...range }, context),
          store.overTimeRange({ metric: METRICS.llmLastRequest.name, fn: "max", ...range }, context),
        ]);
        for (const row of increases) {
          const model = row.labels["model"];
          if (!isModel(model)) continue;
          const values = bucketsOf(model);
          for (const sample of row.samples) {
            const i = Math.round((sample.atMs - startMs) / bucketMs) - 1;
            if (i >= first && i <= last && Number.isFinite(sample.value))
              values[i] = Math.max(0, sample.value, values[i] ?? 0);
          }
        }
        for (const row of lastRequests) {
          const model = row.labels["model"];
          if (!isModel(model)) continue;
          const values = bucketsOf(model);
          for (const sample of row.samples) {
            // A last request inside the window: its bucket had at least that request.
            const i = Math.floor((sample.value * 1000 - startMs) / bucketMs);
            if (i >= first && i <= last) values[i] = Math.max(1, values[i] ?? 0);
          }
        }
      }),
    );
  } catch (cause) {
    throw new Error(`idle history: requests of the last ${days} days at this time of day`, { cause });
  }
  return { startMs, bucketMs, requestsByModel };
}
