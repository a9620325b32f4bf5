import type { ExpositionSample } from "../../../../common/exposition.js";
import { clampRatio, counterNames, firstPresent, hasPrefix, ModelTable, sumOverReplicas, type GaugeField, type Labels, type RuntimeGaugeProfile, type SampleIndex } from "../runtime-gauges.js";

/**
 * Labels under which SGLang's scheduler processes report the same batch once per rank: every
 * tensor-, pipeline- and expert-parallel rank of one data-parallel group runs the same requests.
 */
const REPLICA_LABELS: ReadonlySet<string> = new Set(["tp_rank", "pp_rank", "moe_ep_rank", "attn_tp_rank"]);

const model = (labels: Labels): string => labels["model_name"] ?? "";

/**
 * SGLang (`sglang:` prefix; sgl-project/sglang python/sglang/srt/metrics/collector.py). Scheduler
 * gauges carry `model_name` plus `tp_rank`, `pp_rank`, `moe_ep_rank` and `engine_type` (and
 * `dp_rank` with data parallelism); tokenizer counters carry `model_name`. Ranks that replicate one
 * batch count once (the highest), data-parallel ranks and engine types add up; KV usage is the
 * highest of all.
 *
 * - KV usage: `sglang:token_usage` (0..1). Queue: `sglang:num_queue_reqs`. Batch: `sglang:num_running_reqs`.
 * - Prefix cache in tokens: `sglang:cached_tokens_total` over `sglang:prompt_tokens_total`; the
 *   `sglang:cache_hit_rate` gauge only where those counters are missing (the scheduler rewrites it
 *   on every prefill and decode report, so it is a last-batch figure).
 * - Preemptions: `sglang:num_retracted_requests_total` (newer releases; the older
 *   `sglang:num_retracted_reqs` gauge counts the last batch only and is not read).
 * - Finished requests: `sglang:num_requests_total` as ok, `sglang:num_aborted_requests_total`
 *   (client or API aborts, tokenizer_manager `abort_request`) as failed.
 * - Tokens: `sglang:prompt_tokens_total`, `sglang:generation_tokens_total`.
 */
export const sglangProfile: RuntimeGaugeProfile = {
  runtime: "sglang",
  families: "sglang",

  detects: (page: SampleIndex) => hasPrefix(page, "sglang:"),

  read(page: SampleIndex) {
    const table = new ModelTable();
    const add = (samples: readonly ExpositionSample[], field: GaugeField): void => {
      for (const [name, value] of sumOverReplicas(samples, model, REPLICA_LABELS)) table.sum(name, field, value);
    };
    for (const s of firstPresent(page, ["sglang:token_usage"])) table.max(model(s.labels), "kvCacheUsage", clampRatio(s.value));
    add(firstPresent(page, ["sglang:num_queue_reqs"]), "queueDepth");
    add(firstPresent(page, ["sglang:num_running_reqs"]), "batchSize");
    const cached = firstPresent(page, counterNames("sglang:cached_tokens"));
    const prompt = firstPresent(page, counterNames("sglang:prompt_tokens"));
    if (cached.length > 0 && prompt.length > 0) {
      add(cached, "prefixCacheHits");
      add(prompt, "prefixCacheQueries");
    } else {
      for (const s of firstPresent(page, ["sglang:cache_hit_rate"])) table.max(model(s.labels), "prefixCacheHitRatio", clampRatio(s.value));
    }
    add(firstPresent(page, counterNames("sglang:num_retracted_requests")), "preemptions");
    add(firstPresent(page, counterNames("sglang:num_requests")), "requestsOk");
    add(firstPresent(page, counterNames("sglang:num_aborted_requests")), "requestsFailed");
    add(prompt, "promptTokens");
    add(firstPresent(page, counterNames("sglang:generation_tokens")), "completionTokens");
    return table.list();
  },
};
