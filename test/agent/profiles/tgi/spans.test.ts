import { describe, expect, it } from "vitest";
import { TGI_PROFILE } from "../../../../agent/profiles/tgi/spans.js";
import { FIXTURE_START_MS, decodedResource, tgiSpan } from "../../../fixtures/spans.js";

const resource = decodedResource("tgi");

describe("TGI profile", () => {
  it("reads queue, inference and per-token time from Rust Duration strings", () => {
    expect(TGI_PROFILE.toLlmSpan(tgiSpan(), resource)).toEqual({
      runtime: "tgi",
      model: undefined,
      traceId: "0af7651916cd43dd8448eb211c80319c",
      endTimeMs: FIXTURE_START_MS + 1250.4,
      e2eSeconds: 1.25,
      queueSeconds: 0.0125,
      decodeSeconds: 1.2,
      tpotSeconds: 0.01875,
      isError: false,
    });
  });

  it("leaves prefill, TTFT, tokens and model undefined because TGI spans do not carry them", () => {
    const llm = TGI_PROFILE.toLlmSpan(tgiSpan(), resource);
    for (const field of ["prefillSeconds", "ttftSeconds", "promptTokens", "completionTokens"]) {
      expect(llm).not.toHaveProperty(field);
    }
    expect(llm?.model).toBeUndefined();
  });

  it.each([
    { name: "generate", attributes: {}, claimed: true },
    { name: "generate_stream", attributes: {}, claimed: true },
    { name: "completions", attributes: {}, claimed: true },
    { name: "chat_completions", attributes: {}, claimed: true },
    { name: "compat_generate", attributes: {}, claimed: true },
    { name: "vertex_compatibility", attributes: {}, claimed: true },
    { name: "generate", attributes: { total_time: undefined }, claimed: true },
    { name: "generate", attributes: { total_time: undefined, inference_time: undefined }, claimed: false },
    { name: "health", attributes: {}, claimed: false },
    { name: "infer", attributes: {}, claimed: false },
    { name: "llm_request", attributes: {}, claimed: false },
  ])("claims $name with $attributes: $claimed", ({ name, attributes, claimed }) => {
    expect(TGI_PROFILE.claims(tgiSpan({ name, attributes }))).toBe(claimed);
  });

  it.each([
    { field: "queue_time", text: "soon", absent: "queueSeconds" },
    { field: "queue_time", text: "-12ms", absent: "queueSeconds" },
    { field: "inference_time", text: "1.2", absent: "decodeSeconds" },
    { field: "time_per_token", text: "2m3s", absent: "tpotSeconds" },
  ])("treats garbage $field '$text' as absent", ({ field, text, absent }) => {
    const llm = TGI_PROFILE.toLlmSpan(tgiSpan({ attributes: { [field]: text } }), resource);
    expect(llm).not.toHaveProperty(absent);
    expect(llm?.e2eSeconds).toBe(1.25);
  });

  it("treats a numeric Duration attribute as absent because its unit is unknown", () => {
    const llm = TGI_PROFILE.toLlmSpan(tgiSpan({ attributes: { queue_time: 12.5 } }), resource);
    expect(llm).not.toHaveProperty("queueSeconds");
  });

  it.each([
    { total: undefined, e2e: 1.2504, case: "missing" },
    { total: "garbage", e2e: 1.2504, case: "garbage" },
    { total: "850µs", e2e: 0.00085, case: "in microseconds" },
  ])("e2e when total_time is $case", ({ total, e2e }) => {
    const llm = TGI_PROFILE.toLlmSpan(tgiSpan({ attributes: { total_time: total } }), resource);
    // Span times are float Unix ms: about 0.25 µs resolution today, so compare to the microsecond.
    expect(llm?.e2eSeconds).toBeCloseTo(e2e, 6);
  });

  it("skips a span whose total_time is garbage and whose end precedes its start", () => {
    const span = tgiSpan({ attributes: { total_time: "?" }, endTimeMs: FIXTURE_START_MS - 5 });
    expect(TGI_PROFILE.toLlmSpan(span, resource)).toBeUndefined();
  });

  it("marks a span with error status as an error", () => {
    expect(TGI_PROFILE.toLlmSpan(tgiSpan({ statusCode: 2 }), resource)?.isError).toBe(true);
  });
});
