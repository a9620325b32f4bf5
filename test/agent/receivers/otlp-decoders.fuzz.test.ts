import { SpanKind, SpanStatusCode, type Attributes } from "@opentelemetry/api";
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace-base";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeOtlpJson } from "../../../agent/receivers/otlp-json-decoder.js";
import {
  OtlpDecodeError,
  type AttributeFilter,
  type DecodeLimits,
  type DecodedTraces,
} from "../../../agent/receivers/otlp-model.js";
import { decodeOtlpProtobuf } from "../../../agent/receivers/otlp-protobuf-decoder.js";
import {
  concat,
  nestedArrayValue,
  readableSpan,
  toJsonText,
  toProtobuf,
  vllmAttributes,
  vllmFilter,
  vllmResource,
  wire,
} from "./otlp-fixtures.js";
import { expectSameTraces } from "./otlp-expect.js";

const RUNS = 300;
const keepAll: AttributeFilter = () => true;
const filters = fc.constantFrom(keepAll, vllmFilter);

/** Slowest single decode seen by `settle`, checked at the end of each property. */
let slowestMs = 0;

/** Runs a decode: it must return DecodedTraces or throw OtlpDecodeError, nothing else. */
function settle(decode: () => DecodedTraces): DecodedTraces | OtlpDecodeError {
  const started = performance.now();
  try {
    const decoded = decode();
    expect(Array.isArray(decoded.resourceSpans)).toBe(true);
    expect(decoded.rejectedSpans).toBeGreaterThanOrEqual(0);
    return decoded;
  } catch (error) {
    if (error instanceof OtlpDecodeError) return error;
    throw error;
  } finally {
    slowestMs = Math.max(slowestMs, performance.now() - started);
  }
}

function expectQuick(boundMs = 250): void {
  expect(slowestMs).toBeLessThan(boundMs);
  slowestMs = 0;
}

/** A small valid body with every message type the decoder reads. */
const validSpans = (): ReadableSpan[] => [
  readableSpan({
    attributes: {
      ...vllmAttributes(1, 64),
      list: ["a", "b"],
      nested: [[1], 2] as unknown as number[],
      map: { k: "v" } as unknown as string,
    },
    parentSpanId: "00f067aa0ba902b7",
    status: { code: SpanStatusCode.ERROR, message: "boom" },
    events: [
      {
        name: "QUEUE_START",
        time: [1_700_000_000, 1],
        attributes: { "gen_ai.request.id": "r" },
        droppedAttributesCount: 0,
      },
    ],
  }),
  readableSpan({
    spanId: "0000000000000002",
    resource: vllmResource("vllm-1"),
    attributes: { "gen_ai.usage.prompt_tokens": -7 },
  }),
];
const validProtobuf = toProtobuf(validSpans());
const validJson = toJsonText(validSpans());

describe("decodeOtlpProtobuf on hostile bytes", () => {
  it("returns or throws OtlpDecodeError on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), filters, (bytes, filter) => {
        settle(() => decodeOtlpProtobuf(bytes, filter));
      }),
      { numRuns: RUNS },
    );
    expectQuick();
  });

  it("returns or throws OtlpDecodeError on a valid body truncated at every offset", () => {
    let errors = 0;
    for (let end = 0; end < validProtobuf.length; end++) {
      if (settle(() => decodeOtlpProtobuf(validProtobuf.subarray(0, end), keepAll)) instanceof OtlpDecodeError)
        errors++;
    }
    // Only cuts at the boundary between the two resourceSpans (and the empty body) leave a valid message.
    expect(errors).toBe(validProtobuf.length - 2);
    expectQuick();
  });

  it("returns or throws OtlpDecodeError when bytes of a valid body are changed", () => {
    const mutation = fc.record({
      at: fc.nat({ max: validProtobuf.length - 1 }),
      value: fc.integer({ min: 0, max: 255 }),
    });
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), filters, (mutations, filter) => {
        const body = validProtobuf.slice();
        for (const { at, value } of mutations) body[at] = value;
        settle(() => decodeOtlpProtobuf(body, filter));
      }),
      { numRuns: RUNS },
    );
    expectQuick();
  });

  it("returns or throws OtlpDecodeError when a byte's wire-type bits are changed", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: validProtobuf.length - 1 }),
        fc.integer({ min: 0, max: 7 }),
        filters,
        (at, wireType, filter) => {
          const body = validProtobuf.slice();
          body[at] = ((body[at] ?? 0) & ~7) | wireType;
          settle(() => decodeOtlpProtobuf(body, filter));
        },
      ),
      { numRuns: RUNS },
    );
    expectQuick();
  });

  it("rejects 10,000 nested arrays under a kept key and skips them under a dropped one", () => {
    const body = (key: string) =>
      wire.len(
        1,
        wire.len(2, wire.len(2, wire.len(9, concat(wire.string(1, key), wire.len(2, nestedArrayValue(10_000)))))),
      );
    expect(settle(() => decodeOtlpProtobuf(body("gen_ai.request.id"), vllmFilter))).toBeInstanceOf(OtlpDecodeError);
    const skipped = settle(() => decodeOtlpProtobuf(body("gen_ai.prompt"), vllmFilter));
    expect(skipped).not.toBeInstanceOf(OtlpDecodeError);
    const unbounded: DecodeLimits = { maxDepth: 1_000_000, maxStringBytes: 4096, maxSpans: 10 };
    expect(settle(() => decodeOtlpProtobuf(body("gen_ai.request.id"), vllmFilter, unbounded))).toBeInstanceOf(
      OtlpDecodeError,
    );
    expectQuick(1000);
  });

  it("truncates a 10 MB value under a kept key and skips it under a dropped one", () => {
    const huge = "y".repeat(10 * 1024 * 1024);
    const body = toProtobuf([readableSpan({ attributes: { "gen_ai.request.id": huge, "gen_ai.prompt": huge } })]);
    const decoded = settle(() => decodeOtlpProtobuf(body, vllmFilter)) as DecodedTraces;
    const attributes = decoded.resourceSpans[0]?.spans[0]?.attributes;
    expect(attributes?.get("gen_ai.request.id")).toBe("y".repeat(4096));
    expect(attributes?.has("gen_ai.prompt")).toBe(false);
    expectQuick(1000);
  });
});

/** Every [container, key] of a parsed JSON value, for replacing one node. */
function slots(value: unknown, into: [Record<string, unknown> | unknown[], string | number][] = []): typeof into {
  if (Array.isArray(value)) value.forEach((item, i) => (into.push([value, i]), slots(item, into)));
  else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      into.push([value as Record<string, unknown>, key]);
      slots(item, into);
    }
  }
  return into;
}

describe("decodeOtlpJson on hostile text", () => {
  it("returns or throws OtlpDecodeError on random JSON values", () => {
    fc.assert(
      fc.property(fc.jsonValue(), filters, (value, filter) => {
        settle(() => decodeOtlpJson(JSON.stringify(value) ?? "null", filter));
      }),
      { numRuns: RUNS },
    );
    expectQuick();
  });

  it("returns or throws OtlpDecodeError on random text", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), filters, (text, filter) => {
        settle(() => decodeOtlpJson(text, filter));
      }),
      { numRuns: RUNS },
    );
    expectQuick();
  });

  it("returns or throws OtlpDecodeError when one node of a valid body is replaced by a random value", () => {
    const count = slots(JSON.parse(validJson)).length;
    fc.assert(
      fc.property(fc.nat({ max: count - 1 }), fc.jsonValue({ maxDepth: 3 }), filters, (index, replacement, filter) => {
        const parsed: unknown = JSON.parse(validJson);
        const [container, key] = slots(parsed)[index] ?? [[], 0];
        (container as Record<string | number, unknown>)[key] = replacement;
        settle(() => decodeOtlpJson(JSON.stringify(parsed), filter));
      }),
      { numRuns: RUNS },
    );
    expectQuick();
  });

  it("rejects 10,000 nested arrays under a kept key and under a dropped one alike, before parsing (deeper than any OTLP request)", () => {
    const depth = 10_000;
    const value = '{"arrayValue":{"values":['.repeat(depth) + '{"stringValue":"x"}' + "]}}".repeat(depth);
    const body = (key: string) =>
      `{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"${key}","value":${value}}]}]}]}]}`;
    expect(settle(() => decodeOtlpJson(body("gen_ai.request.id"), vllmFilter))).toBeInstanceOf(OtlpDecodeError);
    expect(settle(() => decodeOtlpJson(body("gen_ai.prompt"), vllmFilter))).toBeInstanceOf(OtlpDecodeError);
    expect((settle(() => decodeOtlpJson(body("gen_ai.prompt"), vllmFilter)) as Error).message).toMatch(
      /^JSON nested deeper than 42 levels/,
    );
    const unbounded: DecodeLimits = { maxDepth: 1_000_000, maxStringBytes: 4096, maxSpans: 10 };
    expect(settle(() => decodeOtlpJson(body("gen_ai.request.id"), vllmFilter, unbounded))).toBeInstanceOf(
      OtlpDecodeError,
    );
    expect(settle(() => decodeOtlpJson("[".repeat(depth) + "]".repeat(depth), vllmFilter))).toBeInstanceOf(
      OtlpDecodeError,
    );
    expectQuick(1000);
  });

  it("truncates a 10 MB value under a kept key and skips it under a dropped one", () => {
    const huge = "y".repeat(10 * 1024 * 1024);
    const text = toJsonText([readableSpan({ attributes: { "gen_ai.request.id": huge, "gen_ai.prompt": huge } })]);
    const decoded = settle(() => decodeOtlpJson(text, vllmFilter)) as DecodedTraces;
    const attributes = decoded.resourceSpans[0]?.spans[0]?.attributes;
    expect(attributes?.get("gen_ai.request.id")).toBe("y".repeat(4096));
    expect(attributes?.has("gen_ai.prompt")).toBe(false);
    expectQuick(1000);
  });
});

describe("the two decoders", () => {
  const scalar = fc.oneof(
    fc.string({ unit: "grapheme", maxLength: 24 }),
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
    // Integral doubles are encoded as int64, so they stay within its range.
    fc.double({ min: -1e15, max: 1e15, noNaN: true }),
    fc.boolean(),
  );
  const attributes: fc.Arbitrary<Attributes> = fc.dictionary(
    fc.oneof(
      fc.constantFrom("gen_ai.request.id", "gen_ai.latency.e2e", "gen_ai.prompt", "service.name"),
      fc.string({ unit: "grapheme", maxLength: 20 }),
    ),
    fc.oneof(scalar, fc.array(scalar, { maxLength: 4 })),
    { maxKeys: 6 },
  ) as fc.Arbitrary<Attributes>;
  const hrTime = fc.tuple(fc.integer({ min: 0, max: 4_000_000_000 }), fc.integer({ min: 0, max: 999_999_999 }));
  const event: fc.Arbitrary<TimedEvent> = fc.record({
    name: fc.string({ unit: "grapheme", maxLength: 20 }),
    time: hrTime,
    attributes,
    droppedAttributesCount: fc.constant(0),
  });
  const hex = (bytes: number) =>
    fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString("hex"));
  const span = fc.record({
    name: fc.string({ unit: "grapheme", maxLength: 40 }),
    kind: fc.constantFrom(SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER),
    traceId: hex(16),
    spanId: hex(8),
    start: hrTime,
    end: hrTime,
    attributes,
    events: fc.array(event, { maxLength: 3 }),
    status: fc.record({ code: fc.constantFrom(SpanStatusCode.UNSET, SpanStatusCode.OK, SpanStatusCode.ERROR) }),
  });

  it("decode the official protobuf and JSON encodings of random spans to the same traces", () => {
    const small: DecodeLimits = { maxDepth: 8, maxStringBytes: 16, maxSpans: 100 };
    fc.assert(
      fc.property(fc.array(span, { minLength: 1, maxLength: 4 }), filters, (specs, filter) => {
        const spans = specs.map((spec) => readableSpan(spec));
        expectSameTraces(
          decodeOtlpJson(toJsonText(spans), filter, small),
          decodeOtlpProtobuf(toProtobuf(spans), filter, small),
        );
      }),
      { numRuns: 150 },
    );
  });
});
