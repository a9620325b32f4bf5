import type { ExpositionSample } from "../../../common/exposition.js";
import { BoundedJoin, defineProfile, SlotValues } from "../../collectors/runtimes/profile-reader.js";
import type { Labels } from "../../collectors/runtimes/runtime-gauges.js";

/** Triton's per-model label (triton-inference-server/core src/constants.h `kMetricsLabelModelName`). */
const model = (labels: Labels): string => labels["model"] ?? "";

const MICROSECONDS = 1e-6;

const PENDING = "nv_inference_pending_request_count";
const SUCCESS = "nv_inference_request_success";
const FAILURE = "nv_inference_request_failure";
const QUEUE = "nv_inference_queue_duration_us";
/** The duration counters whose sum is a request's compute time (input + inference + output). */
const COMPUTE = [
  "nv_inference_compute_input_duration_us",
  "nv_inference_compute_infer_duration_us",
  "nv_inference_compute_output_duration_us",
];

/** A model's successes and whether it has duration counters, joined at the page's end. */
interface Timing {
  readonly slot: number;
  readonly isSpill: boolean;
  successes: number | undefined;
  isTimed: boolean;
}

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
 *   Only models with duration counters (`counter_latencies` may be off) count timed requests; that
 *   join is per model up to the reader's join limit, per row past it.
 */
export const tritonProfile = defineProfile({
  runtime: "triton",
  families: "triton-core",
  prefix: "nv_inference_",
  names: [PENDING, SUCCESS, FAILURE, QUEUE, ...COMPUTE],

  open({ slotOf, joinLimit }) {
    const slot = (labels: Labels): number => slotOf(model(labels));
    const pending = new SlotValues();
    const ok = new SlotValues();
    const failed = new SlotValues();
    const queueSeconds = new SlotValues();
    const computeSeconds = new SlotValues();
    const timings = new BoundedJoin<Timing>(joinLimit, (at, isSpill) => ({
      slot: at,
      isSpill,
      successes: undefined,
      isTimed: false,
    }));
    const timing = (labels: Labels): Timing => timings.entry(model(labels), () => slot(labels));
    const sumInto = (target: SlotValues, s: ExpositionSample, value = s.value): void => {
      if (Number.isFinite(value)) target.add(slot(s.labels), value);
    };
    const on = new Map<string, (s: ExpositionSample) => void>([
      [PENDING, (s) => sumInto(pending, s)],
      [
        SUCCESS,
        (s) => {
          sumInto(ok, s);
          if (!Number.isFinite(s.value)) return;
          const entry = timing(s.labels);
          entry.successes = (entry.successes ?? 0) + s.value;
        },
      ],
      [FAILURE, (s) => sumInto(failed, s)],
      [
        QUEUE,
        (s) => {
          timing(s.labels).isTimed = true;
          sumInto(queueSeconds, s, s.value * MICROSECONDS);
        },
      ],
    ]);
    for (const name of COMPUTE) {
      on.set(name, (s) => {
        timing(s.labels).isTimed = true;
        sumInto(computeSeconds, s, s.value * MICROSECONDS);
      });
    }

    return {
      add: (s) => on.get(s.name)?.(s),
      finish(rows) {
        pending.into(rows, "queueDepth");
        ok.into(rows, "requestsOk");
        failed.into(rows, "requestsFailed");
        for (const entry of timings.all())
          if (entry.isTimed && entry.successes !== undefined) rows.merge(entry.slot, "timedRequests", entry.successes);
        queueSeconds.into(rows, "queueSecondsTotal");
        computeSeconds.into(rows, "computeSecondsTotal");
      },
    };
  },
});
