import { clampRatio, firstPresent, ModelTable, type RuntimeGaugeProfile, type SampleIndex } from "../runtime-gauges.js";

type Labels = Readonly<Record<string, string>>;

/**
 * NVIDIA Triton with the TensorRT-LLM backend (labels `model`, `version`, plus a category label).
 * KV usage is `nv_trt_llm_kv_cache_block_metrics` used ÷ max blocks (the newer `fraction` block
 * type when used/max are absent); batch size is the requests scheduled in the current iteration
 * (`nv_trt_llm_request_metrics{request_type="scheduled"}`, `active` on backends without it); queue
 * depth is Triton's `nv_inference_pending_request_count` plus the requests waiting inside the
 * batcher (`request_type="waiting"`, newer backends). Versions of one model fold together.
 * Sources: triton-inference-server/server `docs/user_guide/metrics.md` and NVIDIA/TensorRT-LLM
 * `triton_backend/inflight_batcher_llm/src/custom_metrics_reporter/custom_metrics_reporter.cc`.
 */
export const tritonProfile: RuntimeGaugeProfile = {
  runtime: "triton",

  detects(page: SampleIndex): boolean {
    for (const name of page.keys()) if (name.startsWith("nv_trt_llm_") || name.startsWith("nv_inference_")) return true;
    return false;
  },

  read(page: SampleIndex) {
    const table = new ModelTable();
    const model = (labels: Labels): string => labels["model"] ?? "";
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
    for (const s of firstPresent(page, ["nv_inference_pending_request_count"])) table.sum(model(s.labels), "queueDepth", s.value);
    return table.list();
  },
};
