/**
 * NVIDIA Triton Inference Server in OpenTelemetry trace mode. Per request Triton emits a root
 * `InferRequest` span, a span per model named after the model with `triton.model_name`, and
 * under it a `compute` span; timings are span events, not attributes
 * (triton-inference-server/server `src/tracer.cc@0216c1fe`, `ReportToOpenTelemetry`):
 * - the model span carries REQUEST_START, QUEUE_START and REQUEST_END;
 * - the child `compute` span carries COMPUTE_START, COMPUTE_INPUT_END, COMPUTE_OUTPUT_START,
 *   COMPUTE_END, and no attributes.
 *
 * The model span is the request: e2e = REQUEST_END − REQUEST_START, model = triton.model_name.
 * Queue time is COMPUTE_START − QUEUE_START, which needs both spans; Triton exports spans as they
 * end through a batch span processor (triton-inference-server/server src/tracer.cc, `TraceManager`
 * with `BatchSpanProcessorFactory`), so the two may arrive in different requests, and a single
 * span yields queue time only when a sender merged the compute events onto the model span.
 * Otherwise the profile's join ({@link createTritonComputeJoin}) pairs the two with
 * {@link tritonQueueSecondsFromCompute}.
 *
 * Left undefined: prefill, decode, TTFT, TPOT and tokens. Triton has no prefill/decode split and
 * no token counts in its traces, and its compute time fits no LlmSpan field. (TensorRT-LLM's own
 * LLM-API spans use vLLM-style `gen_ai.*` keys and are not handled here.) In an ensemble each
 * composing model has its own model span, so each becomes an LlmSpan under its own model name.
 */
import type { DecodedSpan, DecodedTraces } from "../../receivers/otlp-model.js";
import type { LlmSpan } from "../../processors/llm-span.js";
import type { RuntimeProfile, SpanJoin } from "../runtime-profile.js";
import { buildLlmSpan, eventTimeMs, readString, secondsBetweenEvents, spanDurationSeconds } from "../span-readers.js";

const MODEL_NAME = "triton.model_name";

/** Triton activity names used as span event names (TRITONSERVER_InferenceTraceActivityString). */
export const TRITON_EVENT = {
  requestStart: "REQUEST_START",
  queueStart: "QUEUE_START",
  computeStart: "COMPUTE_START",
  computeInputEnd: "COMPUTE_INPUT_END",
  computeOutputStart: "COMPUTE_OUTPUT_START",
  computeEnd: "COMPUTE_END",
  requestEnd: "REQUEST_END",
} as const;

/** Name of the child span Triton opens at COMPUTE_START. */
export const TRITON_COMPUTE_SPAN_NAME = "compute";

/**
 * Queue seconds of a Triton model span given its child `compute` span (same trace,
 * `compute.parentSpanId === model.spanId`): COMPUTE_START − QUEUE_START. Undefined when the
 * spans do not belong together, an event is missing, or the result is negative.
 */
export function tritonQueueSecondsFromCompute(modelSpan: DecodedSpan, computeSpan: DecodedSpan): number | undefined {
  if (computeSpan.traceId !== modelSpan.traceId || computeSpan.parentSpanId !== modelSpan.spanId) return undefined;
  const queueStartMs = eventTimeMs(modelSpan, TRITON_EVENT.queueStart);
  const computeStartMs = eventTimeMs(computeSpan, TRITON_EVENT.computeStart) ?? computeSpan.startTimeMs;
  if (queueStartMs === undefined) return undefined;
  const seconds = (computeStartMs - queueStartMs) / 1000;
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
}

/** Triton per-model request spans. */
export const TRITON_PROFILE: RuntimeProfile = {
  runtime: "triton",
  spanAttributes: [MODEL_NAME],
  resourceAttributes: [],
  claims: (span) =>
    typeof span.attributes.get(MODEL_NAME) === "string" &&
    span.events.some((event) => event.name === TRITON_EVENT.requestStart || event.name === TRITON_EVENT.queueStart),
  toLlmSpan(span) {
    return buildLlmSpan(
      {
        runtime: "triton",
        model: readString(span.attributes, MODEL_NAME),
        span,
        e2eSeconds:
          secondsBetweenEvents(span, TRITON_EVENT.requestStart, TRITON_EVENT.requestEnd) ?? spanDurationSeconds(span),
        // Triton does not set span status on failure in the tracer read; honour it if a build does.
        isError: span.statusCode === 2,
      },
      { queueSeconds: secondsBetweenEvents(span, TRITON_EVENT.queueStart, TRITON_EVENT.computeStart) },
    );
  },
  createJoin: () => createTritonComputeJoin(),
};

/** Triton `compute` spans kept for joining with their model span (it ends, and is sent, after them). */
const MAX_PENDING_COMPUTE = 10_000;
const PENDING_COMPUTE_TTL_MS = 60_000;

function isTritonCompute(span: DecodedSpan): boolean {
  return (
    span.name === TRITON_COMPUTE_SPAN_NAME && span.events.some((event) => event.name === TRITON_EVENT.computeStart)
  );
}

/**
 * Triton sends a request's model span and its child `compute` span separately; queue time is
 * COMPUTE_START − QUEUE_START across the two. Compute spans wait here (at most 10,000, for 60 s)
 * for their model span; a model span whose compute span never came is recorded without queue time.
 */
export function createTritonComputeJoin(): SpanJoin {
  /** Compute spans by `${traceId}/${parentSpanId}`, in arrival order (oldest first). */
  const pending = new Map<string, { readonly span: DecodedSpan; readonly atMs: number }>();
  return {
    observe(traces: DecodedTraces, nowMs: number): void {
      for (const resourceSpans of traces.resourceSpans) {
        for (const span of resourceSpans.spans) {
          if (!isTritonCompute(span)) continue;
          if (pending.size >= MAX_PENDING_COMPUTE) {
            const oldest = pending.keys().next();
            if (!oldest.done) pending.delete(oldest.value);
          }
          pending.set(`${span.traceId}/${span.parentSpanId}`, { span, atMs: nowMs });
        }
      }
      for (const [key, entry] of pending) {
        if (nowMs - entry.atMs <= PENDING_COMPUTE_TTL_MS) break;
        pending.delete(key);
      }
    },
    complete(llm: LlmSpan, span: DecodedSpan): LlmSpan {
      if (llm.queueSeconds !== undefined) return llm;
      const key = `${span.traceId}/${span.spanId}`;
      const compute = pending.get(key);
      if (!compute) return llm;
      pending.delete(key);
      const queueSeconds = tritonQueueSecondsFromCompute(span, compute.span);
      return queueSeconds === undefined ? llm : { ...llm, queueSeconds };
    },
  };
}
