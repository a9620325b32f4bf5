import { clampRatio, counterNames, firstPresent, hasPrefix, ModelTable, type Labels, type RuntimeGaugeProfile, type SampleIndex } from "../runtime-gauges.js";

/** vLLM's FinishReason values that mean the request failed (vllm/v1/engine/__init__.py FINISH_REASON_STRINGS: stop, length, abort, error, repetition). */
const FAILED_REASONS: ReadonlySet<string> = new Set(["abort", "error"]);

/**
 * vLLM (`vllm:` prefix). A vLLM server labels its engine metrics `model_name` (the served model
 * name) and `engine` (vllm/v1/metrics/loggers.py, `labelnames = ["model_name", "engine"]`);
 * Triton's vLLM backend exports a few `vllm:` families under Triton's own `model` and `version`
 * (triton-inference-server/vllm_backend src/utils/metrics.py), so the model is `model_name`, else
 * `model`. Engines and versions of one model fold together: counts add up, KV usage is the highest.
 *
 * - KV usage: `vllm:kv_cache_usage_perc` (since 0.9.2), else `vllm:gpu_cache_usage_perc` (a fraction despite the name).
 * - Queue: `vllm:num_requests_waiting_by_reason{reason="capacity"}` where the page has that family
 *   (requests deferred for a KV transfer or a LoRA slot wait on something else than capacity),
 *   else `vllm:num_requests_waiting`. Batch: `vllm:num_requests_running`.
 * - Prefix cache: the `vllm:prefix_cache_{queries,hits}` counters (`vllm:gpu_prefix_cache_*` before
 *   0.9); V0's `vllm:gpu_prefix_cache_hit_rate` gauge where no counters exist (−1 means off: no value).
 * - Finished requests: `vllm:request_success_total{finished_reason}`; abort and error are failures.
 * - Tokens: `vllm:prompt_tokens_total`, `vllm:generation_tokens_total`. Preemptions: `vllm:num_preemptions_total`.
 */
export const vllmProfile: RuntimeGaugeProfile = {
  runtime: "vllm",
  families: "vllm",

  detects: (page: SampleIndex) => hasPrefix(page, "vllm:"),

  read(page: SampleIndex) {
    const table = new ModelTable();
    const model = (labels: Labels): string => labels["model_name"] ?? labels["model"] ?? "";
    for (const s of firstPresent(page, ["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"])) table.max(model(s.labels), "kvCacheUsage", clampRatio(s.value));
    const queries = firstPresent(page, [...counterNames("vllm:prefix_cache_queries"), ...counterNames("vllm:gpu_prefix_cache_queries")]);
    for (const s of queries) table.sum(model(s.labels), "prefixCacheQueries", s.value);
    for (const s of firstPresent(page, [...counterNames("vllm:prefix_cache_hits"), ...counterNames("vllm:gpu_prefix_cache_hits")])) table.sum(model(s.labels), "prefixCacheHits", s.value);
    if (queries.length === 0) {
      for (const s of firstPresent(page, ["vllm:gpu_prefix_cache_hit_rate"])) if (s.value >= 0) table.max(model(s.labels), "prefixCacheHitRatio", clampRatio(s.value));
    }
    const byReason = firstPresent(page, ["vllm:num_requests_waiting_by_reason"]);
    if (byReason.length > 0) {
      for (const s of byReason) if (s.labels["reason"] === "capacity") table.sum(model(s.labels), "queueDepth", s.value);
    } else {
      for (const s of firstPresent(page, ["vllm:num_requests_waiting"])) table.sum(model(s.labels), "queueDepth", s.value);
    }
    for (const s of firstPresent(page, ["vllm:num_requests_running"])) table.sum(model(s.labels), "batchSize", s.value);
    for (const s of firstPresent(page, counterNames("vllm:num_preemptions"))) table.sum(model(s.labels), "preemptions", s.value);
    for (const s of firstPresent(page, counterNames("vllm:request_success"))) {
      table.sum(model(s.labels), FAILED_REASONS.has(s.labels["finished_reason"] ?? "") ? "requestsFailed" : "requestsOk", s.value);
    }
    for (const s of firstPresent(page, counterNames("vllm:prompt_tokens"))) table.sum(model(s.labels), "promptTokens", s.value);
    for (const s of firstPresent(page, counterNames("vllm:generation_tokens"))) table.sum(model(s.labels), "completionTokens", s.value);
    return table.list();
  },
};
