/**
 * Hugging Face TGI: the router's HTTP handler spans record the request timings as Rust Debug
 * Duration strings (`span.record("queue_time", format!("{queue_time:?}"))`,
 * text-generation-inference `router/src/server.rs`). There are no `gen_ai.*` attributes.
 *
 * What TGI does not give, and is left undefined:
 * - prefill and TTFT: the attributes do not split prefill from decode (only the
 *   `x-first-token-time` response header of some versions does, and headers are not in spans);
 * - token counts: `x-prompt-tokens` / `x-generated-tokens` are response headers only;
 * - the model: resource `service.name` is the router's name (`text-generation-inference.router`),
 *   not a model, so the processor resolves the model from the pod.
 *
 * Approximations, both from server.rs: `inference_time` runs from the batch picking the request
 * up to the last token, so it includes prefill and is reported as `decodeSeconds` (an upper
 * bound of decode); `time_per_token` is `inference_time / generated_tokens`, so `tpotSeconds`
 * includes prefill spread over all tokens rather than the semconv "after the first token".
 */
import type { RuntimeProfile } from "../runtime-profile.js";
import type { Attributes } from "../../receivers/otlp-model.js";
import { parseDurationString } from "../duration-string.js";
import { buildLlmSpan, spanDurationSeconds } from "../span-readers.js";

/** Handlers that record timings. `compat_generate` usually delegates to a child `generate` span. */
const REQUEST_SPAN_NAMES: ReadonlySet<string> = new Set([
  "generate",
  "generate_stream",
  "completions",
  "chat_completions",
  "compat_generate",
  "vertex_compatibility",
]);

const KEY = {
  total: "total_time",
  queue: "queue_time",
  inference: "inference_time",
  perToken: "time_per_token",
} as const;

/** Seconds in a TGI Duration-string attribute; undefined when absent, not a string or garbage. */
function readDuration(attributes: Attributes, key: string): number | undefined {
  const value = attributes.get(key);
  return typeof value === "string" ? parseDurationString(value) : undefined;
}

/** TGI router request spans that carry timings (failed requests end before timings are recorded). */
export const TGI_PROFILE: RuntimeProfile = {
  runtime: "tgi",
  // `validation_time`, `seed` and `parameters` (the request's generation parameters) are
  // deliberately not read, so they are never decoded.
  spanAttributes: Object.values(KEY),
  resourceAttributes: [],
  claims: (span) =>
    REQUEST_SPAN_NAMES.has(span.name) && (span.attributes.has(KEY.total) || span.attributes.has(KEY.inference)),
  toLlmSpan(span) {
    const a = span.attributes;
    return buildLlmSpan(
      {
        runtime: "tgi",
        model: undefined,
        span,
        e2eSeconds: readDuration(a, KEY.total) ?? spanDurationSeconds(span),
        isError: span.statusCode === 2,
      },
      {
        queueSeconds: readDuration(a, KEY.queue),
        decodeSeconds: readDuration(a, KEY.inference),
        tpotSeconds: readDuration(a, KEY.perToken),
      },
    );
  },
};
