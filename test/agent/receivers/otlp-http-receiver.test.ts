import { OTLPTraceExporter as JsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtoTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { CompressionAlgorithm } from "@opentelemetry/otlp-exporter-base";
import { JsonTraceSerializer } from "@opentelemetry/otlp-transformer";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import { connect } from "node:net";
import { gzipSync } from "node:zlib";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createAdmission, type Admission } from "../../../agent/receivers/admission.js";
import { startOtlpHttpReceiver, type HttpReceiverTimeouts } from "../../../agent/receivers/otlp-http-receiver.js";
import { PipelineUnavailableError, type RunningReceiver } from "../../../agent/receivers/otlp-responses.js";
import { silentLogger } from "../../../common/log.js";
import { vllmRawSpan } from "../../fixtures/spans.js";
import { rawRequest } from "./http-client.js";
import {
  PROMPT_TEXT,
  RecordingConsumer,
  allowListFilter,
  decoderReason,
  decodeExportResponse,
  decodeRpcStatus,
  gzipBomb,
  protobufRequest,
  receiverConfig,
  toReadableSpan,
  vllmSpans,
} from "./receiver-harness.js";

const PROTOBUF = { "content-type": "application/x-protobuf" };
const JSON_TYPE = { "content-type": "application/json" };

interface Harness {
  readonly receiver: RunningReceiver;
  readonly consumer: RecordingConsumer;
  readonly admission: Admission;
  readonly port: number;
}

let running: RunningReceiver | undefined;

/** `admissionBytes` shrinks the in-flight budget below what a valid configuration allows (≥ maxBodyBytes). */
async function start(
  configOverrides: Record<string, unknown> = {},
  timeouts: Partial<HttpReceiverTimeouts> = {},
  admissionBytes?: number,
): Promise<Harness> {
  const config = receiverConfig(configOverrides);
  const consumer = new RecordingConsumer();
  const admission = createAdmission(admissionBytes ?? config.maxInflightBytes);
  const receiver = await startOtlpHttpReceiver({
    config,
    filter: allowListFilter,
    consumer,
    log: silentLogger(),
    admission,
    timeouts,
  });
  running = receiver;
  return { receiver, consumer, admission, port: receiver.address.port };
}

afterEach(async () => {
  await running?.close();
  running = undefined;
});

function exportWith(exporter: SpanExporter, spans: ReadableSpan[]): Promise<{ code: number; error?: Error }> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

/** Every attribute value the consumer saw, resource and span, as text. */
function everyValueSeen(consumer: RecordingConsumer): string {
  return JSON.stringify(consumer.received, (_key, value: unknown) =>
    value instanceof Map ? [...value.entries()] : value,
  );
}

const singleSpanBody = (traceId = "4bf92f3577b34da6a3ce929d0e0e4736"): Uint8Array =>
  protobufRequest([toReadableSpan(vllmRawSpan({ traceId }))]);

describe("OTLP/HTTP receiver with the OpenTelemetry SDK exporters", () => {
  const exporters: [string, (url: string) => SpanExporter][] = [
    ["http/protobuf", (url) => new ProtoTraceExporter({ url })],
    ["http/protobuf with gzip", (url) => new ProtoTraceExporter({ url, compression: CompressionAlgorithm.GZIP })],
    ["http/json", (url) => new JsonTraceExporter({ url })],
    ["http/json with gzip", (url) => new JsonTraceExporter({ url, compression: CompressionAlgorithm.GZIP })],
  ];

  it.each(exporters)(
    "an %s exporter's spans reach the consumer with allow-listed attributes only",
    async (_name, create) => {
      const { consumer, port } = await start();
      const exporter = create(`http://127.0.0.1:${port}/v1/traces`);
      const spans = vllmSpans(3);
      const result = await exportWith(exporter, spans);
      await exporter.shutdown();

      expect(result.error).toBeUndefined();
      expect(result.code).toBe(0);
      const received = consumer.spans();
      expect(received.map((span) => span.name)).toEqual(["llm_request", "llm_request", "llm_request"]);
      expect(received.map((span) => span.traceId)).toEqual(spans.map((span) => span.spanContext().traceId));
      expect(received.map((span) => span.spanId)).toEqual(spans.map((span) => span.spanContext().spanId));
      expect(received[1]?.attributes).toEqual(
        new Map<string, unknown>([
          ["gen_ai.usage.prompt_tokens", 101],
          ["gen_ai.latency.e2e", 2.4813],
        ]),
      );
      expect(received[0]?.startTimeMs).toBeCloseTo(vllmRawSpan().startTimeMs, 3);
      expect(consumer.received[0]?.resourceSpans[0]?.resource).toEqual(
        new Map([
          ["service.name", "vllm-server"],
          ["k8s.pod.name", "llama-8b-vllm-7c9d8f6b5-x2kqp"],
        ]),
      );
      expect(everyValueSeen(consumer)).not.toContain("PROMPT-SECRET");
      expect(everyValueSeen(consumer)).toContain("llama-8b-vllm");
    },
  );
});

describe("OTLP/HTTP receiver responses", () => {
  it("a protobuf request that is fully accepted gets 200 with an empty protobuf response", async () => {
    const { port } = await start();
    const response = await rawRequest(port, { headers: PROTOBUF, body: singleSpanBody() });
    expect(response.status).toBe(200);
    expect(response.headers["content-type"]).toBe("application/x-protobuf");
    expect(response.body.length).toBe(0);
  });

  it("a JSON request with a charset parameter gets 200 with an empty JSON response", async () => {
    const { consumer, port } = await start();
    const body = new TextDecoder().decode(JsonTraceSerializer.serializeRequest(vllmSpans(2)));
    const response = await rawRequest(port, { headers: { "content-type": "application/json; charset=utf-8" }, body });
    expect(response.status).toBe(200);
    expect(response.headers["content-type"]).toBe("application/json");
    expect(response.body.toString()).toBe("{}");
    expect(consumer.spans()).toHaveLength(2);
  });

  it("a deflate-encoded protobuf body is decoded", async () => {
    const { consumer, port } = await start();
    const { deflateSync } = await import("node:zlib");
    const response = await rawRequest(port, {
      headers: { ...PROTOBUF, "content-encoding": "deflate" },
      body: deflateSync(singleSpanBody()),
    });
    expect(response.status).toBe(200);
    expect(consumer.spans().map((span) => span.spanId)).toEqual(["00f067aa0ba902b7"]);
  });

  it("a span with a 3-byte trace id comes back in partial_success of a protobuf response", async () => {
    const { consumer, port } = await start();
    consumer.result = { rejectedSpans: 2, message: "no runtime profile matched" };
    const body = protobufRequest([
      toReadableSpan(vllmRawSpan({ traceId: "abcdef" })),
      toReadableSpan(vllmRawSpan({ spanId: "00f067aa0ba902b8" })),
    ]);
    const response = await rawRequest(port, { headers: PROTOBUF, body });
    expect(response.status).toBe(200);
    const partial = decodeExportResponse(response.body);
    expect(partial?.rejectedSpans).toBe(3);
    expect(partial?.errorMessage).toMatch(/trace.?id/i);
    expect(partial?.errorMessage).toContain("no runtime profile matched");
    expect(consumer.spans().map((span) => span.spanId)).toEqual(["00f067aa0ba902b8"]);
  });

  it("a span with a 3-byte trace id comes back in partialSuccess of a JSON response", async () => {
    const { port } = await start();
    const body = JsonTraceSerializer.serializeRequest([toReadableSpan(vllmRawSpan({ traceId: "abcdef" }))]);
    const response = await rawRequest(port, { headers: JSON_TYPE, body: body ?? "" });
    expect(response.status).toBe(200);
    expect(response.headers["content-type"]).toBe("application/json");
    const parsed = JSON.parse(response.body.toString()) as {
      partialSuccess: { rejectedSpans: string; errorMessage: string };
    };
    expect(parsed.partialSuccess.rejectedSpans).toBe("1");
    expect(parsed.partialSuccess.errorMessage).not.toBe("");
  });
});

describe("OTLP/HTTP receiver errors", () => {
  it("an undecodable protobuf body gets 400 with a protobuf Status of code 3 and the decoder's reason", async () => {
    const { consumer, port } = await start();
    const body = Uint8Array.from([0x0a, 0x7f, 0x01]);
    const reason = decoderReason(body);
    expect(reason).not.toBe("");
    const response = await rawRequest(port, { headers: PROTOBUF, body });
    expect(response.status).toBe(400);
    expect(response.headers["content-type"]).toBe("application/x-protobuf");
    expect(decodeRpcStatus(response.body)).toEqual({ code: 3, message: reason, details: [] });
    expect(consumer.received).toHaveLength(0);
  });

  it("an undecodable JSON body gets 400 with a JSON Status of code 3", async () => {
    const { port } = await start();
    const response = await rawRequest(port, { headers: JSON_TYPE, body: '{"resourceSpans": [' });
    expect(response.status).toBe(400);
    expect(response.headers["content-type"]).toBe("application/json");
    const status = JSON.parse(response.body.toString()) as { code: number; message: string };
    expect(status.code).toBe(3);
    expect(status.message).toMatch(/JSON/);
  });

  it("a body that is not valid gzip gets 400 naming gzip", async () => {
    const { port } = await start();
    const response = await rawRequest(port, {
      headers: { ...PROTOBUF, "content-encoding": "gzip" },
      body: Buffer.from("definitely not gzip"),
    });
    expect(response.status).toBe(400);
    const status = decodeRpcStatus(response.body);
    expect(status.code).toBe(3);
    expect(status.message).toMatch(/gzip/);
  });

  it.each(["GET", "PUT", "DELETE"])("%s on /v1/traces gets 405 with Allow: POST", async (method) => {
    const { port } = await start();
    const response = await rawRequest(port, { method });
    expect(response.status).toBe(405);
    expect(response.headers["allow"]).toBe("POST");
  });

  it("a POST to another path gets 404", async () => {
    const { port } = await start();
    const response = await rawRequest(port, { path: "/v1/metrics", headers: PROTOBUF, body: singleSpanBody() });
    expect(response.status).toBe(404);
  });

  it.each(["text/plain", "application/grpc", ""])("content type %j gets 415", async (contentType) => {
    const { consumer, port } = await start();
    const response = await rawRequest(port, {
      headers: contentType === "" ? {} : { "content-type": contentType },
      body: singleSpanBody(),
    });
    expect(response.status).toBe(415);
    expect(consumer.received).toHaveLength(0);
  });

  it("an unsupported content encoding gets 415", async () => {
    const { port } = await start();
    const response = await rawRequest(port, {
      headers: { ...PROTOBUF, "content-encoding": "br" },
      body: singleSpanBody(),
    });
    expect(response.status).toBe(415);
  });

  it("a Content-Length over maxBodyBytes gets 413 before the body is read", async () => {
    const { consumer, port } = await start({ maxBodyBytes: "64KiB" });
    const response = await rawRequest(port, { headers: PROTOBUF, body: Buffer.alloc(200 * 1024) });
    expect(response.status).toBe(413);
    expect(decodeRpcStatus(response.body).message).toContain("65536");
    expect(consumer.received).toHaveLength(0);
  });

  it("a chunked body that grows past maxBodyBytes gets 413", async () => {
    const { port } = await start({ maxBodyBytes: "64KiB" });
    const chunk = Buffer.alloc(16 * 1024);
    const response = await rawRequest(port, { headers: PROTOBUF, body: Array.from({ length: 8 }, () => chunk) });
    expect(response.status).toBe(413);
  });

  describe("a gzip bomb", () => {
    let bomb: Buffer;
    beforeAll(async () => {
      bomb = await gzipBomb(256 * 1024 * 1024);
    });

    it("of 256 MiB of zeros gets 413 without being inflated past the limit", async () => {
      const { consumer, port } = await start({ maxBodyBytes: "1MiB" });
      expect(bomb.length).toBeLessThan(1024 * 1024);
      const rssBefore = process.memoryUsage.rss();
      const response = await rawRequest(port, { headers: { ...PROTOBUF, "content-encoding": "gzip" }, body: bomb });
      const rssGrowth = process.memoryUsage.rss() - rssBefore;
      expect(response.status).toBe(413);
      expect(decodeRpcStatus(response.body)).toMatchObject({ code: 3 });
      expect(rssGrowth).toBeLessThan(50 * 1024 * 1024);
      expect(consumer.received).toHaveLength(0);
    });
  });

  describe("admission", () => {
    it("a body that does not fit the in-flight budget gets 429 with Retry-After", async () => {
      const { admission, consumer, port } = await start({}, {}, 1024);
      const body = protobufRequest(vllmSpans(10));
      expect(body.length).toBeGreaterThan(1024);
      const response = await rawRequest(port, { headers: PROTOBUF, body });
      expect(response.status).toBe(429);
      expect(response.headers["retry-after"]).toBe("2");
      expect(decodeRpcStatus(response.body).code).toBe(8);
      expect(admission.counters.rejections).toBe(1);
      expect(admission.counters.inflightBytes).toBe(0);
      expect(consumer.received).toHaveLength(0);
    });

    it.each([
      ["chunked", {}, (body: Uint8Array) => [body.subarray(0, 512), body.subarray(512)]],
      ["gzip-compressed", { "content-encoding": "gzip" }, (body: Uint8Array) => gzipSync(body)],
    ] as const)("a %s body is refused with 429 once it outgrows the budget", async (_name, headers, encode) => {
      const { admission, port } = await start({}, {}, 1024);
      const response = await rawRequest(port, {
        headers: { ...PROTOBUF, ...headers },
        body: encode(protobufRequest(vllmSpans(10))),
      });
      expect(response.status).toBe(429);
      expect(response.headers["retry-after"]).toBe("2");
      expect(admission.counters.rejections).toBe(1);
      expect(admission.counters.inflightBytes).toBe(0);
    });

    it("bytes are given back after every request", async () => {
      const { admission, port } = await start();
      await rawRequest(port, { headers: PROTOBUF, body: singleSpanBody() });
      await rawRequest(port, { headers: PROTOBUF, body: Uint8Array.from([0x0a, 0x7f]) });
      await rawRequest(port, {
        headers: { ...PROTOBUF, "content-encoding": "gzip" },
        body: gzipSync(singleSpanBody()),
      });
      expect(admission.counters.acquisitions).toBeGreaterThanOrEqual(3);
      expect(admission.counters.inflightBytes).toBe(0);
    });
  });

  it("a consumer that is unavailable turns into 503 with Retry-After and a Status of code 14", async () => {
    const { consumer, port } = await start();
    consumer.failWith = new PipelineUnavailableError("span queue is full");
    const response = await rawRequest(port, { headers: JSON_TYPE, body: "{}" });
    expect(response.status).toBe(503);
    expect(response.headers["retry-after"]).toBe("2");
    expect(JSON.parse(response.body.toString())).toEqual({ code: 14, message: "span queue is full" });
  });

  it("a consumer that fails unexpectedly turns into 500, not a crash", async () => {
    const { consumer, port } = await start();
    consumer.failWith = new TypeError("bug");
    const response = await rawRequest(port, { headers: PROTOBUF, body: singleSpanBody() });
    expect(response.status).toBe(500);
    expect(decodeRpcStatus(response.body).code).toBe(13);
    consumer.failWith = undefined;
    expect((await rawRequest(port, { headers: PROTOBUF, body: singleSpanBody() })).status).toBe(200);
  });
});

describe("OTLP/HTTP receiver against slow clients", () => {
  /** Writes `text` one byte every `intervalMs` until the server closes the socket; resolves with when it did. */
  function dribble(
    port: number,
    prefix: string,
    text: string,
    intervalMs: number,
  ): Promise<{ closedAfterMs: number; bytesSent: number; reply: string }> {
    return new Promise((resolve) => {
      const socket = connect(port, "127.0.0.1");
      const startedAt = Date.now();
      let sent = 0;
      let reply = "";
      let timer: NodeJS.Timeout | undefined;
      socket.on("connect", () => {
        socket.write(prefix);
        timer = setInterval(() => {
          if (sent < text.length && socket.writable) socket.write(text[sent++] ?? "");
        }, intervalMs);
      });
      socket.on("data", (data) => (reply += data.toString()));
      socket.on("error", () => undefined);
      socket.on("close", () => {
        clearInterval(timer);
        resolve({ closedAfterMs: Date.now() - startedAt, bytesSent: sent, reply });
      });
    });
  }

  it("a client sending its headers a byte at a time is cut off at the headers timeout", async () => {
    const { consumer, port } = await start({}, { headersMs: 400, requestMs: 800 });
    const headers =
      "Host: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nX-Padding: " + "a".repeat(200) + "\r\n\r\n";
    const result = await dribble(port, "POST /v1/traces HTTP/1.1\r\n", headers, 50);
    expect(result.closedAfterMs).toBeLessThan(2_000);
    expect(result.bytesSent).toBeLessThan(headers.length);
    expect(result.reply).toMatch(/^HTTP\/1\.1 408/);
    expect(consumer.received).toHaveLength(0);
  });

  it("a client sending its body a byte at a time is cut off at the request timeout", async () => {
    const { consumer, port } = await start({}, { headersMs: 300, requestMs: 600 });
    const head =
      "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: 200\r\n\r\n";
    const result = await dribble(port, head, "x".repeat(200), 50);
    expect(result.closedAfterMs).toBeLessThan(2_500);
    expect(result.bytesSent).toBeLessThan(200);
    expect(consumer.received).toHaveLength(0);
  });
});

it("prompt text sent as an attribute never reaches the consumer (the filter drops it undecoded)", async () => {
  const { consumer, port } = await start();
  const response = await rawRequest(port, { headers: PROTOBUF, body: protobufRequest(vllmSpans(1)) });
  expect(response.status).toBe(200);
  expect(consumer.spans()[0]?.attributes.has("gen_ai.prompt")).toBe(false);
  expect(everyValueSeen(consumer)).not.toContain(PROMPT_TEXT);
});
