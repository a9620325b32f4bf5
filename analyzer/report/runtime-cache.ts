import { METRICS } from "../../common/conventions.js";
import type { MetricStore } from "../stores/metric-store.js";
import type { ModelRuntimeCache } from "./report-model.js";
import type { TimeGrid } from "./time-grid.js";

interface Accumulator {
  kvSum: number;
  kvSamples: number;
  kvPeak: number | null;
  kvPeakAtMs: number;
  hits: number | null;
  queries: number | null;
  preemptions: number | null;
}

/**
 * KV-cache usage, prefix-cache hit ratio and preemptions per model over the window, from the runtime
 * gauges the agents scrape. KV usage: the mean over every sample of the model's
 * `inferwatch_llm_kv_cache_usage_ratio` series on the grid (each replica weighs by its time in the
 * window; steps are equally long) and the highest sample. Hit ratio: increase(hits) ÷
 * increase(queries) over the whole window, not a mean of per-scrape ratios, so busy hours weigh by
 * their traffic; preemptions: increase() of their counter (resets included). Four store queries.
 * A model appears when any of the series exists for it; none at all: an empty list.
 */
export async function computeRuntimeCache(store: MetricStore, grid: TimeGrid): Promise<ModelRuntimeCache[]> {
  const windowMs = grid.endMs - grid.startMs;
  const increase = (metric: string) => store.increase({ metric, windowMs, atMs: grid.endMs, by: ["model"] });
  const [kvRange, hits, queries, preemptions] = await Promise.all([
    store.range({
      metric: METRICS.llmKvCacheUsage.name,
      startMs: grid.startMs,
      endMs: grid.endMs,
      stepMs: grid.stepMs,
    }),
    increase(METRICS.llmPrefixCacheHits.name),
    increase(METRICS.llmPrefixCacheQueries.name),
    increase(METRICS.llmPreemptions.name),
  ]);
  const models = new Map<string, Accumulator>();
  const of = (model: string | undefined): Accumulator => {
    const name = model ?? "";
    let acc = models.get(name);
    if (!acc)
      models.set(
        name,
        (acc = { kvSum: 0, kvSamples: 0, kvPeak: null, kvPeakAtMs: 0, hits: null, queries: null, preemptions: null }),
      );
    return acc;
  };
  for (const series of kvRange) {
    const acc = of(series.labels["model"]);
    for (const sample of series.samples) {
      if (!Number.isFinite(sample.value) || sample.atMs < grid.startMs || sample.atMs > grid.endMs) continue;
      acc.kvSum += sample.value;
      acc.kvSamples++;
      if (acc.kvPeak === null || sample.value > acc.kvPeak) {
        acc.kvPeak = sample.value;
        acc.kvPeakAtMs = sample.atMs;
      }
    }
  }
  const add = (
    rows: readonly { readonly labels: Readonly<Record<string, string>>; readonly value: number }[],
    field: "hits" | "queries" | "preemptions",
  ) => {
    for (const row of rows) {
      if (!Number.isFinite(row.value)) continue;
      const acc = of(row.labels["model"]);
      acc[field] = (acc[field] ?? 0) + row.value;
    }
  };
  add(hits, "hits");
  add(queries, "queries");
  add(preemptions, "preemptions");
  return [...models.entries()]
    .map(([model, acc]): ModelRuntimeCache => ({
      model,
      kvCacheUsageMean: acc.kvSamples > 0 ? acc.kvSum / acc.kvSamples : null,
      kvCacheUsagePeak: acc.kvPeak,
      kvCacheUsagePeakAt: acc.kvPeak === null ? null : new Date(acc.kvPeakAtMs).toISOString(),
      prefixCacheHitRatio: acc.queries !== null && acc.queries > 0 ? Math.min(1, (acc.hits ?? 0) / acc.queries) : null,
      prefixCacheQueries: acc.queries,
      preemptions: acc.preemptions,
    }))
    .sort((a, b) => a.model.localeCompare(b.model));
}
