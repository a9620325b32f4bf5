/**
 * vLLM: one SERVER span named `llm_request` per finished or aborted request, latencies as float
 * seconds under vLLM's own `gen_ai.latency.*` keys (vllm `vllm/tracing/utils.py`,
 * `vllm/v1/engine/output_processor.py` `do_tracing`). The V1 engine does not set
 * `gen_ai.response.model`; the model then stays undefined and the processor resolves it from the pod.
 */
import type { RuntimeProfile } from "../runtime-profile.js";
import {
  buildLlmSpan,
  hasErrorFinishReason,
  readFirstCount,
  readSeconds,
  readString,
  spanDurationSeconds,
} from "../span-readers.js";

const SPAN_NAME = "llm_request";

const KEY = {
  e2e: "gen_ai.latency.e2e",
  queue: "gen_ai.latency.time_in_queue",
  prefill: "gen_ai.latency.time_in_model_prefill",
  decode: "gen_ai.latency.time_in_model_decode",
  ttft: "gen_ai.latency.time_to_first_token",
  promptTokens: "gen_ai.usage.prompt_tokens",
  completionTokens: "gen_ai.usage.completion_tokens",
  inputTokens: "gen_ai.usage.input_tokens",
  outputTokens: "gen_ai.usage.output_tokens",
  responseModel: "gen_ai.response.model",
  requestModel: "gen_ai.request.model",
  finishReasons: "gen_ai.response.finish_reasons",
} as const;

/** vLLM `llm_request` spans (V1 and legacy V0 engine). */
export const VLLM_PROFILE: RuntimeProfile = {
  runtime: "vllm",
  spanAttributes: Object.values(KEY),
  resourceAttributes: [],
  claims: (span) => span.name === SPAN_NAME,
  toLlmSpan(span) {
    const a = span.attributes;
    const decodeSeconds = readSeconds(a, KEY.decode);
    // vLLM's deprecated semconv names first; the current ones in case a release switches.
    const completionTokens = readFirstCount(a, [KEY.completionTokens, KEY.outputTokens]);
    // decode = first→last token, so it spans completion_tokens − 1 inter-token gaps.
    const tpotSeconds =
      decodeSeconds !== undefined && completionTokens !== undefined && completionTokens > 1
        ? decodeSeconds / (completionTokens - 1)
        : undefined;
    return buildLlmSpan(
      {
        runtime: "vllm",
        model: readString(a, KEY.responseModel) ?? readString(a, KEY.requestModel),
        span,
        e2eSeconds: readSeconds(a, KEY.e2e) ?? spanDurationSeconds(span),
        isError: span.statusCode === 2 || hasErrorFinishReason(a.get(KEY.finishReasons)),
      },
      {
        queueSeconds: readSeconds(a, KEY.queue),
        prefillSeconds: readSeconds(a, KEY.prefill),
        decodeSeconds,
        ttftSeconds: readSeconds(a, KEY.ttft),
        tpotSeconds,
        promptTokens: readFirstCount(a, [KEY.promptTokens, KEY.inputTokens]),
        completionTokens,
      },
    );
  },
};
