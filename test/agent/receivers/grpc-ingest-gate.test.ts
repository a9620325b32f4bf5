/**
 * The OTLP/gRPC receiver checks a call's token and takes its admission before grpc-js reads (and
 * inflates) the message (agent/receivers/grpc-ingest-gate.ts), and caps its connections. Each
 * refusal is shown on a call whose message is never finished: it can only end if the receiver
 * answers without reading it, which is exactly what a flood of gzip bombs with a wrong token must
 * meet (issue: hardening, reproduction 1).
 */
import { status as GrpcStatus, type Client } from "@grpc/grpc-js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { createAdmission, type Admission } from "../../../agent/receivers/admission.js";
import { startOtlpGrpcReceiver } from "../../../agent/receivers/otlp-grpc-receiver.js";
import type { RunningReceiver } from "../../../agent/receivers/otlp-responses.js";
import { authConfigSchema } from "../../../common/auth/auth-config.js";
import { Refusals } from "../../../common/auth/refusals.js";
import { TokenAuth } from "../../../common/auth/token-auth.js";
import { silentLogger } from "../../../common/log.js";
import { vllmRawSpan } from "../../fixtures/spans.js";
import { partialHttp2Export, rawExport, rawGrpcClient, rawHttp2Export } from "./grpc-client.js";
import {
  allowListFilter,
  decodeRpcStatus,
  protobufRequest,
  receiverConfig,
  RecordingConsumer,
  retryInfoDelayMs,
  toReadableSpan,
} from "./receiver-harness.js";

const INGEST = "ingest-token-0123456789abcdef";
const log = silentLogger();
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Harness {
  readonly port: number;
  readonly admission: Admission;
  readonly refusals: Refusals;
  readonly consumer: RecordingConsumer;
  readonly client: Client;
}

async function start(overrides: Record<string, unknown> = {}, withTokens = true): Promise<Harness> {
  let auth: TokenAuth | undefined;
  if (withTokens) {
    const dir = mkdtempSync(join(tmpdir(), "inferwatch-gate-"));
    writeFileSync(join(dir, "tokens"), `ingest:vllm:${INGEST}\n`);
    auth = await TokenAuth.load(authConfigSchema.parse({ tokenFile: join(dir, "tokens") }), log);
    cleanups.push(() => {
      auth?.stop();
      rmSync(dir, { recursive: true, force: true });
    });
  }
  const config = receiverConfig({ retryAfter: "300ms", ...overrides });
  const admission = createAdmission(config.maxInflightBytes);
  const refusals = new Refusals(log);
  const consumer = new RecordingConsumer();
  const receiver: RunningReceiver = await startOtlpGrpcReceiver({
    config,
    filter: allowListFilter,
    consumer,
    log,
    admission,
    refusals,
    security: { auth },
  });
  cleanups.push(() => receiver.close());
  const client = rawGrpcClient(receiver.address.port);
  cleanups.push(() => client.close());
  return { port: receiver.address.port, admission, refusals, consumer, client };
}

const MESSAGE = { messageBytes: 1_000_000, sentBytes: 64 * 1024, giveUpMs: 10_000 };
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

describe("the OTLP/gRPC receiver's gate", () => {
  it.each([
    ["a wrong token", bearer("wrong-token-0123456789abcdef")],
    ["no token", {}],
    ["another scheme", { authorization: `Basic ${INGEST}` }],
  ])("answers %s with UNAUTHENTICATED from the metadata alone, the message never read", async (_name, metadata) => {
    const { port, admission, refusals } = await start();
    const answer = await partialHttp2Export(port, metadata, MESSAGE);
    expect(answer).toEqual({ code: GrpcStatus.UNAUTHENTICATED, message: "unauthenticated" });
    // Nothing was admitted: the budget never saw the call.
    expect(admission.counters.acquisitions).toBe(0);
    expect(refusals.count("otlp-grpc", "unauthenticated")).toBe(1);
  });

  it("takes admission for a call with a valid token before reading its message, and refuses it with a RetryInfo when the budget stays full", async () => {
    const { port, admission, refusals } = await start();
    expect(admission.tryAcquire(admission.counters.maxInflightBytes)).toBe(true);
    const answer = await partialHttp2Export(port, bearer(INGEST), MESSAGE);
    expect(answer).toEqual({
      code: GrpcStatus.RESOURCE_EXHAUSTED,
      message: "receiver is at its in-flight byte limit, retry later",
    });
    expect(refusals.count("otlp-grpc", "busy")).toBe(1);
    expect(admission.counters.rejections).toBe(1);
  });

  it("tells a sender refused for room when to retry (RetryInfo = retryAfter)", async () => {
    const { admission, client } = await start({}, false);
    admission.tryAcquire(admission.counters.maxInflightBytes);
    const outcome = await rawExport(client, protobufRequest([toReadableSpan(vllmRawSpan())]));
    if (outcome.ok) throw new Error("expected RESOURCE_EXHAUSTED");
    const details = outcome.error.metadata.get("grpc-status-details-bin")[0];
    const status = decodeRpcStatus(Buffer.isBuffer(details) ? details : Buffer.alloc(0));
    expect([outcome.error.code, status.code]).toEqual([GrpcStatus.RESOURCE_EXHAUSTED, 8]);
    expect(retryInfoDelayMs(status.details[0]?.value ?? new Uint8Array())).toBe(300);
  });

  it("lets a call wait for room and admits it once an earlier one gives its bytes back", async () => {
    const { admission, client, consumer } = await start({ retryAfter: "5s" }, false);
    const max = admission.counters.maxInflightBytes;
    admission.tryAcquire(max);
    const exported = rawExport(client, protobufRequest([toReadableSpan(vllmRawSpan())]));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(consumer.received).toHaveLength(0);
    admission.release(max);
    expect((await exported).ok).toBe(true);
    expect(consumer.spans()).toHaveLength(1);
    expect(admission.counters.inflightBytes).toBe(0);
  });

  it("reserves twice the largest message before reading (grpc-js holds two copies while inflating) and holds only the message's size once it is in", async () => {
    const { admission, client } = await start({ maxBodyBytes: "1MiB", maxInflightBytes: "2MiB" }, false);
    expect((await rawExport(client, protobufRequest([toReadableSpan(vllmRawSpan())]))).ok).toBe(true);
    expect(admission.counters.peakInflightBytes).toBe(2 * 1024 * 1024);
    expect(admission.counters.inflightBytes).toBe(0);
  });

  it("takes maxGrpcMessageBytes (4 MiB by default) as the message limit when it is below maxBodyBytes, and refuses a message inflating past it", async () => {
    const { admission, client, port } = await start({ maxBodyBytes: "20MiB", maxInflightBytes: "32MiB" }, false);
    expect((await rawExport(client, protobufRequest([toReadableSpan(vllmRawSpan())]))).ok).toBe(true);
    expect(admission.counters.peakInflightBytes).toBe(2 * 4 * 1024 * 1024);
    const status = await rawHttp2Export(port, gzipSync(Buffer.alloc(5 * 1024 * 1024)), { gzipped: true });
    expect(status.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(status.message).toMatch(/decompresses to a size larger than 4194304/);
  });

  it("gives the reservation back when the client goes away before sending its message", async () => {
    const { port, admission } = await start({}, false);
    const answer = await partialHttp2Export(port, {}, { ...MESSAGE, giveUpMs: 200 });
    expect(answer).toBe("no answer");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(admission.counters.inflightBytes).toBe(0);
    expect(admission.counters.acquisitions).toBe(1);
  });

  it("closes a connection past maxConnections at once and counts it", async () => {
    const { port, refusals } = await start({ maxConnections: 2 }, false);
    const open = (): Promise<{ closed: boolean; socket: ReturnType<typeof connect> }> =>
      new Promise((resolve) => {
        const socket = connect(port, "127.0.0.1");
        socket.on("error", () => undefined);
        let isClosed = false;
        socket.on("close", () => (isClosed = true));
        socket.on("connect", () => setTimeout(() => resolve({ closed: isClosed, socket }), 200));
      });
    const first = await open();
    const second = await open();
    const third = await open();
    cleanups.push(() => [first, second, third].forEach((c) => c.socket.destroy()));
    expect([first.closed, second.closed, third.closed]).toEqual([false, false, true]);
    expect(refusals.count("otlp-grpc", "connection_limit")).toBe(1);
  });
});
