/**
 * The OTLP/HTTP receiver against bodies built to cost it memory and time (issue: hardening,
 * reproduction 2): JSON nested past anything OTLP holds is refused before it is parsed, a JSON body
 * whose parse would outgrow the in-flight budget is refused before it is parsed, refusals close the
 * connection and are counted, and connections past the cap are closed.
 */
import { connect, type Socket } from "node:net";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { createAdmission, type Admission } from "../../../agent/receivers/admission.js";
import { maxOtlpJsonNesting } from "../../../agent/receivers/otlp-json-scan.js";
import { startOtlpHttpReceiver } from "../../../agent/receivers/otlp-http-receiver.js";
import { DEFAULT_DECODE_LIMITS } from "../../../agent/receivers/otlp-model.js";
import type { RunningReceiver } from "../../../agent/receivers/otlp-responses.js";
import { Refusals } from "../../../common/auth/refusals.js";
import { silentLogger } from "../../../common/log.js";
import { rawRequest } from "./http-client.js";
import { allowListFilter, receiverConfig, RecordingConsumer } from "./receiver-harness.js";

const JSON_TYPE = { "content-type": "application/json" };
const log = silentLogger();
let running: RunningReceiver | undefined;

afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function start(
  overrides: Record<string, unknown> = {},
): Promise<{ port: number; admission: Admission; refusals: Refusals; consumer: RecordingConsumer }> {
  const config = receiverConfig({ maxBodyBytes: "20MiB", maxInflightBytes: "32MiB", ...overrides });
  const admission = createAdmission(config.maxInflightBytes);
  const refusals = new Refusals(log);
  const consumer = new RecordingConsumer();
  running = await startOtlpHttpReceiver({ config, filter: allowListFilter, consumer, log, admission, refusals });
  return { port: running.address.port, admission, refusals, consumer };
}

/** `[` × depth then `]` × depth. */
const nested = (depth: number): Buffer => Buffer.concat([Buffer.alloc(depth, "["), Buffer.alloc(depth, "]")]);

/** A request whose span event carries one attribute value nested `levels` AnyValue levels deep (key-value lists, the deepest kind). */
function deepAttributeBody(levels: number): string {
  const value =
    '{"kvlistValue":{"values":[{"key":"k","value":'.repeat(levels - 1) +
    '{"kvlistValue":{"values":[]}}' +
    "}]}}".repeat(levels - 1);
  return `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","events":[{"attributes":[{"key":"gen_ai.latency.e2e","value":${value}}]}]}]}]}]}`;
}

describe("the OTLP/HTTP receiver on JSON built to cost it", () => {
  it("refuses [×10⁷ ]×10⁷ (20 MB, under the body limit) with 400 before parsing it", async () => {
    const { port, consumer, admission } = await start();
    const response = await rawRequest(port, { headers: JSON_TYPE, body: nested(10_000_000) });
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body.toString("utf8"))).toEqual({
      code: 3,
      message: "JSON nested deeper than 42 levels (at position 42); no OTLP trace request is",
    });
    expect(consumer.received).toHaveLength(0);
    // Only the body itself was ever admitted: nothing was charged for a parse.
    expect(admission.counters.peakInflightBytes).toBe(20_000_000);
  });

  it("refuses the same bomb gzip-compressed with 400", async () => {
    const { port } = await start();
    const response = await rawRequest(port, {
      headers: { ...JSON_TYPE, "content-encoding": "gzip" },
      body: gzipSync(nested(5_000_000)),
    });
    expect(response.status).toBe(400);
    expect(response.body.toString("utf8")).toContain("JSON nested deeper than 42 levels");
  });

  it("takes the deepest attribute value OTLP allows (8 AnyValue levels inside an event) and refuses one level more", async () => {
    expect(maxOtlpJsonNesting(DEFAULT_DECODE_LIMITS)).toBe(42);
    const { port, consumer } = await start();
    expect((await rawRequest(port, { headers: JSON_TYPE, body: deepAttributeBody(8) })).status).toBe(200);
    expect(consumer.spans()).toHaveLength(1);
    const deeper = await rawRequest(port, { headers: JSON_TYPE, body: deepAttributeBody(9) });
    expect(deeper.status).toBe(400);
    expect(deeper.body.toString("utf8")).toContain("JSON nested deeper than 42 levels");
  });

  it("refuses a wide JSON bomb whose parse would outgrow the in-flight budget with 413 saying so, unparsed", async () => {
    const { port, refusals, admission } = await start();
    // A million empty arrays in 3 MB: V8 would allocate ~43 MB for them.
    const body = `[${Array(1_000_000).fill("[]").join(",")}]`;
    const response = await rawRequest(port, { headers: JSON_TYPE, body });
    expect(response.status).toBe(413);
    expect(JSON.parse(response.body.toString("utf8")).message).toMatch(
      /^parsing this OTLP\/JSON body would take about \d+\.\d MiB, more than the in-flight budget of 32\.0 MiB allows/,
    );
    expect(refusals.count("otlp-http", "too_large")).toBe(1);
    expect(admission.counters.peakInflightBytes).toBe(body.length);
  });

  it("answers 429 when the parse does not fit the budget now but could later", async () => {
    const { port, admission, refusals } = await start();
    const body = JSON.stringify({ resourceSpans: [] });
    admission.tryAcquire(admission.counters.maxInflightBytes - body.length - 1);
    const response = await rawRequest(port, { headers: JSON_TYPE, body });
    expect(response.status).toBe(429);
    expect(refusals.count("otlp-http", "busy")).toBe(1);
  });
});

describe("the OTLP/HTTP receiver's connections", () => {
  it("closes the connection after refusing a body it did not read", async () => {
    const { port, refusals } = await start({ maxBodyBytes: "1KiB", maxInflightBytes: "2KiB" });
    const response = await rawRequest(port, {
      headers: { ...JSON_TYPE, "content-length": 4096 },
      body: Buffer.alloc(16),
    });
    expect(response.status).toBe(413);
    expect(response.headers.connection).toBe("close");
    expect(refusals.count("otlp-http", "too_large")).toBe(1);
  });

  it("closes a connection past maxConnections at once and counts it", async () => {
    const { port, refusals } = await start({ maxConnections: 2 });
    const sockets: Socket[] = [];
    const open = (): Promise<boolean> =>
      new Promise((resolve) => {
        const socket = connect(port, "127.0.0.1");
        sockets.push(socket);
        let isClosed = false;
        socket.on("error", () => undefined);
        socket.on("close", () => (isClosed = true));
        socket.on("connect", () => setTimeout(() => resolve(isClosed), 200));
      });
    try {
      expect([await open(), await open(), await open()]).toEqual([false, false, true]);
      expect(refusals.count("otlp-http", "connection_limit")).toBe(1);
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });
});
