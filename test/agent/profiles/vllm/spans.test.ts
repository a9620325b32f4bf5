import { describe, expect, it } from "vitest";
import { VLLM_PROFILE } from "../../../../agent/profiles/vllm/spans.js";
import { FIXTURE_START_MS, decodedResource, vllmSpan } from "../../../fixtures/spans.js";

const resource = decodedResource("vllm");

describe("vLLM profile", () => {
  it("turns a finished llm_request span into phases, tokens and TPOT", () => {
    expect(VLLM_PROFILE.toLlmSpan(vllmSpan(), resource)).toEqual({
      runtime: "vllm",
      model: undefined,
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      endTimeMs: FIXTURE_START_MS + 2481.3,
      e2eSeconds: 2.4813,
      queueSeconds: 0.0123,
      prefillSeconds: 0.0871,
      decodeSeconds: 2.3495,
      ttftSeconds: 0.1124,
      tpotSeconds: 2.3495 / 127,
      promptTokens: 512,
      completionTokens: 128,
      isError: false,
    });
  });

  it.each([
    { name: "llm_request", claimed: true },
    { name: "llm_core", claimed: false },
    { name: "LLM_REQUEST", claimed: false },
    { name: "generate", claimed: false },
  ])("claims a span named $name: $claimed", ({ name, claimed }) => {
    expect(VLLM_PROFILE.claims(vllmSpan({ name }))).toBe(claimed);
  });

  it.each([
    {
      case: "response model when both are set",
      attributes: { "gen_ai.response.model": "meta-llama/Llama-3.1-8B", "gen_ai.request.model": "llama" },
      model: "meta-llama/Llama-3.1-8B",
    },
    { case: "request model when only it is set", attributes: { "gen_ai.request.model": "llama" }, model: "llama" },
    { case: "undefined when V1 sets neither", attributes: {}, model: undefined },
    { case: "undefined for an empty name", attributes: { "gen_ai.response.model": "" }, model: undefined },
  ])("model is the $case", ({ attributes, model }) => {
    expect(VLLM_PROFILE.toLlmSpan(vllmSpan({ attributes }), resource)?.model).toBe(model);
  });

  it.each([
    { finish: '["stop"]', statusCode: 0 as const, isError: false, case: "a JSON stop" },
    { finish: '["length"]', statusCode: 0 as const, isError: false, case: "a JSON length" },
    { finish: '["abort"]', statusCode: 0 as const, isError: true, case: "a JSON abort" },
    { finish: '["stop", "error"]', statusCode: 0 as const, isError: true, case: "an error among several" },
    { finish: "abort", statusCode: 0 as const, isError: true, case: "a bare abort string" },
    { finish: "stop", statusCode: 0 as const, isError: false, case: "a bare stop string" },
    { finish: ["abort"], statusCode: 0 as const, isError: true, case: "an array attribute" },
    { finish: "[not json", statusCode: 0 as const, isError: false, case: "malformed JSON" },
    { finish: undefined, statusCode: 0 as const, isError: false, case: "no finish reasons" },
    { finish: '["stop"]', statusCode: 2 as const, isError: true, case: "span status error" },
  ])("isError is $isError for $case", ({ finish, statusCode, isError }) => {
    const span = vllmSpan({ statusCode, attributes: { "gen_ai.response.finish_reasons": finish } });
    expect(VLLM_PROFILE.toLlmSpan(span, resource)?.isError).toBe(isError);
  });

  it("falls back to the span duration when gen_ai.latency.e2e is missing", () => {
    const span = vllmSpan({ attributes: { "gen_ai.latency.e2e": undefined }, endTimeMs: FIXTURE_START_MS + 2500 });
    expect(VLLM_PROFILE.toLlmSpan(span, resource)?.e2eSeconds).toBe(2.5);
  });

  it("falls back to the span duration when gen_ai.latency.e2e is negative", () => {
    const span = vllmSpan({ attributes: { "gen_ai.latency.e2e": -1 }, endTimeMs: FIXTURE_START_MS + 2500 });
    expect(VLLM_PROFILE.toLlmSpan(span, resource)?.e2eSeconds).toBe(2.5);
  });

  it("skips a span with no e2e attribute and an end before its start", () => {
    const span = vllmSpan({ attributes: { "gen_ai.latency.e2e": undefined }, endTimeMs: FIXTURE_START_MS - 1 });
    expect(VLLM_PROFILE.toLlmSpan(span, resource)).toBeUndefined();
  });

  it("leaves out phases that are missing, negative, NaN or not numbers", () => {
    const span = vllmSpan({
      attributes: {
        "gen_ai.latency.time_in_queue": undefined,
        "gen_ai.latency.time_in_model_prefill": -0.01,
        "gen_ai.latency.time_in_model_decode": Number.NaN,
        "gen_ai.latency.time_to_first_token": "0.1",
      },
    });
    const llm = VLLM_PROFILE.toLlmSpan(span, resource);
    expect(llm).toBeDefined();
    for (const field of ["queueSeconds", "prefillSeconds", "decodeSeconds", "ttftSeconds", "tpotSeconds"]) {
      expect(llm).not.toHaveProperty(field);
    }
    expect(llm?.e2eSeconds).toBe(2.4813);
  });

  it.each([
    { completion: 1, tpot: undefined, case: "one token has no inter-token gap" },
    { completion: 0, tpot: undefined, case: "no tokens" },
    { completion: 2, tpot: 2.3495, case: "two tokens have one gap" },
    { completion: 11, tpot: 0.23495, case: "eleven tokens have ten gaps" },
  ])("TPOT with $completion completion tokens: $case", ({ completion, tpot }) => {
    const span = vllmSpan({ attributes: { "gen_ai.usage.completion_tokens": completion } });
    const llm = VLLM_PROFILE.toLlmSpan(span, resource);
    if (tpot === undefined) expect(llm).not.toHaveProperty("tpotSeconds");
    else expect(llm?.tpotSeconds).toBeCloseTo(tpot, 12);
  });

  it("reads the current semconv token names when the deprecated ones are absent", () => {
    const span = vllmSpan({
      attributes: {
        "gen_ai.usage.prompt_tokens": undefined,
        "gen_ai.usage.completion_tokens": undefined,
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 21,
      },
    });
    expect(VLLM_PROFILE.toLlmSpan(span, resource)).toMatchObject({
      promptTokens: 100,
      completionTokens: 21,
      tpotSeconds: 2.3495 / 20,
    });
  });

  it("drops fractional or negative token counts", () => {
    const span = vllmSpan({ attributes: { "gen_ai.usage.prompt_tokens": 12.5, "gen_ai.usage.completion_tokens": -3 } });
    const llm = VLLM_PROFILE.toLlmSpan(span, resource);
    expect(llm).not.toHaveProperty("promptTokens");
    expect(llm).not.toHaveProperty("completionTokens");
    expect(llm).not.toHaveProperty("tpotSeconds");
  });
});
