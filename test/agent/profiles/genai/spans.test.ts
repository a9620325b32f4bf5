import { describe, expect, it } from "vitest";
import { GENAI_SEMCONV_PROFILE } from "../../../../agent/profiles/genai/spans.js";
import { FIXTURE_START_MS, decodedResource, genaiSpan } from "../../../fixtures/spans.js";

const resource = decodedResource("genai");

describe("GenAI semconv profile", () => {
  it("turns a chat span into e2e, TTFT, TPOT, tokens and the response model", () => {
    expect(GENAI_SEMCONV_PROFILE.toLlmSpan(genaiSpan(), resource)).toEqual({
      runtime: "genai",
      model: "meta-llama/Llama-3.1-8B-Instruct",
      traceId: "a3c5e7f9b1d3f5a7c9e1b3d5f7a9c1e3",
      endTimeMs: FIXTURE_START_MS + 1993,
      e2eSeconds: 1.993,
      ttftSeconds: 0.183,
      tpotSeconds: (1.993 - 0.183) / 95,
      promptTokens: 421,
      completionTokens: 96,
      isError: false,
    });
  });

  it.each([
    {
      case: "request model only",
      attributes: { "gen_ai.response.model": undefined, "gen_ai.usage.input_tokens": undefined },
      claimed: true,
    },
    {
      case: "response model only",
      attributes: { "gen_ai.request.model": undefined, "gen_ai.usage.input_tokens": undefined },
      claimed: true,
    },
    {
      case: "input tokens only",
      attributes: { "gen_ai.request.model": undefined, "gen_ai.response.model": undefined },
      claimed: true,
    },
    {
      case: "none of the three",
      attributes: {
        "gen_ai.request.model": undefined,
        "gen_ai.response.model": undefined,
        "gen_ai.usage.input_tokens": undefined,
      },
      claimed: false,
    },
  ])("claims a span with $case: $claimed", ({ attributes, claimed }) => {
    expect(GENAI_SEMCONV_PROFILE.claims(genaiSpan({ attributes }))).toBe(claimed);
  });

  it.each([
    {
      case: "response model over request model",
      attributes: { "gen_ai.response.model": "llama-3.1-8b-2024-07" },
      model: "llama-3.1-8b-2024-07",
    },
    {
      case: "request model when no response model",
      attributes: { "gen_ai.response.model": undefined },
      model: "meta-llama/Llama-3.1-8B-Instruct",
    },
    {
      case: "undefined when neither",
      attributes: { "gen_ai.response.model": undefined, "gen_ai.request.model": undefined },
      model: undefined,
    },
  ])("model is the $case", ({ attributes, model }) => {
    expect(GENAI_SEMCONV_PROFILE.toLlmSpan(genaiSpan({ attributes }), resource)?.model).toBe(model);
  });

  it.each([
    { case: "an OK span", statusCode: 0 as const, attributes: {}, isError: false },
    { case: "span status error", statusCode: 2 as const, attributes: {}, isError: true },
    { case: "error.type set", statusCode: 0 as const, attributes: { "error.type": "timeout" }, isError: true },
    {
      case: "an error finish reason",
      statusCode: 0 as const,
      attributes: { "gen_ai.response.finish_reasons": ["error"] },
      isError: true,
    },
    {
      case: "a content_filter finish reason",
      statusCode: 0 as const,
      attributes: { "gen_ai.response.finish_reasons": ["content_filter"] },
      isError: false,
    },
  ])("isError is $isError for $case", ({ statusCode, attributes, isError }) => {
    expect(GENAI_SEMCONV_PROFILE.toLlmSpan(genaiSpan({ statusCode, attributes }), resource)?.isError).toBe(isError);
  });

  it("reads TTFT from gen_ai.server.time_to_first_token when time_to_first_chunk is absent", () => {
    const span = genaiSpan({
      attributes: { "gen_ai.response.time_to_first_chunk": undefined, "gen_ai.server.time_to_first_token": 0.25 },
    });
    expect(GENAI_SEMCONV_PROFILE.toLlmSpan(span, resource)).toMatchObject({
      ttftSeconds: 0.25,
      tpotSeconds: (1.993 - 0.25) / 95,
    });
  });

  it.each([
    { case: "no TTFT", attributes: { "gen_ai.response.time_to_first_chunk": undefined } },
    { case: "no output tokens", attributes: { "gen_ai.usage.output_tokens": undefined } },
    { case: "one output token", attributes: { "gen_ai.usage.output_tokens": 1 } },
    { case: "a TTFT longer than the span", attributes: { "gen_ai.response.time_to_first_chunk": 3 } },
  ])("leaves TPOT out with $case", ({ attributes }) => {
    expect(GENAI_SEMCONV_PROFILE.toLlmSpan(genaiSpan({ attributes }), resource)).not.toHaveProperty("tpotSeconds");
  });

  it("reads deprecated prompt/completion token names", () => {
    const span = genaiSpan({
      attributes: {
        "gen_ai.usage.input_tokens": undefined,
        "gen_ai.usage.output_tokens": undefined,
        "gen_ai.usage.prompt_tokens": 30,
        "gen_ai.usage.completion_tokens": 11,
      },
    });
    expect(GENAI_SEMCONV_PROFILE.toLlmSpan(span, resource)).toMatchObject({ promptTokens: 30, completionTokens: 11 });
  });

  it("leaves queue, prefill and decode undefined because semconv has no such attributes", () => {
    const llm = GENAI_SEMCONV_PROFILE.toLlmSpan(genaiSpan(), resource);
    for (const field of ["queueSeconds", "prefillSeconds", "decodeSeconds"]) expect(llm).not.toHaveProperty(field);
  });

  it("skips a span that ends before it starts", () => {
    expect(GENAI_SEMCONV_PROFILE.toLlmSpan(genaiSpan({ endTimeMs: FIXTURE_START_MS - 1 }), resource)).toBeUndefined();
  });
});
