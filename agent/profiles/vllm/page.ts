import type { ExpositionSample } from "../../../common/exposition.js";
import {
  defineProfile,
  FirstPresent,
  SlotValues,
  type ReaderContext,
} from "../../collectors/runtimes/profile-reader.js";
import { clampRatio, counterNames, type Labels } from "../../collectors/runtimes/runtime-gauges.js";

/** vLLM's FinishReason values that mean the request failed (vllm/v1/engine/__init__.py FINISH_REASON_STRINGS: stop, length, abort, error, repetition). */
const FAILED_REASONS: ReadonlySet<string> = new Set(["abort", "error"]);

const KV = ["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"];
const QUERIES = [...counterNames("vllm:prefix_cache_queries"), ...counterNames("vllm:gpu_prefix_cache_queries")];
const HITS = [...counterNames("vllm:prefix_cache_hits"), ...counterNames("vllm:gpu_prefix_cache_hits")];
const HIT_RATE = "vllm:gpu_prefix_cache_hit_rate";
const WAITING_BY_REASON = "vllm:num_requests_waiting_by_reason";
const WAITING = "vllm:num_requests_waiting";
const RUNNING = "vllm:num_requests_running";
const PREEMPTIONS = counterNames("vllm:num_preemptions");
const SUCCESS = counterNames("vllm:request_success");
const PROMPT = counterNames("vllm:prompt_tokens");
const GENERATION = counterNames("vllm:generation_tokens");

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
export const vllmProfile = defineProfile({
  runtime: "vllm",
  families: "vllm",
  prefix: "vllm:",
  names: [
    ...KV,
    ...QUERIES,
    ...HITS,
    HIT_RATE,
    WAITING_BY_REASON,
    WAITING,
    RUNNING,
    ...PREEMPTIONS,
    ...SUCCESS,
    ...PROMPT,
    ...GENERATION,
  ],

  open({ slotOf }: ReaderContext) {
    const slot = (labels: Labels): number => slotOf(labels["model_name"] ?? labels["model"] ?? "");
    const sums = (): SlotValues => new SlotValues();
    const kv = new FirstPresent(KV, sums);
    const queries = new FirstPresent(QUERIES, sums);
    const hits = new FirstPresent(HITS, sums);
    const hitRate = new SlotValues();
    let hasWaitingByReason = false;
    const capacity = new SlotValues();
    const waiting = new SlotValues();
    const running = new SlotValues();
    const preemptions = new FirstPresent(PREEMPTIONS, sums);
    const success = new FirstPresent(SUCCESS, () => ({ ok: new SlotValues(), failed: new SlotValues() }));
    const prompt = new FirstPresent(PROMPT, sums);
    const generation = new FirstPresent(GENERATION, sums);

    const sumInto = (target: SlotValues, s: ExpositionSample): void => {
      if (Number.isFinite(s.value)) target.add(slot(s.labels), s.value);
    };
    const on = new Map<string, (s: ExpositionSample) => void>();
    for (const name of KV) {
      on.set(name, (s) => {
        const ratio = clampRatio(s.value);
        const target = kv.of(name);
        if (Number.isFinite(ratio)) target.raise(slot(s.labels), ratio);
      });
    }
    for (const [alternatives, names] of [
      [queries, QUERIES],
      [hits, HITS],
      [preemptions, PREEMPTIONS],
      [prompt, PROMPT],
      [generation, GENERATION],
    ] as const) {
      for (const name of names) on.set(name, (s) => sumInto(alternatives.of(name), s));
    }
    on.set(HIT_RATE, (s) => {
      if (s.value >= 0) hitRate.raise(slot(s.labels), clampRatio(s.value));
    });
    on.set(WAITING_BY_REASON, (s) => {
      hasWaitingByReason = true;
      if (s.labels["reason"] === "capacity") sumInto(capacity, s);
    });
    on.set(WAITING, (s) => sumInto(waiting, s));
    on.set(RUNNING, (s) => sumInto(running, s));
    for (const name of SUCCESS) {
      on.set(name, (s) => {
        const counts = success.of(name);
        sumInto(FAILED_REASONS.has(s.labels["finished_reason"] ?? "") ? counts.failed : counts.ok, s);
      });
    }

    return {
      add: (s) => on.get(s.name)?.(s),
      finish(rows) {
        kv.chosen()?.into(rows, "kvCacheUsage");
        const chosenQueries = queries.chosen();
        chosenQueries?.into(rows, "prefixCacheQueries");
        hits.chosen()?.into(rows, "prefixCacheHits");
        if (chosenQueries === undefined) hitRate.into(rows, "prefixCacheHitRatio");
        (hasWaitingByReason ? capacity : waiting).into(rows, "queueDepth");
        running.into(rows, "batchSize");
        preemptions.chosen()?.into(rows, "preemptions");
        const counts = success.chosen();
        counts?.ok.into(rows, "requestsOk");
        counts?.failed.into(rows, "requestsFailed");
        prompt.chosen()?.into(rows, "promptTokens");
        generation.chosen()?.into(rows, "completionTokens");
      },
    };
  },
});
