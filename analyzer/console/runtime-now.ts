/**
 * The inference runtimes' own gauges per model, as the agents scrape them from the runtimes'
 * /metrics (vLLM, TGI, Triton/TensorRT-LLM): KV-cache usage, requests waiting and running, the
 * prefix-cache hit ratio and preemptions. Six store queries at the evaluation's instant.
 */
import { METRICS } from "../../common/conventions.js";
import type { LabeledValue, MetricStore } from "../stores/metric-store.js";
import { HOUR_MS } from "../../common/units.js";

/** The prefix-cache hit ratio is counted over this window (hits and queries as counters, not a mean of ratios). */
export const PREFIX_CACHE_WINDOW_MS = 15 * 60_000;
/** Preemptions are counted over the last hour. */
export const PREEMPTION_WINDOW_MS = HOUR_MS;

/** One model's runtime gauges now. Nulls where no replica reports the figure. */
export interface RuntimeModelNow {
  readonly model: string;
  /** The runtimes serving it (`vllm`, `tgi`, `triton`, …), sorted. */
  readonly runtimes: readonly string[];
  /** Replicas (pods) reporting any gauge. */
  readonly replicas: number;
  /** Highest KV-cache usage of its replicas, 0..1. */
  readonly kvCacheUsageMax: number | null;
  /** Mean KV-cache usage over its replicas, 0..1. */
  readonly kvCacheUsageMean: number | null;
  /** Requests waiting in its replicas' queues, summed. */
  readonly queueDepth: number | null;
  /** Requests in its replicas' running batches, summed. */
  readonly batchSize: number | null;
  /** increase(hits) ÷ increase(queries) over {@link PREFIX_CACHE_WINDOW_MS}; null without queries. */
  readonly prefixCacheHitRatio: number | null;
  /** increase(preemptions) over {@link PREEMPTION_WINDOW_MS}; null when no replica reports the counter. */
  readonly preemptions: number | null;
}

interface Accumulator {
  runtimes: Set<string>;
  pods: Set<string>;
  kv: number[];
  queue: number | null;
  batch: number | null;
  hits: number;
  queries: number;
  preemptions: number | null;
}

const add = (total: number | null, value: number): number => (total ?? 0) + value;

/** Every model's runtime gauges at `atMs`, sorted by model; empty when no agent scrapes a runtime. */
export async function runtimeNow(store: MetricStore, atMs: number): Promise<RuntimeModelNow[]> {
  const byModel = ["model"];
  const [kv, queue, batch, hits, queries, preemptions] = await Promise.all([
    store.latest({ metric: METRICS.llmKvCacheUsage.name, atMs }),
    store.latest({ metric: METRICS.llmQueueDepth.name, atMs }),
    store.latest({ metric: METRICS.llmBatchSize.name, atMs }),
    store.increase({ metric: METRICS.llmPrefixCacheHits.name, windowMs: PREFIX_CACHE_WINDOW_MS, atMs, by: byModel }),
    store.increase({ metric: METRICS.llmPrefixCacheQueries.name, windowMs: PREFIX_CACHE_WINDOW_MS, atMs, by: byModel }),
    store.increase({ metric: METRICS.llmPreemptions.name, windowMs: PREEMPTION_WINDOW_MS, atMs, by: byModel }),
  ]);
  const models = new Map<string, Accumulator>();
  const of = (value: LabeledValue): Accumulator => {
    const model = value.labels["model"] ?? "";
    let acc = models.get(model);
    if (!acc)
      models.set(
        model,
        (acc = {
          runtimes: new Set(),
          pods: new Set(),
          kv: [],
          queue: null,
          batch: null,
          hits: 0,
          queries: 0,
          preemptions: null,
        }),
      );
    return acc;
  };
  const seen = (value: LabeledValue): Accumulator => {
    const acc = of(value);
    const runtime = value.labels["runtime"];
    if (runtime !== undefined && runtime !== "") acc.runtimes.add(runtime);
    acc.pods.add(`${value.labels["namespace"] ?? ""}/${value.labels["pod"] ?? ""}/${value.labels["node"] ?? ""}`);
    return acc;
  };
  for (const value of kv) seen(value).kv.push(value.value);
  for (const value of queue) {
    const acc = seen(value);
    acc.queue = add(acc.queue, value.value);
  }
  for (const value of batch) {
    const acc = seen(value);
    acc.batch = add(acc.batch, value.value);
  }
  for (const value of hits) of(value).hits += value.value;
  for (const value of queries) of(value).queries += value.value;
  for (const value of preemptions) {
    const acc = of(value);
    acc.preemptions = add(acc.preemptions, value.value);
  }
  return [...models]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([model, acc]) => ({
      model,
      runtimes: [...acc.runtimes].sort(),
      replicas: acc.pods.size,
      kvCacheUsageMax: acc.kv.length === 0 ? null : Math.max(...acc.kv),
      kvCacheUsageMean: acc.kv.length === 0 ? null : acc.kv.reduce((sum, v) => sum + v, 0) / acc.kv.length,
      queueDepth: acc.queue,
      batchSize: acc.batch,
      prefixCacheHitRatio: acc.queries > 0 ? Math.min(acc.hits / acc.queries, 1) : null,
      preemptions: acc.preemptions,
    }));
}
