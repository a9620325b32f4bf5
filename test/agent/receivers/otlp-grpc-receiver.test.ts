import { status as GrpcStatus, type Client } from "@grpc/grpc-js";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { CompressionAlgorithm } from "@opentelemetry/otlp-exporter-base";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import { afterEach, describe, expect, it } from "vitest";
import { createAdmission, type Admission } from "../../../agent/receivers/admission.js";
import { startOtlpGrpcReceiver } from "../../../agent/receivers/otlp-grpc-receiver.js";
import { PipelineUnavailableError, type RunningReceiver } from "../../../agent/receivers/otlp-responses.js";
import { silentLogger } from "../../../common/log.js";
import { vllmRawSpan } from "../../fixtures/spans.js";
import { rawExport, rawGrpcClient, rawHttp2Export, type GrpcOutcome } from "./grpc-client.js";
import {
  RecordingConsumer,
  allowListFilter,
  decoderReason,
  decodeExportResponse,
  decodeRpcStatus,
  gzipBomb,
  protobufRequest,
  receiverConfig,
  retryInfoDelayMs,
  toReadableSpan,
  vllmSpans,
} from "./receiver-harness.js";

interface Harness {
  readonly consumer: RecordingConsumer;
  readonly admission: Admission;
  readonly port: number;
  readonly client: Client;
}

let running: RunningReceiver | undefined;
let clients: Client[] = [];

/** `admissionBytes` shrinks the in-flight budget below what a valid configuration allows (≥ maxBodyBytes). */
async function start(
  configOverrides: Record<string, unknown> = {},
  clientOptions: { gzip?: boolean } = {},
  admissionBytes?: number,
): Promise<Harness> {
  const config = receiverConfig(configOverrides);
  const consumer = new RecordingConsumer();
  const admission = createAdmission(admissionBytes ?? config.maxInflightBytes);
  running = await startOtlpGrpcReceiver({ config, filter: allowListFilter, consumer, log: silentLogger(), admission });
  const port = running.address.port;
  const client = rawGrpcClient(port, clientOptions);
  clients.push(client);
  return { consumer, admission, port, client };
}

afterEach(async () => {
  for (const client of clients) client.close();
  clients = [];
  await running?.close();
  running = undefined;
});

function exportWith(exporter: SpanExporter, spans: ReadableSpan[]): Promise<{ code: number; error?: Error }> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

function failure(outcome: GrpcOutcome): { code: number; details: string; statusDetails: Buffer | undefined } {
  if (outcome.ok) throw new Error("expected the call to fail");
  const statusDetails = outcome.error.metadata?.get("grpc-status-details-bin")[0];
  return {
    code: outcome.error.code,
    details: outcome.error.details,
    statusDetails: Buffer.isBuffer(statusDetails) ? statusDetails : undefined,
  };
}

const singleSpanBody = (traceId = "4bf92f3577b34da6a3ce929d0e0e4736"): Uint8Array =>
  protobufRequest([toReadableSpan(vllmRawSpan({ traceId }))]);

describe("OTLP/gRPC receiver with the OpenTelemetry SDK exporter", () => {
  it.each([
    ["without compression", CompressionAlgorithm.NONE],
    ["with gzip", CompressionAlgorithm.GZIP],
  ])("spans exported %s reach the consumer with allow-listed attributes only", async (_name, compression) => {
    const { consumer, port } = await start();
    const exporter = new OTLPTraceExporter({ url: `http://127.0.0.1:${port}`, compression });
    const spans = vllmSpans(4);
    const result = await exportWith(exporter, spans);
    await exporter.shutdown();

    expect(result.error).toBeUndefined();
    expect(result.code).toBe(0);
    const received = consumer.spans();
    expect(received.map((span) => span.spanId)).toEqual(spans.map((span) => span.spanContext().spanId));
    expect(received.map((span) => span.traceId)).toEqual(spans.map((span) => span.spanContext().traceId));
    expect(received[3]?.name).toBe("llm_request");
    expect(received[3]?.attributes).toEqual(
      new Map<string, unknown>([
        ["gen_ai.usage.prompt_tokens", 103],
        ["gen_ai.latency.e2e", 2.4813],
      ]),
    );
    expect(consumer.received[0]?.resourceSpans[0]?.resource.get("service.name")).toBe("vllm-server");
    const seen = JSON.stringify(consumer.received, (_key, value: unknown) =>
      value instanceof Map ? [...value.entries()] : value,
    );
    expect(seen).not.toContain("PROMPT-SECRET");
  });
});

describe("OTLP/gRPC receiver", () => {
  it("a fully accepted request gets an empty ExportTraceServiceResponse", async () => {
    const { client, consumer } = await start();
    const outcome = await rawExport(client, singleSpanBody());
    expect(outcome).toEqual({ ok: true, response: Buffer.alloc(0) });
    expect(consumer.spans()).toHaveLength(1);
  });

  it("a span with a 3-byte trace id comes back in partial_success", async () => {
    const { client, consumer } = await start();
    const body = protobufRequest([toReadableSpan(vllmRawSpan({ traceId: "abcdef" })), toReadableSpan(vllmRawSpan())]);
    const outcome = await rawExport(client, body);
    if (!outcome.ok) throw outcome.error;
    const partial = decodeExportResponse(outcome.response);
    expect(partial?.rejectedSpans).toBe(1);
    expect(partial?.errorMessage).toMatch(/trace.?id/i);
    expect(consumer.spans()).toHaveLength(1);
  });

  it("an undecodable message gets INVALID_ARGUMENT with the decoder's reason", async () => {
    const { client, consumer } = await start();
    const body = Uint8Array.from([0x0a, 0x7f, 0x01]);
    const reason = decoderReason(body);
    const { code, details } = failure(await rawExport(client, body));
    expect(code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(details).toBe(reason);
    expect(consumer.received).toHaveLength(0);
  });

  it("a message longer than maxBodyBytes gets RESOURCE_EXHAUSTED", async () => {
    const { client, consumer } = await start({ maxBodyBytes: "64KiB" });
    const { code } = failure(await rawExport(client, Buffer.alloc(100 * 1024)));
    expect(code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(consumer.received).toHaveLength(0);
  });

  it("a gzip bomb inflating past maxBodyBytes gets RESOURCE_EXHAUSTED without being inflated", async () => {
    const { consumer, port } = await start({ maxBodyBytes: "1MiB" });
    const bomb = await gzipBomb(256 * 1024 * 1024);
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const rssBefore = process.memoryUsage.rss();
    const status = await rawHttp2Export(port, bomb, { gzipped: true });
    const rssGrowth = process.memoryUsage.rss() - rssBefore;
    expect(status.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(status.message).toMatch(/decompresses to a size larger than 1048576/);
    expect(rssGrowth).toBeLessThan(50 * 1024 * 1024);
    expect(consumer.received).toHaveLength(0);
  });

  it("a grpc-js client with gzip on gets RESOURCE_EXHAUSTED for a message inflating past maxBodyBytes", async () => {
    const { client } = await start({ maxBodyBytes: "1MiB" }, { gzip: true });
    const { code } = failure(await rawExport(client, Buffer.alloc(4 * 1024 * 1024)));
    expect(code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
  });

  it("a message with corrupt gzip gets INTERNAL from grpc-js and the server keeps serving", async () => {
    // grpc-js answers a message it cannot inflate itself, before any handler or interceptor runs
    // (server-interceptors.js decompressMessage), so this status is grpc-js's, not the receiver's.
    const { client, consumer, port } = await start();
    const status = await rawHttp2Export(port, Buffer.from("definitely not gzip"), { gzipped: true });
    expect(status.code).toBe(GrpcStatus.INTERNAL);
    expect((await rawExport(client, singleSpanBody())).ok).toBe(true);
    expect(consumer.spans()).toHaveLength(1);
  });

  it("a gzip-compressed valid message is decoded", async () => {
    const { client, consumer } = await start({}, { gzip: true });
    const outcome = await rawExport(client, protobufRequest(vllmSpans(2)));
    expect(outcome.ok).toBe(true);
    expect(consumer.spans()).toHaveLength(2);
  });

  it("a message that does not fit the in-flight budget gets RESOURCE_EXHAUSTED with a RetryInfo", async () => {
    const { admission, client, consumer } = await start({}, {}, 1024);
    const { code, statusDetails } = failure(await rawExport(client, protobufRequest(vllmSpans(10))));
    expect(code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(statusDetails).toBeDefined();
    const status = decodeRpcStatus(statusDetails ?? Buffer.alloc(0));
    expect(status.code).toBe(8);
    expect(status.details.map((detail) => detail.typeUrl)).toEqual(["type.googleapis.com/google.rpc.RetryInfo"]);
    expect(retryInfoDelayMs(status.details[0]?.value ?? new Uint8Array())).toBe(2000);
    expect(admission.counters.rejections).toBe(1);
    expect(admission.counters.inflightBytes).toBe(0);
    expect(consumer.received).toHaveLength(0);
  });

  it("a consumer that is unavailable turns into UNAVAILABLE with a RetryInfo", async () => {
    const { client, consumer } = await start();
    consumer.failWith = new PipelineUnavailableError("span queue is full");
    const { code, details, statusDetails } = failure(await rawExport(client, singleSpanBody()));
    expect(code).toBe(GrpcStatus.UNAVAILABLE);
    expect(details).toBe("span queue is full");
    expect(decodeRpcStatus(statusDetails ?? Buffer.alloc(0)).details).toHaveLength(1);
  });

  it("a consumer that fails unexpectedly turns into INTERNAL and the next call succeeds", async () => {
    const { admission, client, consumer } = await start();
    consumer.failWith = new TypeError("bug");
    expect(failure(await rawExport(client, singleSpanBody())).code).toBe(GrpcStatus.INTERNAL);
    consumer.failWith = undefined;
    expect((await rawExport(client, singleSpanBody())).ok).toBe(true);
    expect(admission.counters.inflightBytes).toBe(0);
  });

  it("close() is idempotent", async () => {
    await start();
    const receiver = running;
    await Promise.all([receiver?.close(), receiver?.close()]);
    await receiver?.close();
  });
});
