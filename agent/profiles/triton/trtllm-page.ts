import type { ExpositionSample } from "../../../common/exposition.js";
import { BoundedJoin, defineProfile, SlotValues } from "../../collectors/runtimes/profile-reader.js";
import { clampRatio, type Labels } from "../../collectors/runtimes/runtime-gauges.js";

const model = (labels: Labels): string => labels["model"] ?? "";

const BLOCKS = "nv_trt_llm_kv_cache_block_metrics";
const REQUESTS = "nv_trt_llm_request_metrics";
const INPUT_TOKENS = "nv_llm_input_token_len_sum";
const OUTPUT_TOKENS = "nv_llm_output_token_len_sum";

/** The KV blocks of one model version, the last value of each block type. */
interface Blocks {
  readonly slot: number;
  readonly isSpill: boolean;
  used?: number;
  max?: number;
  fraction?: number;
}

/**
 * Triton's TensorRT-LLM backend (`nv_trt_llm_*`, labels `model`, `version` and a category label;
 * NVIDIA/TensorRT-LLM triton_backend/inflight_batcher_llm/src/custom_metrics_reporter/custom_metrics_reporter.cc).
 * KV usage is `nv_trt_llm_kv_cache_block_metrics` used ÷ max blocks (the newer `fraction` block
 * type when used/max are absent); batch size is the requests scheduled in the current iteration
 * (`nv_trt_llm_request_metrics{request_type="scheduled"}`, `active` on backends without it); queue
 * depth is the requests waiting inside the batcher (`request_type="waiting"`, newer backends), which
 * adds to Triton's own pending count (a request waits in one or the other). Tokens come from the
 * `_sum` of the `nv_llm_input_token_len` and `nv_llm_output_token_len` histograms. Versions fold
 * together. The used ÷ max join is per version up to the reader's join limit, per row past it.
 */
export const tritonTrtllmProfile = defineProfile({
  runtime: "triton",
  families: "triton-tensorrt-llm",
  prefix: "nv_trt_llm_",
  names: [BLOCKS, REQUESTS, INPUT_TOKENS, OUTPUT_TOKENS],

  open({ slotOf, joinLimit }) {
    const slot = (labels: Labels): number => slotOf(model(labels));
    const blocks = new BoundedJoin<Blocks>(joinLimit, (at, isSpill) => ({ slot: at, isSpill }));
    let hasScheduled = false;
    const scheduled = new SlotValues();
    const active = new SlotValues();
    const waiting = new SlotValues();
    const inputTokens = new SlotValues();
    const outputTokens = new SlotValues();
    const sumInto = (target: SlotValues, s: ExpositionSample): void => {
      if (Number.isFinite(s.value)) target.add(slot(s.labels), s.value);
    };
    const on = new Map<string, (s: ExpositionSample) => void>([
      [
        BLOCKS,
        (s) => {
          const entry = blocks.entry(`${model(s.labels)}\u0000${s.labels["version"] ?? ""}`, () => slot(s.labels));
          const type = s.labels["kv_cache_block_type"];
          if (type === "used" || type === "max" || type === "fraction") entry[type] = s.value;
        },
      ],
      [
        REQUESTS,
        (s) => {
          const type = s.labels["request_type"];
          if (type === "scheduled") hasScheduled = true;
          if (type === "scheduled") sumInto(scheduled, s);
          else if (type === "active") sumInto(active, s);
          else if (type === "waiting") sumInto(waiting, s);
        },
      ],
      [INPUT_TOKENS, (s) => sumInto(inputTokens, s)],
      [OUTPUT_TOKENS, (s) => sumInto(outputTokens, s)],
    ]);

    return {
      add: (s) => on.get(s.name)?.(s),
      finish(rows) {
        for (const entry of blocks.all()) {
          if (entry.used !== undefined && entry.max !== undefined && entry.max > 0)
            rows.max(entry.slot, "kvCacheUsage", clampRatio(entry.used / entry.max));
          else if (entry.fraction !== undefined) rows.max(entry.slot, "kvCacheUsage", clampRatio(entry.fraction));
        }
        (hasScheduled ? scheduled : active).into(rows, "batchSize");
        waiting.into(rows, "queueDepth");
        inputTokens.into(rows, "promptTokens");
        outputTokens.into(rows, "completionTokens");
      },
    };
  },
});
