import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { decodeOtlpJson } from "../../../agent/receivers/otlp-json-decoder.js";
import { truncateUtf8 } from "../../../agent/receivers/otlp-decode-support.js";
import {
  OtlpDecodeError,
  type AttributeFilter,
  type DecodeLimits,
  type DecodedSpan,
} from "../../../agent/receivers/otlp-model.js";
import { decodeOtlpProtobuf } from "../../../agent/receivers/otlp-protobuf-decoder.js";
import {
  dumpTraces,
  readableSpan,
  toJsonText,
  toProtobuf,
  vllmAttributes,
  vllmBatch,
  vllmFilter,
  vllmResource,
} from "./otlp-fixtures.js";
import { expectSameTraces } from "./otlp-expect.js";

const limits = (overrides: Partial<DecodeLimits>): DecodeLimits => ({
  maxDepth: 8,
  maxStringBytes: 4096,
  maxSpans: 100_000,
  ...overrides,
});
const keepAll: AttributeFilter = () => true;

/** A request of one resource and one scope holding `spans` (plain OTLP/JSON objects). */
function request(...spans: unknown[]): string {
  return JSON.stringify({
    resourceSpans: [{ resource: { attributes: [] }, scopeSpans: [{ scope: { name: "s" }, spans }] }],
  });
}

const baseSpan = {
  traceId: "5b8efff798038103d269b633813fc60c",
  spanId: "eee19b7ec3c1b174",
  name: "llm_request",
  kind: 2,
  startTimeUnixNano: "1544712660000000000",
  endTimeUnixNano: "1544712661000000000",
};

function onlySpan(text: string, filter = keepAll, decodeLimits?: DecodeLimits): DecodedSpan {
  const spans = decodeOtlpJson(text, filter, decodeLimits).resourceSpans.flatMap((r) => r.spans);
  expect(spans).toHaveLength(1);
  return spans[0] as DecodedSpan;
}

function decodeError(text: string, filter = keepAll, decodeLimits?: DecodeLimits): string {
  try {
    decodeOtlpJson(text, filter, decodeLimits);
  } catch (error) {
    expect(error).toBeInstanceOf(OtlpDecodeError);
    return (error as Error).message;
  }
  throw new Error("decoded without error");
}

describe("decodeOtlpJson on the official encoding", () => {
  it("decodes a vLLM batch to the same spans as the protobuf decoder does", () => {
    const spans = [
      ...vllmBatch(3),
      readableSpan({
        spanId: "00000000000000ff",
        parentSpanId: "00f067aa0ba902b7",
        kind: SpanKind.CLIENT,
        status: { code: SpanStatusCode.ERROR, message: "aborted" },
        resource: vllmResource("vllm-1"),
        attributes: {
          "gen_ai.request.id": "r",
          "gen_ai.usage.prompt_tokens": -5,
          "gen_ai.response.finish_reasons": ["stop", "length"],
        },
        events: [
          {
            name: "QUEUE_START",
            time: [1_700_000_000, 42],
            attributes: { "gen_ai.latency.e2e": 1.5, x: 1 },
            droppedAttributesCount: 0,
          },
        ],
      }),
    ];
    const fromJson = decodeOtlpJson(toJsonText(spans), vllmFilter);
    expectSameTraces(fromJson, decodeOtlpProtobuf(toProtobuf(spans), vllmFilter));
    expect(fromJson.resourceSpans.map((r) => r.spans.length)).toEqual([3, 1]);
    expect(fromJson.resourceSpans[1]?.spans[0]).toMatchObject({
      kind: 3,
      statusCode: 2,
      parentSpanId: "00f067aa0ba902b7",
    });
    // eslint-disable-next-line no-loss-of-precision -- the nanosecond timestamp as sent, in ms; compared to 3 decimals
    expect(fromJson.resourceSpans[1]?.spans[0]?.events[0]?.timeMs).toBeCloseTo(1_700_000_000_000.000042, 3);
  });

  it("decodes a vLLM llm_request span's allow-listed attributes and leaves the prompt out", () => {
    const text = toJsonText([readableSpan({ attributes: vllmAttributes(3, 8192) })]);
    expect(text).toContain("PROMPT-SECRET");
    const decoded = decodeOtlpJson(text, vllmFilter);
    const span = decoded.resourceSpans[0]?.spans[0];
    // eslint-disable-next-line no-loss-of-precision -- the nanosecond timestamp as sent, in ms; compared to 3 decimals
    expect(span?.startTimeMs).toBeCloseTo(1_700_000_000_123.456789, 3);
    expect(span?.attributes.get("gen_ai.latency.e2e")).toBe(2.376543211);
    expect(span?.attributes.get("gen_ai.usage.prompt_tokens")).toBe(515);
    expect(span?.attributes.get("gen_ai.request.id")).toBe("cmpl-00000003");
    expect(span?.attributes.has("gen_ai.prompt")).toBe(false);
    expect(dumpTraces(decoded)).not.toContain("PROMPT-SECRET");
  });
});

describe("decodeOtlpJson on hand-written bodies", () => {
  it("reads the OTLP example's uppercase hex ids and string 64-bit integers", () => {
    const span = onlySpan(
      request({
        ...baseSpan,
        traceId: "5B8EFFF798038103D269B633813FC60C",
        spanId: "EEE19B7EC3C1B174",
        parentSpanId: "EEE19B7EC3C1B173",
        attributes: [
          { key: "my.tokens", value: { intValue: "9007199254740993" } },
          { key: "small", value: { intValue: "-42" } },
        ],
      }),
    );
    expect(span).toMatchObject({
      traceId: "5b8efff798038103d269b633813fc60c",
      spanId: "eee19b7ec3c1b174",
      parentSpanId: "eee19b7ec3c1b173",
      startTimeMs: 1_544_712_660_000,
      endTimeMs: 1_544_712_661_000,
    });
    expect(Object.fromEntries(span.attributes)).toEqual({ "my.tokens": 9007199254740992, small: -42 });
  });

  it("reads 64-bit integers written as JSON numbers", () => {
    const span = onlySpan(
      request({
        ...baseSpan,
        startTimeUnixNano: 1544712660000000000,
        attributes: [{ key: "n", value: { intValue: 7 } }],
      }),
    );
    expect(span.startTimeMs).toBe(1_544_712_660_000);
    expect(span.attributes.get("n")).toBe(7);
  });

  it.each([
    [2, 0, 2],
    ["SPAN_KIND_CONSUMER", "STATUS_CODE_ERROR", 5],
    ["SPAN_KIND_INTERNAL", "STATUS_CODE_OK", 1],
  ])("reads kind %j and status %j (integers or enum names)", (kind, code, expectedKind) => {
    const span = onlySpan(request({ ...baseSpan, kind, status: { code } }));
    expect(span.kind).toBe(expectedKind);
    expect(span.statusCode).toBe(typeof code === "number" ? code : code === "STATUS_CODE_ERROR" ? 2 : 1);
  });

  it("accepts the snake_case field names of the protobuf JSON mapping", () => {
    const body = JSON.stringify({
      resource_spans: [
        {
          resource: { attributes: [{ key: "service.name", value: { string_value: "vllm" } }] },
          scope_spans: [
            {
              spans: [
                {
                  trace_id: baseSpan.traceId,
                  span_id: baseSpan.spanId,
                  parent_span_id: "eee19b7ec3c1b173",
                  name: "llm_request",
                  start_time_unix_nano: "1000000",
                  end_time_unix_nano: "3000000",
                  attributes: [
                    { key: "d", value: { double_value: 0.5 } },
                    { key: "i", value: { int_value: "3" } },
                    { key: "b", value: { bool_value: true } },
                    { key: "a", value: { array_value: { values: [{ string_value: "x" }] } } },
                  ],
                  events: [{ name: "QUEUE_START", time_unix_nano: "2000000" }],
                },
              ],
            },
          ],
        },
      ],
    });
    const decoded = decodeOtlpJson(body, keepAll);
    expect(decoded.resourceSpans[0]?.resource.get("service.name")).toBe("vllm");
    const span = decoded.resourceSpans[0]?.spans[0];
    expect(span).toMatchObject({
      parentSpanId: "eee19b7ec3c1b173",
      startTimeMs: 1,
      endTimeMs: 3,
      events: [{ name: "QUEUE_START", timeMs: 2 }],
    });
    expect(Object.fromEntries(span?.attributes ?? [])).toEqual({ d: 0.5, i: 3, b: true, a: ["x"] });
  });

  it("ignores unknown fields at every level", () => {
    const body = JSON.stringify({
      future: { x: [1, 2] },
      resourceSpans: [
        {
          schemaUrl: "https://opentelemetry.io/schemas/1.21.0",
          unknown: true,
          resource: { attributes: [], droppedAttributesCount: 0, entityRefs: [{}] },
          scopeSpans: [
            {
              scope: { name: "s", version: "1" },
              extra: "x",
              spans: [
                {
                  ...baseSpan,
                  flags: 257,
                  traceState: "a=b",
                  links: [{ traceId: "zz" }],
                  newField: { deep: [] },
                  status: { code: 2, message: "m", more: 1 },
                },
              ],
            },
          ],
        },
      ],
    });
    expect(onlySpan(body)).toMatchObject({ name: "llm_request", statusCode: 2, kind: 2 });
  });

  it("treats JSON null as an absent field", () => {
    const span = onlySpan(
      request({ ...baseSpan, parentSpanId: null, attributes: null, events: null, status: null, kind: null }),
    );
    expect(span).toMatchObject({ parentSpanId: "", kind: 0, statusCode: 0, events: [] });
  });

  it("reads doubles written as strings, including NaN and infinities", () => {
    const values = ["NaN", "Infinity", "-Infinity", "1.5", 2];
    const span = onlySpan(
      request({ ...baseSpan, attributes: values.map((v, i) => ({ key: `d${i}`, value: { doubleValue: v } })) }),
    );
    expect([...span.attributes.values()]).toEqual([
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      1.5,
      2,
    ]);
  });

  it("counts spans whose ids are not hex of the right length (base64 included) as rejected", () => {
    const decoded = decodeOtlpJson(
      request(
        { ...baseSpan, traceId: "W47/95gDgQPSabYzgT/GDA==" },
        { ...baseSpan, spanId: "eee19b7ec3c1b17g" },
        { ...baseSpan, parentSpanId: "eee19b7ec3c1b1" },
        { ...baseSpan, spanId: "00000000000000aa" },
      ),
      keepAll,
    );
    expect(decoded.rejectedSpans).toBe(3);
    expect(decoded.rejectReason).toBe("traceId of 24 characters is not 32 hex digits");
    expect(decoded.resourceSpans[0]?.spans.map((s) => s.spanId)).toEqual(["00000000000000aa"]);
  });

  it("accepts a span without ids, reading them as empty strings", () => {
    expect(onlySpan(request({ name: "anonymous" }))).toMatchObject({
      traceId: "",
      spanId: "",
      parentSpanId: "",
      startTimeMs: 0,
    });
  });

  it("keeps the scalar items of array attributes and leaves out maps and bytes", () => {
    const span = onlySpan(
      request({
        ...baseSpan,
        attributes: [
          {
            key: "arr",
            value: {
              arrayValue: {
                values: [
                  { stringValue: "a" },
                  { intValue: "2" },
                  { arrayValue: { values: [] } },
                  { kvlistValue: { values: [] } },
                ],
              },
            },
          },
          { key: "map", value: { kvlistValue: { values: [{ key: "k", value: { stringValue: "v" } }] } } },
          { key: "bytes", value: { bytesValue: "AQI=" } },
          { key: "empty", value: {} },
        ],
      }),
    );
    expect(Object.fromEntries(span.attributes)).toEqual({ arr: ["a", 2] });
  });

  it("truncates kept strings past maxStringBytes without splitting a character", () => {
    const span = onlySpan(
      request({
        ...baseSpan,
        name: "n".repeat(20),
        attributes: [
          { key: "a", value: { stringValue: "abcdefghij" } },
          { key: "e", value: { stringValue: "éé😀" } },
        ],
      }),
      keepAll,
      limits({ maxStringBytes: 7 }),
    );
    expect(span.name).toBe("nnnnnnn");
    expect(Object.fromEntries(span.attributes)).toEqual({ a: "abcdefg", e: "éé" });
    expect(truncateUtf8("a😀b", 5)).toBe("a😀");
    expect(truncateUtf8("a😀b", 4)).toBe("a");
  });

  it("rejects values nested deeper than maxDepth under a kept key and ignores them under a dropped one", () => {
    let value: object = { stringValue: "x" };
    for (let i = 0; i < 9; i++) value = { arrayValue: { values: [value] } };
    const body = (key: string) => request({ ...baseSpan, attributes: [{ key, value }] });
    expect(decodeError(body("gen_ai.request.id"), vllmFilter)).toMatch(
      /^resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.attributes\[0\]\.value(\.arrayValue\.values\[0\]){8}: nested deeper than 8 levels$/,
    );
    expect(onlySpan(body("gen_ai.prompt"), vllmFilter).attributes.size).toBe(0);
  });

  it("throws past maxSpans and accepts exactly maxSpans", () => {
    const body = request(baseSpan, baseSpan, baseSpan);
    expect(decodeError(body, keepAll, limits({ maxSpans: 2 }))).toBe("more than 2 spans in one request");
    expect(decodeOtlpJson(body, keepAll, limits({ maxSpans: 3 })).resourceSpans[0]?.spans).toHaveLength(3);
  });

  it.each<[string, string, string]>([
    ["invalid JSON", "{", "invalid JSON at position 1"],
    ["JSON cut short after a value", '{"a": 1', "invalid JSON at position 7"],
    ["a body that is not an object", "[]", "body: expected a JSON object"],
    ["resourceSpans that is not an array", '{"resourceSpans":{}}', "resourceSpans: expected an array"],
    [
      "a span that is not an object",
      request(baseSpan, 3),
      "resourceSpans[0].scopeSpans[0].spans[1]: expected an object",
    ],
    [
      "a boolean start time",
      request({ ...baseSpan, startTimeUnixNano: true }),
      "resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano: expected a 64-bit integer",
    ],
    [
      "a fractional start time",
      request({ ...baseSpan, startTimeUnixNano: "1.5" }),
      "resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano: expected a 64-bit integer",
    ],
    [
      "a negative start time",
      request({ ...baseSpan, startTimeUnixNano: "-1" }),
      "resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano: expected an unsigned 64-bit integer",
    ],
    [
      "a numeric trace id",
      request({ ...baseSpan, traceId: 5 }),
      "resourceSpans[0].scopeSpans[0].spans[0].traceId: expected a string",
    ],
    [
      "an unknown kind name",
      request({ ...baseSpan, kind: "SERVER" }),
      "resourceSpans[0].scopeSpans[0].spans[0].kind: expected an enum integer or one of SPAN_KIND_UNSPECIFIED, SPAN_KIND_INTERNAL, SPAN_KIND_SERVER, SPAN_KIND_CLIENT, SPAN_KIND_PRODUCER, SPAN_KIND_CONSUMER",
    ],
    [
      "an intValue with letters",
      request({ ...baseSpan, attributes: [{ key: "k", value: { intValue: "12abc" } }] }),
      "resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value.intValue: expected a 64-bit integer",
    ],
    [
      "a numeric attribute key",
      request({ ...baseSpan, attributes: [{ key: 1 }] }),
      "resourceSpans[0].scopeSpans[0].spans[0].attributes[0].key: expected a string",
    ],
    [
      "a string boolValue",
      request({ ...baseSpan, attributes: [{ key: "k", value: { boolValue: "true" } }] }),
      "resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value.boolValue: expected a boolean",
    ],
    [
      "an event time that is an object",
      request({ ...baseSpan, events: [{}, { timeUnixNano: {} }] }),
      "resourceSpans[0].scopeSpans[0].spans[0].events[1].timeUnixNano: expected a 64-bit integer",
    ],
    [
      "a resource that is a string",
      JSON.stringify({ resourceSpans: [{ resource: "r" }] }),
      "resourceSpans[0].resource: expected an object",
    ],
  ])("throws OtlpDecodeError naming the JSON path on %s", (_case, body, message) => {
    expect(decodeError(body)).toBe(message);
  });

  it("does not quote the body in the error for invalid JSON (V8's message would)", () => {
    const error = decodeError(`{"attributes": [{"key": "gen_ai.prompt", "value": PROMPT-SECRET of the user}]}`);
    expect(error).toBe("invalid JSON");
    expect(error).not.toContain("PROMPT");
  });
});
