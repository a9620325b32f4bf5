import { clampRatio, counterNames, firstPresent, ModelTable, type RuntimeGaugeProfile, type SampleIndex } from "../runtime-gauges.js";

/**
 * vLLM (`vllm:` prefix, labels `model_name` and `engine`). Version differences: KV usage is
 * `vllm:kv_cache_usage_perc` since 0.9.2 and `vllm:gpu_cache_usage_perc` before (a fraction 0..1
 * despite the name); the prefix-cache counters were `vllm:gpu_prefix_cache_{queries,hits}` before
 * 0.9. Counters carry `_total` in the exposition (prometheus_client). Engines of one model (data
 * parallel) fold together: counts add up, KV usage is the highest engine's.
 * Source: vllm-project/vllm `vllm/v1/metrics/loggers.py`.
 */
export const vllmProfile: RuntimeGaugeProfile = {
  runtime: "vllm",

  detects(page: SampleIndex): boolean {
    for (const name of page.keys()) if (name.startsWith("vllm:")) return true;
    return false;
  },

  read(page: SampleIndex) {
    const table = new ModelTable();
    const model = (labels: Readonly<Record<string, string>>): string => labels["model_name"] ?? "";
    for (const s of firstPresent(page, ["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"])) table.max(model(s.labels), "kvCacheUsage", clampRatio(s.value));
    for (const s of firstPresent(page, [...counterNames("vllm:prefix_cache_queries"), ...counterNames("vllm:gpu_prefix_cache_queries")])) table.sum(model(s.labels), "prefixCacheQueries", s.value);
    for (const s of firstPresent(page, [...counterNames("vllm:prefix_cache_hits"), ...counterNames("vllm:gpu_prefix_cache_hits")])) table.sum(model(s.labels), "prefixCacheHits", s.value);
    for (const s of firstPresent(page, ["vllm:num_requests_waiting"])) table.sum(model(s.labels), "queueDepth", s.value);
    for (const s of firstPresent(page, ["vllm:num_requests_running"])) table.sum(model(s.labels), "batchSize", s.value);
    for (const s of firstPresent(page, counterNames("vllm:num_preemptions"))) table.sum(model(s.labels), "preemptions", s.value);
    return table.list();
  },
};
