import { firstPresent, hasPrefix, ModelTable, type Labels, type RuntimeGaugeProfile, type SampleIndex } from "../runtime-gauges.js";

/** Triton's per-model label (triton-inference-server/core src/constants.h `kMetricsLabelModelName`). */
const model = (labels: Labels): string => labels["model"] ?? "";

const MICROSECONDS = 1e-6;

/** The duration counters whose sum is a request's compute time (input + inference + output). */
const COMPUTE_COUNTERS = ["nv_inference_compute_input_duration_us", "nv_inference_compute_infer_duration_us", "nv_inference_compute_output_duration_us"] as const;

/**
 * Triton Inference Server's own per-model families (`nv_inference_*`, labels `model` and `version`,
 * plus `gpu_uuid` per device and `namespace` with model namespacing; triton-inference-server/core
 * src/metrics.cc and src/metric_model_reporter.cc), whatever the backend. Versions, devices and
 * namespaces of one model add up.
 *
 * - Queue: `nv_inference_pending_request_count`, requests waiting for their backend.
 * - Finished requests: `nv_inference_request_success` as ok, `nv_inference_request_failure` (every
 *   `reason`: REJECTED, CANCELED, BACKEND, OTHER) as failed.
 * - Mean queue and compute time: Triton adds each successful request's queue and compute
 *   durations, in microseconds, to `nv_inference_queue_duration_us` and
 *   `nv_inference_compute_{input,infer,output}_duration_us` and counts it in
 *   `nv_inference_request_success` (src/infer_stats.cc `UpdateSuccessWithDuration`); the scraper
 *   divides the increases between two scrapes. A mean, not a distribution. Response-cache hits add
 *   queue time and a success but no compute time, so with the cache on the compute mean is low.
 */
export const tritonProfile: RuntimeGaugeProfile = {
  runtime: "triton",
  families: "triton-core",

  detects: (page: SampleIndex) => hasPrefix(page, "nv_inference_"),

  read(page: SampleIndex) {
    const table = new ModelTable();
    for (const s of firstPresent(page, ["nv_inference_pending_request_count"])) table.sum(model(s.labels), "queueDepth", s.value);
    const successes = firstPresent(page, ["nv_inference_request_success"]);
    for (const s of successes) table.sum(model(s.labels), "requestsOk", s.value);
    for (const s of firstPresent(page, ["nv_inference_request_failure"])) table.sum(model(s.labels), "requestsFailed", s.value);
    const queue = firstPresent(page, ["nv_inference_queue_duration_us"]);
    const compute = COMPUTE_COUNTERS.map((name) => firstPresent(page, [name]));
    // Only models with duration counters (counter_latencies may be off) get a count of timed requests.
    const timed = new Set([...queue, ...compute.flat()].map((s) => model(s.labels)));
    for (const s of successes) if (timed.has(model(s.labels))) table.sum(model(s.labels), "timedRequests", s.value);
    for (const s of queue) table.sum(model(s.labels), "queueSecondsTotal", s.value * MICROSECONDS);
    for (const samples of compute) for (const s of samples) table.sum(model(s.labels), "computeSecondsTotal", s.value * MICROSECONDS);
    return table.list();
  },
};
