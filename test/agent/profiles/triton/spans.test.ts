import { describe, expect, it } from "vitest";
import { TRITON_PROFILE, tritonQueueSecondsFromCompute } from "../../../../agent/profiles/triton/spans.js";
import {
  FIXTURE_START_MS,
  decodedResource,
  tritonComputeSpan,
  tritonEvents,
  tritonMergedSpan,
  tritonSpan,
} from "../../../fixtures/spans.js";

const resource = decodedResource("triton");

describe("Triton profile", () => {
  it("turns a model span into e2e from REQUEST_START to REQUEST_END and the model name", () => {
    expect(TRITON_PROFILE.toLlmSpan(tritonSpan(), resource)).toEqual({
      runtime: "triton",
      model: "tensorrt_llm",
      traceId: "5b8efff798038103d269b633813fc60c",
      endTimeMs: FIXTURE_START_MS + 850,
      e2eSeconds: 0.85,
      isError: false,
    });
  });

  it("derives queue time when the compute events are on the model span", () => {
    const llm = TRITON_PROFILE.toLlmSpan(tritonMergedSpan(), resource);
    expect(llm?.queueSeconds).toBeCloseTo(0.035, 6);
    expect(llm?.e2eSeconds).toBeCloseTo(0.85, 6);
  });

  it("leaves prefill, decode, TTFT, TPOT and tokens undefined because Triton traces have no such split", () => {
    const llm = TRITON_PROFILE.toLlmSpan(tritonMergedSpan(), resource);
    for (const field of [
      "prefillSeconds",
      "decodeSeconds",
      "ttftSeconds",
      "tpotSeconds",
      "promptTokens",
      "completionTokens",
    ]) {
      expect(llm).not.toHaveProperty(field);
    }
  });

  it.each([
    { case: "the model span as Triton sends it", span: tritonSpan(), claimed: true },
    {
      case: "a model span with only QUEUE_START",
      span: tritonSpan({ events: tritonEvents(["QUEUE_START"]) }),
      claimed: true,
    },
    { case: "a model span without lifecycle events", span: tritonSpan({ events: [] }), claimed: false },
    {
      case: "a span without triton.model_name",
      span: tritonSpan({ attributes: { "triton.model_name": undefined } }),
      claimed: false,
    },
    {
      case: "a numeric triton.model_name",
      span: tritonSpan({ attributes: { "triton.model_name": 3 } }),
      claimed: false,
    },
    { case: "the child compute span", span: tritonComputeSpan(), claimed: false },
  ])("claims $case: $claimed", ({ span, claimed }) => {
    expect(TRITON_PROFILE.claims(span)).toBe(claimed);
  });

  it("falls back to the span duration when REQUEST_END is missing", () => {
    const span = tritonSpan({
      events: tritonEvents(["REQUEST_START", "QUEUE_START"]),
      endTimeMs: FIXTURE_START_MS + 900,
    });
    expect(TRITON_PROFILE.toLlmSpan(span, resource)?.e2eSeconds).toBeCloseTo(0.9, 6);
  });

  it("leaves queue out when COMPUTE_START precedes QUEUE_START", () => {
    const events = [
      ...tritonEvents(["REQUEST_START", "REQUEST_END"]),
      { name: "QUEUE_START", timeMs: FIXTURE_START_MS + 40, attributes: {} },
      { name: "COMPUTE_START", timeMs: FIXTURE_START_MS + 30, attributes: {} },
    ];
    expect(TRITON_PROFILE.toLlmSpan(tritonSpan({ events }), resource)).not.toHaveProperty("queueSeconds");
  });

  it("skips a span whose REQUEST_END precedes REQUEST_START", () => {
    const events = [
      { name: "REQUEST_START", timeMs: FIXTURE_START_MS + 10, attributes: {} },
      { name: "REQUEST_END", timeMs: FIXTURE_START_MS, attributes: {} },
    ];
    expect(TRITON_PROFILE.toLlmSpan(tritonSpan({ events }), resource)).toBeUndefined();
  });

  it("marks a span with error status as an error", () => {
    expect(TRITON_PROFILE.toLlmSpan(tritonSpan({ statusCode: 2 }), resource)?.isError).toBe(true);
  });
});

describe("tritonQueueSecondsFromCompute", () => {
  it("measures QUEUE_START on the model span to COMPUTE_START on its compute child", () => {
    expect(tritonQueueSecondsFromCompute(tritonSpan(), tritonComputeSpan())).toBeCloseTo(0.035, 6);
  });

  it.each([
    {
      case: "the compute span of another model span",
      compute: tritonComputeSpan({ parentSpanId: "0000000000000001" }),
    },
    {
      case: "a compute span of another trace",
      compute: tritonComputeSpan({ traceId: "00000000000000000000000000000001" }),
    },
  ])("is undefined for $case", ({ compute }) => {
    expect(tritonQueueSecondsFromCompute(tritonSpan(), compute)).toBeUndefined();
  });

  it("is undefined when the model span has no QUEUE_START", () => {
    const model = tritonSpan({ events: tritonEvents(["REQUEST_START", "REQUEST_END"]) });
    expect(tritonQueueSecondsFromCompute(model, tritonComputeSpan())).toBeUndefined();
  });
});
