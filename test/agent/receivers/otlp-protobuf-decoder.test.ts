import { SpanKind, SpanStatusCode, trace, ROOT_CONTEXT } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import {
  OtlpDecodeError,
  type AttributeFilter,
  type DecodeLimits,
  type DecodedSpan,
} from "../../../agent/receivers/otlp-model.js";
import { decodeOtlpProtobuf } from "../../../agent/receivers/otlp-protobuf-decoder.js";
import {
  concat,
  dumpTraces,
  generatedOtlpRoot,
  hrTimeToMs,
  nestedArrayValue,
  promptText,
  readableSpan,
  toProtobuf,
  vllmAttributes,
  vllmBatch,
  vllmFilter,
  vllmResource,
  wire,
} from "./otlp-fixtures.js";

const limits = (overrides: Partial<DecodeLimits>): DecodeLimits => ({
  maxDepth: 8,
  maxStringBytes: 4096,
  maxSpans: 100_000,
  ...overrides,
});
const keepAll: AttributeFilter = () => true;
const root = generatedOtlpRoot().opentelemetry.proto;

/** The only span of a decoded body. */
function onlySpan(body: Uint8Array, filter = vllmFilter, decodeLimits?: DecodeLimits): DecodedSpan {
  const decoded = decodeOtlpProtobuf(body, filter, decodeLimits);
  const spans = decoded.resourceSpans.flatMap((resource) => resource.spans);
  expect(spans).toHaveLength(1);
  return spans[0] as DecodedSpan;
}

/** A request of one resource and one scope around already-encoded Span bytes. */
function requestAround(span: Uint8Array, extra: Uint8Array = new Uint8Array()): Uint8Array {
  return wire.len(1, wire.len(2, concat(wire.len(2, concat(span, extra)))));
}

function decodeError(body: Uint8Array, filter = keepAll, decodeLimits?: DecodeLimits): string {
  try {
    decodeOtlpProtobuf(body, filter, decodeLimits);
  } catch (error) {
    expect(error).toBeInstanceOf(OtlpDecodeError);
    return (error as Error).message;
  }
  throw new Error("decoded without error");
}

describe("decodeOtlpProtobuf on the official encoding", () => {
  it("decodes a vLLM llm_request span with its allow-listed attributes, typed as sent", () => {
    const span = onlySpan(
      toProtobuf([readableSpan({ attributes: vllmAttributes(7), parentSpanId: "00f067aa0ba902b7" })]),
    );
    expect(span).toMatchObject({
      traceId: "5b8efff798038103d269b633813fc60c",
      spanId: "eee19b7ec3c1b174",
      parentSpanId: "00f067aa0ba902b7",
      name: "llm_request",
      kind: 2,
      statusCode: 0,
      events: [],
    });
    expect(Object.fromEntries(span.attributes)).toEqual({
      "gen_ai.request.id": "cmpl-00000007",
      "gen_ai.usage.prompt_tokens": 519,
      "gen_ai.usage.completion_tokens": 128,
      "gen_ai.request.max_tokens": 256,
      "gen_ai.response.finish_reasons": '["stop"]',
      "gen_ai.latency.time_in_queue": 0.0125,
      "gen_ai.latency.time_to_first_token": 0.25,
      "gen_ai.latency.e2e": 2.376543211,
      "gen_ai.latency.time_in_model_prefill": 0.2375,
      "gen_ai.latency.time_in_model_decode": 2.1,
      "gen_ai.latency.time_in_model_inference": 2.3375,
    });
  });

  it("leaves the prompt attribute out of everything it returns", () => {
    const body = toProtobuf([readableSpan({ attributes: vllmAttributes(1, 64 * 1024) })]);
    expect(Buffer.from(body).includes("PROMPT-SECRET")).toBe(true);
    const decoded = decodeOtlpProtobuf(body, vllmFilter);
    expect(decoded.resourceSpans[0]?.spans[0]?.attributes.has("gen_ai.prompt")).toBe(false);
    expect(dumpTraces(decoded)).not.toContain("PROMPT-SECRET");
  });

  it("converts nanosecond times to milliseconds within 1e-6 relative error", () => {
    const start: [number, number] = [1_700_000_000, 123_456_789];
    const end: [number, number] = [1_700_000_002, 987_654_321];
    const span = onlySpan(toProtobuf([readableSpan({ start, end })]));
    // eslint-disable-next-line no-loss-of-precision -- the nanosecond timestamp as sent, in ms; compared to 3 decimals
    expect(span.startTimeMs).toBeCloseTo(1_700_000_000_123.456789, 3);
    expect(Math.abs(span.endTimeMs - hrTimeToMs(end)) / hrTimeToMs(end)).toBeLessThan(1e-6);
    expect(span.endTimeMs - span.startTimeMs).toBeCloseTo(2_864.197532, 3);
  });

  it("keeps span events with their names, times and allow-listed attributes (Triton phases)", () => {
    const event = (name: string, nanos: number) => ({
      name,
      time: [1_700_000_000, nanos] as [number, number],
      attributes: { "triton.model": "llama", "triton.batch": 4, secret: "x" },
      droppedAttributesCount: 0,
    });
    const span = onlySpan(
      toProtobuf([
        readableSpan({
          name: "compute",
          events: [event("QUEUE_START", 1_000_000), event("COMPUTE_START", 3_500_000), event("COMPUTE_END", 9_000_000)],
        }),
      ]),
      (key) => key.startsWith("triton."),
    );
    expect(span.events.map((e) => [e.name, e.timeMs, Object.fromEntries(e.attributes)])).toEqual([
      ["QUEUE_START", 1_700_000_000_001, { "triton.model": "llama", "triton.batch": 4 }],
      ["COMPUTE_START", 1_700_000_000_003.5, { "triton.model": "llama", "triton.batch": 4 }],
      ["COMPUTE_END", 1_700_000_000_009, { "triton.model": "llama", "triton.batch": 4 }],
    ]);
  });

  it.each([
    [SpanStatusCode.UNSET, 0],
    [SpanStatusCode.OK, 1],
    [SpanStatusCode.ERROR, 2],
  ])("reads status code %i as %i", (code, expected) => {
    expect(onlySpan(toProtobuf([readableSpan({ status: { code, message: "boom" } })])).statusCode).toBe(expected);
  });

  it.each([
    [SpanKind.INTERNAL, 1],
    [SpanKind.SERVER, 2],
    [SpanKind.CLIENT, 3],
    [SpanKind.PRODUCER, 4],
    [SpanKind.CONSUMER, 5],
  ])("reads API span kind %i as OTLP kind %i", (kind, expected) => {
    expect(onlySpan(toProtobuf([readableSpan({ kind })])).kind).toBe(expected);
  });

  it("keeps allow-listed resource attributes and drops the rest", () => {
    const decoded = decodeOtlpProtobuf(toProtobuf([readableSpan()]), vllmFilter);
    expect(Object.fromEntries(decoded.resourceSpans[0]?.resource ?? [])).toEqual({
      "service.name": "vllm-server",
      "k8s.pod.name": "vllm-0",
      "k8s.namespace.name": "inference",
    });
  });

  it("groups spans by resource and flattens their scopes", () => {
    const pod0 = vllmResource("vllm-0");
    const pod1 = vllmResource("vllm-1");
    const decoded = decodeOtlpProtobuf(
      toProtobuf([
        readableSpan({ resource: pod0, scope: "a", spanId: "0000000000000001" }),
        readableSpan({ resource: pod0, scope: "b", spanId: "0000000000000002" }),
        readableSpan({ resource: pod1, scope: "a", spanId: "0000000000000003" }),
      ]),
      vllmFilter,
    );
    expect(decoded.resourceSpans.map((r) => [r.resource.get("k8s.pod.name"), r.spans.map((s) => s.spanId)])).toEqual([
      ["vllm-0", ["0000000000000001", "0000000000000002"]],
      ["vllm-1", ["0000000000000003"]],
    ]);
  });

  it("decodes spans recorded by a real BasicTracerProvider", async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      resource: vllmResource(),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const tracer = provider.getTracer("vllm.llm_engine");
    const parent = tracer.startSpan("llm_request", { kind: SpanKind.SERVER, startTime: [1_700_000_000, 0] });
    const child = tracer.startSpan(
      "prefill",
      { startTime: [1_700_000_000, 5_000_000] },
      trace.setSpan(ROOT_CONTEXT, parent),
    );
    child.setAttribute("gen_ai.usage.prompt_tokens", 2048);
    child.end([1_700_000_000, 250_000_000]);
    parent.setStatus({ code: SpanStatusCode.ERROR, message: "aborted" });
    parent.end([1_700_000_001, 0]);
    await provider.forceFlush();
    const recorded = exporter.getFinishedSpans();
    const decoded = decodeOtlpProtobuf(toProtobuf(recorded), vllmFilter).resourceSpans[0]?.spans ?? [];
    expect(
      decoded.map((s) => [s.name, s.traceId, s.spanId, s.parentSpanId, s.statusCode, s.endTimeMs - s.startTimeMs]),
    ).toEqual([
      ["prefill", parent.spanContext().traceId, child.spanContext().spanId, parent.spanContext().spanId, 0, 245],
      ["llm_request", parent.spanContext().traceId, parent.spanContext().spanId, "", 2, 1000],
    ]);
    expect(decoded[0]?.attributes.get("gen_ai.usage.prompt_tokens")).toBe(2048);
    await provider.shutdown();
  });

  it("reads negative and large int64 attribute values as Numbers", () => {
    const span = onlySpan(toProtobuf([readableSpan({ attributes: { neg: -5, big: 2 ** 40 + 3, zero: 0 } })]), keepAll);
    expect(Object.fromEntries(span.attributes)).toEqual({ neg: -5, big: 2 ** 40 + 3, zero: 0 });
  });

  it("keeps the scalar items of array attributes and leaves out maps, bytes and nested arrays", () => {
    const attributes = {
      strings: ["a", "b"],
      numbers: [1, 2.5, -3],
      flags: [true, false],
      nested: [[1], 2] as unknown as number[],
      map: { a: 1 } as unknown as string,
      bytes: new Uint8Array([1, 2]) as unknown as string,
    };
    const span = onlySpan(toProtobuf([readableSpan({ attributes })]), keepAll);
    expect(Object.fromEntries(span.attributes)).toEqual({
      strings: ["a", "b"],
      numbers: [1, 2.5, -3],
      flags: [true, false],
      nested: [2],
    });
  });

  it("truncates kept strings past maxStringBytes without splitting a character, and drops longer keys", () => {
    const span = onlySpan(
      toProtobuf([
        readableSpan({ name: "n".repeat(20), attributes: { a: "abcdefghij", e: "éééééé", "long-key": "x" } }),
      ]),
      keepAll,
      limits({ maxStringBytes: 5 }),
    );
    expect(span.name).toBe("nnnnn");
    expect(Object.fromEntries(span.attributes)).toEqual({ a: "abcde", e: "éé" });
  });

  it("counts spans with a wrong-length trace or span id as rejected and keeps the others", () => {
    const decoded = decodeOtlpProtobuf(
      toProtobuf([
        readableSpan({ traceId: "0102030405060708090a", spanId: "0000000000000001" }),
        readableSpan({ spanId: "000000000002" }),
        readableSpan({ spanId: "0000000000000003" }),
      ]),
      vllmFilter,
    );
    expect(decoded.rejectedSpans).toBe(2);
    expect(decoded.rejectReason).toBe("trace_id of 10 bytes (expected 16)");
    expect(decoded.resourceSpans[0]?.spans.map((s) => s.spanId)).toEqual(["0000000000000003"]);
  });

  it("accepts a span without ids, reading them as empty strings", () => {
    const span = root.trace.v1.Span.encode({ name: "anonymous", kind: 1 }).finish();
    expect(onlySpan(requestAround(span))).toMatchObject({
      traceId: "",
      spanId: "",
      parentSpanId: "",
      name: "anonymous",
      kind: 1,
    });
  });

  it("decodes a body that sits at an offset inside a larger buffer", () => {
    const body = toProtobuf([readableSpan({ attributes: vllmAttributes(2) })]);
    const backing = new Uint8Array(body.length + 11);
    backing.fill(0xff);
    backing.set(body, 7);
    const view = backing.subarray(7, 7 + body.length);
    expect(dumpTraces(decodeOtlpProtobuf(view, vllmFilter))).toBe(dumpTraces(decodeOtlpProtobuf(body, vllmFilter)));
  });

  it("decodes an empty body as a request without spans", () => {
    expect(decodeOtlpProtobuf(new Uint8Array(), vllmFilter)).toEqual({ resourceSpans: [], rejectedSpans: 0 });
  });

  it("throws past maxSpans and accepts exactly maxSpans", () => {
    const body = toProtobuf(vllmBatch(5, 16));
    expect(decodeError(body, vllmFilter, limits({ maxSpans: 4 }))).toBe("more than 4 spans in one request");
    expect(decodeOtlpProtobuf(body, vllmFilter, limits({ maxSpans: 5 })).resourceSpans[0]?.spans).toHaveLength(5);
  });
});

describe("decodeOtlpProtobuf on hand-made bodies", () => {
  const span = root.trace.v1.Span.encode({
    traceId: Buffer.from("5b8efff798038103d269b633813fc60c", "hex"),
    spanId: Buffer.from("eee19b7ec3c1b174", "hex"),
    name: "llm_request",
    kind: 2,
    startTimeUnixNano: 1_700_000_000_000_000_000,
    endTimeUnixNano: 1_700_000_001_000_000_000,
    status: { code: 2 },
  }).finish();

  it("skips unknown fields of every wire type in every message", () => {
    const unknown = wire.unknownFields();
    const anyValue = concat(root.common.v1.AnyValue.encode({ doubleValue: 0.25 }).finish(), unknown);
    const keyValue = (key: string) => concat(wire.string(1, key), wire.len(2, anyValue), unknown);
    const event = concat(wire.string(2, "QUEUE_START"), wire.len(3, keyValue("gen_ai.latency.e2e")), unknown);
    const status = concat(root.trace.v1.Status.encode({ code: 1 }).finish(), unknown);
    const fullSpan = concat(
      span,
      wire.len(9, keyValue("gen_ai.latency.e2e")),
      wire.len(11, event),
      wire.len(15, status),
      unknown,
    );
    const resource = concat(wire.len(1, keyValue("service.name")), unknown);
    const scopeSpans = concat(wire.len(1, concat(wire.string(1, "scope"), unknown)), wire.len(2, fullSpan), unknown);
    const body = concat(wire.len(1, concat(wire.len(1, resource), wire.len(2, scopeSpans), unknown)), unknown);

    const decoded = decodeOtlpProtobuf(body, vllmFilter);
    expect(decoded.resourceSpans[0]?.resource.get("service.name")).toBe(0.25);
    const only = decoded.resourceSpans[0]?.spans[0];
    expect(only).toMatchObject({ name: "llm_request", kind: 2, statusCode: 1, startTimeMs: 1_700_000_000_000 });
    expect(only?.attributes.get("gen_ai.latency.e2e")).toBe(0.25);
    expect(only?.events.map((e) => [e.name, e.attributes.get("gen_ai.latency.e2e")])).toEqual([["QUEUE_START", 0.25]]);
    expect(dumpTraces(decoded)).not.toContain("PROMPT-SECRET");
  });

  it("reads a KeyValue whose value comes before its key", () => {
    const keyValue = concat(
      wire.len(2, root.common.v1.AnyValue.encode({ intValue: 42 }).finish()),
      wire.string(1, "gen_ai.usage.prompt_tokens"),
    );
    expect(onlySpan(requestAround(span, wire.len(9, keyValue))).attributes.get("gen_ai.usage.prompt_tokens")).toBe(42);
  });

  it("skips a dropped attribute's value without reading it, even when the value is malformed", () => {
    const garbage = [0xff, 0xff, 0xff]; // a truncated varint if anyone parsed it
    const keyValue = concat(wire.string(1, "gen_ai.prompt"), wire.len(2, garbage));
    expect(onlySpan(requestAround(span, wire.len(9, keyValue))).attributes.size).toBe(0);
  });

  it("rejects values nested deeper than maxDepth under a kept key and skips them under a dropped one", () => {
    const keyValue = (key: string) => concat(wire.string(1, key), wire.len(2, nestedArrayValue(9)));
    expect(decodeError(requestAround(span, wire.len(9, keyValue("gen_ai.request.id"))), vllmFilter)).toBe(
      "attribute value nested deeper than 8 levels",
    );
    expect(onlySpan(requestAround(span, wire.len(9, keyValue("gen_ai.prompt")))).attributes.size).toBe(0);
    expect(
      onlySpan(
        requestAround(span, wire.len(9, keyValue("gen_ai.request.id"))),
        vllmFilter,
        limits({ maxDepth: 10 }),
      ).attributes.get("gen_ai.request.id"),
    ).toEqual([]);
  });

  it.each<[string, Uint8Array, string]>([
    ["a truncated varint", new Uint8Array([0x0a, 0x80]), "truncated varint at byte 1"],
    [
      "a varint longer than 10 bytes",
      new Uint8Array([0x10, ...new Array<number>(10).fill(0xff), 0x01]),
      "varint longer than 10 bytes at byte 1",
    ],
    [
      "a length past the end",
      new Uint8Array([0x0a, 0x05, 0x00]),
      "length 5 at byte 1 runs past the end of its message",
    ],
    [
      "a nested length past its parent",
      concat([0x0a, 0x03], [0x12, 0x05, 0x00]),
      "length 5 at byte 3 runs past the end of its message",
    ],
    ["a truncated fixed64", concat([0x11], [1, 2, 3]), "truncated 8-byte field at byte 1"],
    ["a truncated fixed32", concat([0x15], [1, 2]), "truncated 4-byte field at byte 1"],
    ["a start group", new Uint8Array([0x0b]), "unsupported group (wire type 3) at byte 0"],
    ["an end group", new Uint8Array([0x0c]), "unsupported group (wire type 4) at byte 0"],
    ["wire type 6", new Uint8Array([0x0e]), "invalid wire type 6 at byte 0"],
    ["wire type 7", new Uint8Array([0x0f]), "invalid wire type 7 at byte 0"],
    ["field number 0", new Uint8Array([0x02, 0x00]), "invalid field number in tag at byte 0"],
    [
      "resource_spans as a varint",
      new Uint8Array([0x08, 0x01]),
      "ExportTraceServiceRequest.field 1 has wire type 0, expected 2, before byte 1",
    ],
    [
      "a span name as a varint",
      requestAround(new Uint8Array([0x28, 0x01])),
      "Span.name has wire type 0, expected 2, before byte 7",
    ],
    [
      "a start time as a varint",
      requestAround(new Uint8Array([0x38, 0x01])),
      "Span.start_time_unix_nano has wire type 0, expected 1, before byte 7",
    ],
  ])("throws OtlpDecodeError on %s", (_case, body, message) => {
    expect(decodeError(body)).toBe(message);
  });

  it("throws on a body cut inside a span's attributes rather than returning a partial span", () => {
    const body = toProtobuf([readableSpan({ attributes: vllmAttributes(1, 100) })]);
    const truncated = body.subarray(0, body.length - 10);
    expect(decodeError(truncated, vllmFilter)).toMatch(/runs past the end of its message|truncated/);
  });

  it("keeps the prompt out of the output even when it sits in an unknown field", () => {
    const prompt = wire.string(2000, promptText(512));
    const decoded = decodeOtlpProtobuf(requestAround(span, prompt), keepAll);
    expect(dumpTraces(decoded)).not.toContain("PROMPT-SECRET");
  });
});
