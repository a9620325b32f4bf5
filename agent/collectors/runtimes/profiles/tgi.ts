import { clampRatio, counterNames, firstPresent, hasPrefix, ModelTable, type RuntimeGaugeProfile, type SampleIndex } from "../runtime-gauges.js";

/**
 * `tgi_request_failure{err}` values that are the server's failure, not a bad request: the queue
 * was full, the stream ended early, the request was dropped or generation failed
 * (text-generation-inference router/src/infer/mod.rs, backends/v3/src/backend.rs). `validation`
 * and `template` (the client's input) count neither as ok nor as failed.
 */
const SERVER_FAILURES: ReadonlySet<string> = new Set(["overloaded", "incomplete", "dropped", "generation"]);

/**
 * Hugging Face TGI (`tgi_` prefix, no model label: one router serves one model, named by the
 * target's configuration or pod; metrics-exporter-prometheus writes counters without `_total`).
 * Queue depth is `tgi_queue_size`, batch size `tgi_batch_current_size`. KV usage is the running
 * batch's token reservation over the token budget of the KV cache,
 * `tgi_batch_current_max_tokens / tgi_batch_max_total_tokens`, reported only by routers that
 * expose the budget (v3 backend). Finished requests: `tgi_request_success` and the server-side
 * `tgi_request_failure` reasons; tokens from the `_sum` of the `tgi_request_input_length` and
 * `tgi_request_generated_tokens` histograms. TGI has no prefix-cache or preemption counters
 * (text-generation-inference router/src/server.rs).
 */
export const tgiProfile: RuntimeGaugeProfile = {
  runtime: "tgi",
  families: "tgi",

  detects: (page: SampleIndex) => hasPrefix(page, "tgi_"),

  read(page: SampleIndex) {
    const table = new ModelTable();
    const single = (names: readonly string[]): number | undefined => {
      const samples = firstPresent(page, names);
      return samples.length === 0 ? undefined : samples.reduce((sum, s) => sum + s.value, 0);
    };
    const queue = single(["tgi_queue_size"]);
    const batch = single(["tgi_batch_current_size"]);
    const tokens = single(["tgi_batch_current_max_tokens"]);
    const budget = single(["tgi_batch_max_total_tokens"]);
    if (queue !== undefined) table.sum("", "queueDepth", queue);
    if (batch !== undefined) table.sum("", "batchSize", batch);
    if (tokens !== undefined && budget !== undefined && budget > 0) table.max("", "kvCacheUsage", clampRatio(tokens / budget));
    const ok = single(counterNames("tgi_request_success"));
    if (ok !== undefined) table.sum("", "requestsOk", ok);
    for (const s of firstPresent(page, counterNames("tgi_request_failure"))) {
      if (SERVER_FAILURES.has(s.labels["err"] ?? "")) table.sum("", "requestsFailed", s.value);
    }
    const prompt = single(["tgi_request_input_length_sum"]);
    const completion = single(["tgi_request_generated_tokens_sum"]);
    if (prompt !== undefined) table.sum("", "promptTokens", prompt);
    if (completion !== undefined) table.sum("", "completionTokens", completion);
    return table.list();
  },
};
