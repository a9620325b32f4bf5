import type { ExpositionSample } from "../../../common/exposition.js";
import { BoundedJoin, defineProfile, FirstPresent, SlotValues } from "../../collectors/runtimes/profile-reader.js";
import { clampRatio, counterNames, type Labels } from "../../collectors/runtimes/runtime-gauges.js";

/**
 * `finished_reason` values that mean the request did not complete: the LLM API's
 * CompletionOutput ends with stop, length, timeout or cancelled; abort and error are accepted too.
 */
const FAILED_REASONS: ReadonlySet<string> = new Set(["timeout", "cancelled", "abort", "error"]);

const model = (labels: Labels): string => labels["model_name"] ?? "";

const UTILIZATION = "trtllm_kv_cache_utilization";
const MAX_BLOCKS = "trtllm_kv_cache_max_blocks";
const USED_BLOCKS = "trtllm_kv_cache_used_blocks";
const WAITING = "trtllm_num_requests_waiting";
const RUNNING = "trtllm_num_requests_running";
const PROMPT = counterNames("trtllm_prompt_tokens");
const CACHED = counterNames("trtllm_prompt_cached_tokens");
const REUSED = counterNames("trtllm_kv_cache_reused_blocks");
const MISSED = counterNames("trtllm_kv_cache_missed_blocks");
const HIT_RATE = "trtllm_kv_cache_hit_rate";
const SUCCESS = counterNames("trtllm_request_success");
const ERRORS = counterNames("trtllm_request_error");
const GENERATION = counterNames("trtllm_generation_tokens");

/** A model's KV blocks: the last max-blocks value and the highest used-blocks value (NaN left out). */
interface Blocks {
  readonly slot: number;
  readonly isSpill: boolean;
  max?: number;
  usedHighest?: number;
  hasFiniteUsed: boolean;
}

/**
 * TensorRT-LLM's OpenAI server, trtllm-serve (`trtllm_` prefix, labels `model_name` and
 * `engine_type`; NVIDIA/TensorRT-LLM tensorrt_llm/metrics/collector.py `MetricsCollector`). The
 * iteration gauges appear only with iteration statistics enabled, the per-request counters only
 * with `return_perf_metrics`.
 *
 * - KV usage: `trtllm_kv_cache_utilization`, else used ÷ max blocks (joined per model up to the
 *   reader's join limit, per row past it).
 * - Queue: `trtllm_num_requests_waiting`. Batch: `trtllm_num_requests_running` (active requests).
 * - Prefix cache in tokens: `trtllm_prompt_cached_tokens_total` over `trtllm_prompt_tokens_total`;
 *   else in blocks: `trtllm_kv_cache_reused_blocks_total` over reused + missed; else the
 *   `trtllm_kv_cache_hit_rate` gauge.
 * - Finished requests: `trtllm_request_success_total{finished_reason}` (timeout and cancelled as
 *   failed) plus `trtllm_request_error_total{http_code}` 5xx as failed (4xx are the client's).
 * - Tokens: `trtllm_prompt_tokens_total`, `trtllm_generation_tokens_total`. No preemption counter.
 */
export const trtllmProfile = defineProfile({
  runtime: "trtllm",
  families: "trtllm-serve",
  prefix: "trtllm_",
  names: [
    UTILIZATION,
    MAX_BLOCKS,
    USED_BLOCKS,
    WAITING,
    RUNNING,
    ...PROMPT,
    ...CACHED,
    ...REUSED,
    ...MISSED,
    HIT_RATE,
    ...SUCCESS,
    ...ERRORS,
    ...GENERATION,
  ],

  open({ slotOf, joinLimit }) {
    const slot = (labels: Labels): number => slotOf(model(labels));
    const sums = (): SlotValues => new SlotValues();
    let hasUtilization = false;
    const utilization = new SlotValues();
    const blocks = new BoundedJoin<Blocks>(joinLimit, (at, isSpill) => ({ slot: at, isSpill, hasFiniteUsed: false }));
    const waiting = new SlotValues();
    const running = new SlotValues();
    const prompt = new FirstPresent(PROMPT, sums);
    const cached = new FirstPresent(CACHED, sums);
    const reused = new FirstPresent(REUSED, sums);
    const missed = new FirstPresent(MISSED, sums);
    const hitRate = new SlotValues();
    const success = new FirstPresent(SUCCESS, () => ({ ok: new SlotValues(), failed: new SlotValues() }));
    const errors = new FirstPresent(ERRORS, sums);
    const generation = new FirstPresent(GENERATION, sums);

    const sumInto = (target: SlotValues, s: ExpositionSample): void => {
      if (Number.isFinite(s.value)) target.add(slot(s.labels), s.value);
    };
    const raiseRatio = (target: SlotValues, s: ExpositionSample): void => {
      const ratio = clampRatio(s.value);
      if (Number.isFinite(ratio)) target.raise(slot(s.labels), ratio);
    };
    const modelBlocks = (s: ExpositionSample): Blocks => blocks.entry(model(s.labels), () => slot(s.labels));
    const on = new Map<string, (s: ExpositionSample) => void>([
      [
        UTILIZATION,
        (s) => {
          hasUtilization = true;
          raiseRatio(utilization, s);
        },
      ],
      [
        MAX_BLOCKS,
        (s) => {
          modelBlocks(s).max = s.value;
        },
      ],
      [
        USED_BLOCKS,
        (s) => {
          if (Number.isNaN(s.value)) return;
          const entry = modelBlocks(s);
          entry.usedHighest = Math.max(entry.usedHighest ?? -Infinity, s.value);
          if (Number.isFinite(s.value)) entry.hasFiniteUsed = true;
        },
      ],
      [WAITING, (s) => sumInto(waiting, s)],
      [RUNNING, (s) => sumInto(running, s)],
      [HIT_RATE, (s) => raiseRatio(hitRate, s)],
    ]);
    for (const alternatives of [prompt, cached, reused, missed, generation]) {
      for (const name of alternatives.names) on.set(name, (s) => sumInto(alternatives.of(name), s));
    }
    for (const name of SUCCESS) {
      on.set(name, (s) => {
        const counts = success.of(name);
        sumInto(FAILED_REASONS.has(s.labels["finished_reason"] ?? "") ? counts.failed : counts.ok, s);
      });
    }
    for (const name of ERRORS) {
      on.set(name, (s) => {
        const failed = errors.of(name);
        if ((s.labels["http_code"] ?? "").startsWith("5")) sumInto(failed, s);
      });
    }

    return {
      add: (s) => on.get(s.name)?.(s),
      finish(rows) {
        if (hasUtilization) utilization.into(rows, "kvCacheUsage");
        else {
          for (const entry of blocks.all()) {
            const { max, usedHighest } = entry;
            if (max === undefined || !(max > 0) || usedHighest === undefined) continue;
            // Each used value over the model's max, the highest kept: an infinite max leaves 0 for every finite used value.
            if (max === Infinity) {
              if (entry.hasFiniteUsed) rows.max(entry.slot, "kvCacheUsage", 0);
            } else rows.max(entry.slot, "kvCacheUsage", clampRatio(usedHighest / max));
          }
        }
        waiting.into(rows, "queueDepth");
        running.into(rows, "batchSize");
        const promptTokens = prompt.chosen();
        const cachedTokens = cached.chosen();
        const reusedBlocks = reused.chosen();
        const missedBlocks = missed.chosen();
        if (cachedTokens !== undefined && promptTokens !== undefined) {
          cachedTokens.into(rows, "prefixCacheHits");
          promptTokens.into(rows, "prefixCacheQueries");
        } else if (reusedBlocks !== undefined && missedBlocks !== undefined) {
          reusedBlocks.into(rows, "prefixCacheHits");
          reusedBlocks.into(rows, "prefixCacheQueries");
          missedBlocks.into(rows, "prefixCacheQueries");
        } else {
          hitRate.into(rows, "prefixCacheHitRatio");
        }
        const counts = success.chosen();
        counts?.ok.into(rows, "requestsOk");
        counts?.failed.into(rows, "requestsFailed");
        errors.chosen()?.into(rows, "requestsFailed");
        promptTokens?.into(rows, "promptTokens");
        generation.chosen()?.into(rows, "completionTokens");
      },
    };
  },
});
