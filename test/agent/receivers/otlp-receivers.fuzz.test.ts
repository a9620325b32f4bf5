import { status as GrpcStatus, type Client } from "@grpc/grpc-js";
import { JsonTraceSerializer } from "@opentelemetry/otlp-transformer";
import fc from "fast-check";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdmission } from "../../../agent/receivers/admission.js";
import { startOtlpGrpcReceiver } from "../../../agent/receivers/otlp-grpc-receiver.js";
import { startOtlpHttpReceiver } from "../../../agent/receivers/otlp-http-receiver.js";
import type { RunningReceiver } from "../../../agent/receivers/otlp-responses.js";
import { silentLogger } from "../../../common/log.js";
import { rawExport, rawGrpcClient } from "./grpc-client.js";
import { rawRequest } from "./http-client.js";
import { RecordingConsumer, allowListFilter, protobufRequest, receiverConfig, vllmSpans } from "./receiver-harness.js";

const VALID_PROTOBUF = protobufRequest(vllmSpans(3));
const VALID_JSON = new TextDecoder().decode(JsonTraceSerializer.serializeRequest(vllmSpans(3)));

/** Bodies that are mostly wrong: random bytes, cut or corrupted valid payloads. */
const protobufBodies = fc.oneof(
  fc.uint8Array({ maxLength: 2048 }),
  fc.nat({ max: VALID_PROTOBUF.length }).map((length) => VALID_PROTOBUF.subarray(0, length)),
  fc
    .array(fc.tuple(fc.nat({ max: VALID_PROTOBUF.length - 1 }), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 8,
    })
    .map((flips) => {
      const body = Uint8Array.from(VALID_PROTOBUF);
      for (const [index, byte] of flips) body[index] = byte;
      return body;
    }),
);

const jsonBodies = fc.oneof(
  fc.json(),
  fc.string({ maxLength: 512 }),
  fc.nat({ max: VALID_JSON.length }).map((length) => VALID_JSON.slice(0, length)),
  fc.anything().map((value) => JSON.stringify({ resourceSpans: [value] }) ?? "null"),
  fc
    .anything()
    .map(
      (value) => JSON.stringify({ resourceSpans: [{ resource: value, scopeSpans: [{ spans: [value] }] }] }) ?? "null",
    ),
  fc
    .tuple(fc.nat({ max: VALID_JSON.length - 1 }), fc.string({ minLength: 1, maxLength: 4 }))
    .map(([at, text]) => VALID_JSON.slice(0, at) + text + VALID_JSON.slice(at + 1)),
);

/** How the body goes on the wire: as is, gzip-compressed, or as is but labelled gzip (garbage for the inflater). */
type Wire = "identity" | "gzip" | "mislabelled-gzip";

interface HttpCase {
  readonly contentType: string;
  readonly wire: Wire;
  readonly body: Uint8Array | string;
}

const httpCases: fc.Arbitrary<HttpCase> = fc.oneof(
  fc.record({
    contentType: fc.constant("application/x-protobuf"),
    wire: fc.constantFrom<Wire>("identity", "gzip", "mislabelled-gzip"),
    body: protobufBodies,
  }),
  fc.record({
    contentType: fc.constant("application/json"),
    wire: fc.constantFrom<Wire>("identity", "gzip", "mislabelled-gzip"),
    body: jsonBodies,
  }),
);

/** What a fuzzed request may get: success, or a client error that is the sender's fault. */
const ALLOWED_HTTP_STATUSES = [200, 400, 413];

describe("OTLP receivers under random input", () => {
  let http: RunningReceiver;
  let grpc: RunningReceiver;
  let client: Client;
  const consumer = new RecordingConsumer();

  beforeAll(async () => {
    const config = receiverConfig({ maxBodyBytes: "64KiB" });
    const options = {
      config,
      filter: allowListFilter,
      consumer,
      log: silentLogger(),
      admission: createAdmission(config.maxInflightBytes),
    };
    http = await startOtlpHttpReceiver(options);
    grpc = await startOtlpGrpcReceiver(options);
    client = rawGrpcClient(grpc.address.port);
  });

  afterAll(async () => {
    client.close();
    await Promise.all([http.close(), grpc.close()]);
  });

  it("random HTTP bodies always get 200 or a 4xx, and a valid request still succeeds afterwards", async () => {
    const seen = new Set<number>();
    await fc.assert(
      fc.asyncProperty(httpCases, async ({ contentType, wire, body }) => {
        const payload = wire === "gzip" ? gzipSync(body) : body;
        const headers = { "content-type": contentType, ...(wire === "identity" ? {} : { "content-encoding": "gzip" }) };
        const response = await rawRequest(http.address.port, { headers, body: payload });
        seen.add(response.status);
        expect(ALLOWED_HTTP_STATUSES).toContain(response.status);
        if (response.status !== 200) expect(response.headers["content-type"]).toBe(contentType);
      }),
      { numRuns: 1000 },
    );
    expect(seen.has(400)).toBe(true);

    const before = consumer.spans().length;
    const response = await rawRequest(http.address.port, {
      headers: { "content-type": "application/x-protobuf" },
      body: VALID_PROTOBUF,
    });
    expect(response.status).toBe(200);
    expect(consumer.spans().length - before).toBe(3);
  });

  it("random gRPC messages always get OK or INVALID_ARGUMENT, and a valid call still succeeds afterwards", async () => {
    await fc.assert(
      fc.asyncProperty(protobufBodies, async (body) => {
        const outcome = await rawExport(client, body);
        if (!outcome.ok) expect(outcome.error.code).toBe(GrpcStatus.INVALID_ARGUMENT);
      }),
      { numRuns: 200 },
    );
    const before = consumer.spans().length;
    expect((await rawExport(client, VALID_PROTOBUF)).ok).toBe(true);
    expect(consumer.spans().length - before).toBe(3);
  });
});
