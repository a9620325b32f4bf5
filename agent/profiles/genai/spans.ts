/**
 * Any span following the OpenTelemetry GenAI semantic conventions (`gen_ai.request.model`,
 * `gen_ai.usage.input_tokens`, …; semantic-conventions `docs/gen-ai/gen-ai-spans.md`). Tried
 * last, so runtime-specific profiles win for spans that also carry these keys.
 *
 * Left undefined: queue, prefill and decode (semconv has no such attributes). TTFT comes from
 * `gen_ai.response.time_to_first_chunk` (seconds), and TPOT is derived as the semconv metric
 * `gen_ai.server.time_per_output_token` defines it: (duration − TTFT) / (output tokens − 1).
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

const KEY = {
  requestModel: "gen_ai.request.model",
  responseModel: "gen_ai.response.model",
  inputTokens: "gen_ai.usage.input_tokens",
  outputTokens: "gen_ai.usage.output_tokens",
  promptTokens: "gen_ai.usage.prompt_tokens",
  completionTokens: "gen_ai.usage.completion_tokens",
  timeToFirstChunk: "gen_ai.response.time_to_first_chunk",
  serverTimeToFirstToken: "gen_ai.server.time_to_first_token",
  errorType: "error.type",
  finishReasons: "gen_ai.response.finish_reasons",
} as const;

/** Keys whose presence marks a GenAI span. */
const CLAIM_KEYS = [KEY.requestModel, KEY.responseModel, KEY.inputTokens] as const;

/** Spans following the GenAI semantic conventions. */
export const GENAI_SEMCONV_PROFILE: RuntimeProfile = {
  runtime: "genai",
  spanAttributes: Object.values(KEY),
  resourceAttributes: [],
  claims: (span) => CLAIM_KEYS.some((key) => span.attributes.has(key)),
  toLlmSpan(span) {
    const a = span.attributes;
    const e2eSeconds = spanDurationSeconds(span);
    const ttftSeconds = readSeconds(a, KEY.timeToFirstChunk) ?? readSeconds(a, KEY.serverTimeToFirstToken);
    // Current names first, then the deprecated ones older instrumentations still send.
    const outputTokens = readFirstCount(a, [KEY.outputTokens, KEY.completionTokens]);
    const tpotSeconds =
      ttftSeconds !== undefined && outputTokens !== undefined && outputTokens > 1
        ? (e2eSeconds - ttftSeconds) / (outputTokens - 1)
        : undefined;
    return buildLlmSpan(
      {
        runtime: "genai",
        model: readString(a, KEY.responseModel) ?? readString(a, KEY.requestModel),
        span,
        e2eSeconds,
        isError:
          span.statusCode === 2 ||
          readString(a, KEY.errorType) !== undefined ||
          hasErrorFinishReason(a.get(KEY.finishReasons)),
      },
      {
        ttftSeconds,
        tpotSeconds,
        promptTokens: readFirstCount(a, [KEY.inputTokens, KEY.promptTokens]),
        completionTokens: outputTokens,
      },
    );
  },
};
