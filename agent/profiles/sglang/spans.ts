/**
 * SGLang with `--enable-trace`: one root span per request, opened when the tokenizer manager
 * receives it and ended when it finishes, named `Req <first 8 characters of the request id>`
 * with attributes `rid` and `bootstrap_room` (sgl-project/sglang
 * python/sglang/srt/tracing/trace.py `trace_req_start` / `trace_req_finish`). The stages are child
 * spans per thread ("slices"), whose names vary by release and are not read.
 *
 * The root span is the request: e2e = its duration. SGLang puts no model, token counts, phase
 * timings or finish reason on it, so only the end-to-end latency comes from the span; the model
 * comes from the pod (resource service.name is SGLang's fixed `sglang`, a placeholder), and
 * failures from the runtime's `sglang:num_aborted_requests_total`.
 */
import type { RuntimeProfile } from "../runtime-profile.js";
import { buildLlmSpan, readString, spanDurationSeconds } from "../span-readers.js";

const REQUEST_ID = "rid";
const ROOT_NAME = /^Req \S{1,8}$/;

/** SGLang request root spans. */
export const SGLANG_PROFILE: RuntimeProfile = {
  runtime: "sglang",
  spanAttributes: [REQUEST_ID],
  resourceAttributes: [],
  claims: (span) => ROOT_NAME.test(span.name) && readString(span.attributes, REQUEST_ID) !== undefined,
  toLlmSpan(span) {
    return buildLlmSpan(
      {
        runtime: "sglang",
        model: undefined,
        span,
        e2eSeconds: spanDurationSeconds(span),
        isError: span.statusCode === 2,
      },
      {},
    );
  },
};
