/**
 * SGLang's request root spans (--enable-trace), built from its tracing module
 * (test/fixtures/runtimes/runtime-spans.ts), and the spans of its stages that are not requests.
 */
import { describe, expect, it } from "vitest";
import { profileFor } from "../../../../agent/profiles/span-profiles.js";
import { SGLANG_PROFILE } from "../../../../agent/profiles/sglang/spans.js";
import { sglangRootSpan } from "../../../fixtures/runtimes/runtime-spans.js";
import { toDecodedSpan } from "../../../fixtures/spans.js";

describe("SGLang request root span", () => {
  it("is claimed by the SGLang profile and measured end to end by its duration", () => {
    const span = toDecodedSpan(sglangRootSpan("8c1f0a7e2b5d4c3a9e6f1b2d3c4a5e6f", 1840));
    expect(profileFor(span)?.runtime).toBe("sglang");
    expect(SGLANG_PROFILE.toLlmSpan(span, new Map())).toMatchObject({
      runtime: "sglang",
      model: undefined,
      e2eSeconds: 1.84,
      isError: false,
    });
  });

  it("keeps only the end-to-end latency: SGLang puts no phase, token or model on the span", () => {
    const llm = SGLANG_PROFILE.toLlmSpan(toDecodedSpan(sglangRootSpan()), new Map());
    expect(Object.keys(llm ?? {}).sort()).toEqual([
      "e2eSeconds",
      "endTimeMs",
      "isError",
      "model",
      "runtime",
      "traceId",
    ]);
  });

  it.each([
    ["a stage span of a thread", { name: "Scheduler [TP 0] (host:1a2b3c4d | pid:4242)" }],
    ["a slice span", { name: "prefill_forward" }],
    ["a root-like name without the request id attribute", { name: "Req 8c1f0a7e", attributes: {} }],
  ])("does not claim %s", (_, overrides) => {
    const raw = sglangRootSpan();
    const span = toDecodedSpan({
      ...raw,
      ...overrides,
      attributes: "attributes" in overrides ? overrides.attributes : raw.attributes,
    });
    expect(SGLANG_PROFILE.claims(span)).toBe(false);
  });
});
