import { clampRatio, firstPresent, hasPrefix, ModelTable, type Labels, type RuntimeGaugeProfile, type SampleIndex } from "../runtime-gauges.js";

const model = (labels: Labels): string => labels["model"] ?? "";

/**
 * Triton's TensorRT-LLM backend (`nv_trt_llm_*`, labels `model`, `version` and a category label;
 * NVIDIA/TensorRT-LLM triton_backend/inflight_batcher_llm/src/custom_metrics_reporter/custom_metrics_reporter.cc).
 * KV usage is `nv_trt_llm_kv_cache_block_metrics` used ÷ max blocks (the newer `fraction` block
 * type when used/max are absent); batch size is the requests scheduled in the current iteration
 * (`nv_trt_llm_request_metrics{request_type="scheduled"}`, `active` on backends without it); queue
 * depth is the requests waiting inside the batcher (`request_type="waiting"`, newer backends), which
 * adds to Triton's own pending count (a request waits in one or the other). Tokens come from the
 * `_sum` of the `nv_llm_input_token_len` and `nv_llm_output_token_len` histograms. Versions fold together.
 */
export const tritonTrtllmProfile: RuntimeGaugeProfile = {
  runtime: "triton",
  families: "triton-tensorrt-llm",

  detects: (page: SampleIndex) => hasPrefix(page, "nv_trt_llm_"),

  read(page: SampleIndex) {
    const table = new ModelTable();
    const instance = (labels: Labels): string => `${model(labels)}\u0000${labels["version"] ?? ""}`;

    const blocks = new Map<string, { model: string; used?: number; max?: number; fraction?: number }>();
    for (const s of firstPresent(page, ["nv_trt_llm_kv_cache_block_metrics"])) {
      const entry = blocks.get(instance(s.labels)) ?? { model: model(s.labels) };
      const type = s.labels["kv_cache_block_type"];
      if (type === "used" || type === "max" || type === "fraction") entry[type] = s.value;
      blocks.set(instance(s.labels), entry);
    }
    for (const entry of blocks.values()) {
      if (entry.used !== undefined && entry.max !== undefined && entry.max > 0) table.max(entry.model, "kvCacheUsage", clampRatio(entry.used / entry.max));
      else if (entry.fraction !== undefined) table.max(entry.model, "kvCacheUsage", clampRatio(entry.fraction));
    }

    const requests = firstPresent(page, ["nv_trt_llm_request_metrics"]);
    const hasScheduled = requests.some((s) => s.labels["request_type"] === "scheduled");
    for (const s of requests) {
      const type = s.labels["request_type"];
      if (type === (hasScheduled ? "scheduled" : "active")) table.sum(model(s.labels), "batchSize", s.value);
      else if (type === "waiting") table.sum(model(s.labels), "queueDepth", s.value);
    }
    for (const s of firstPresent(page, ["nv_llm_input_token_len_sum"])) table.sum(model(s.labels), "promptTokens", s.value);
    for (const s of firstPresent(page, ["nv_llm_output_token_len_sum"])) table.sum(model(s.labels), "completionTokens", s.value);
    return table.list();
  },
};
