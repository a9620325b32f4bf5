import { clampRatio, counterNames, firstPresent, hasPrefix, ModelTable, type Labels, type RuntimeGaugeProfile, type SampleIndex } from "../runtime-gauges.js";

/**
 * `finished_reason` values that mean the request did not complete: the LLM API's
 * CompletionOutput ends with stop, length, timeout or cancelled; abort and error are accepted too.
 */
const FAILED_REASONS: ReadonlySet<string> = new Set(["timeout", "cancelled", "abort", "error"]);

const model = (labels: Labels): string => labels["model_name"] ?? "";

/**
 * TensorRT-LLM's OpenAI server, trtllm-serve (`trtllm_` prefix, labels `model_name` and
 * `engine_type`; NVIDIA/TensorRT-LLM tensorrt_llm/metrics/collector.py `MetricsCollector`). The
 * iteration gauges appear only with iteration statistics enabled, the per-request counters only
 * with `return_perf_metrics`.
 *
 * - KV usage: `trtllm_kv_cache_utilization`, else used ÷ max blocks. Queue:
 *   `trtllm_num_requests_waiting`. Batch: `trtllm_num_requests_running` (active requests).
 * - Prefix cache in tokens: `trtllm_prompt_cached_tokens_total` over `trtllm_prompt_tokens_total`;
 *   else in blocks: `trtllm_kv_cache_reused_blocks_total` over reused + missed; else the
 *   `trtllm_kv_cache_hit_rate` gauge.
 * - Finished requests: `trtllm_request_success_total{finished_reason}` (timeout and cancelled as
 *   failed) plus `trtllm_request_error_total{http_code}` 5xx as failed (4xx are the client's).
 * - Tokens: `trtllm_prompt_tokens_total`, `trtllm_generation_tokens_total`. No preemption counter.
 */
export const trtllmProfile: RuntimeGaugeProfile = {
  runtime: "trtllm",
  families: "trtllm-serve",

  detects: (page: SampleIndex) => hasPrefix(page, "trtllm_"),

  read(page: SampleIndex) {
    const table = new ModelTable();
    const utilization = firstPresent(page, ["trtllm_kv_cache_utilization"]);
    for (const s of utilization) table.max(model(s.labels), "kvCacheUsage", clampRatio(s.value));
    if (utilization.length === 0) {
      const max = new Map(firstPresent(page, ["trtllm_kv_cache_max_blocks"]).map((s) => [model(s.labels), s.value]));
      for (const s of firstPresent(page, ["trtllm_kv_cache_used_blocks"])) {
        const total = max.get(model(s.labels));
        if (total !== undefined && total > 0) table.max(model(s.labels), "kvCacheUsage", clampRatio(s.value / total));
      }
    }
    for (const s of firstPresent(page, ["trtllm_num_requests_waiting"])) table.sum(model(s.labels), "queueDepth", s.value);
    for (const s of firstPresent(page, ["trtllm_num_requests_running"])) table.sum(model(s.labels), "batchSize", s.value);

    const prompt = firstPresent(page, counterNames("trtllm_prompt_tokens"));
    const cached = firstPresent(page, counterNames("trtllm_prompt_cached_tokens"));
    const reused = firstPresent(page, counterNames("trtllm_kv_cache_reused_blocks"));
    const missed = firstPresent(page, counterNames("trtllm_kv_cache_missed_blocks"));
    if (cached.length > 0 && prompt.length > 0) {
      for (const s of cached) table.sum(model(s.labels), "prefixCacheHits", s.value);
      for (const s of prompt) table.sum(model(s.labels), "prefixCacheQueries", s.value);
    } else if (reused.length > 0 && missed.length > 0) {
      for (const s of reused) {
        table.sum(model(s.labels), "prefixCacheHits", s.value);
        table.sum(model(s.labels), "prefixCacheQueries", s.value);
      }
      for (const s of missed) table.sum(model(s.labels), "prefixCacheQueries", s.value);
    } else {
      for (const s of firstPresent(page, ["trtllm_kv_cache_hit_rate"])) table.max(model(s.labels), "prefixCacheHitRatio", clampRatio(s.value));
    }

    for (const s of firstPresent(page, counterNames("trtllm_request_success"))) {
      table.sum(model(s.labels), FAILED_REASONS.has(s.labels["finished_reason"] ?? "") ? "requestsFailed" : "requestsOk", s.value);
    }
    for (const s of firstPresent(page, counterNames("trtllm_request_error"))) {
      if ((s.labels["http_code"] ?? "").startsWith("5")) table.sum(model(s.labels), "requestsFailed", s.value);
    }
    for (const s of prompt) table.sum(model(s.labels), "promptTokens", s.value);
    for (const s of firstPresent(page, counterNames("trtllm_generation_tokens"))) table.sum(model(s.labels), "completionTokens", s.value);
    return table.list();
  },
};
