/**
 * OTLP ingest with a token file: the HTTP receiver answers 401 / 403 before reading the body and
 * the gRPC receiver UNAUTHENTICATED / PERMISSION_DENIED; a token of role ingest gets its spans in.
 * A changed token file is picked up without a restart; one emptied or deleted revokes every token
 * (issue: hardening, reproduction 7).
 */
import { Metadata, status as GrpcStatus, type Client } from "@grpc/grpc-js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdmission } from "../../../agent/receivers/admission.js";
import { OTLP_TRACE_EXPORT_PATH, TRACE_SERVICE_DEFINITION } from "../../../agent/receivers/otlp-grpc-receiver.js";
import { startOtlpGrpcReceiver } from "../../../agent/receivers/otlp-grpc-receiver.js";
import { startOtlpHttpReceiver } from "../../../agent/receivers/otlp-http-receiver.js";
import type { RunningReceiver } from "../../../agent/receivers/otlp-responses.js";
import { authConfigSchema } from "../../../common/auth/auth-config.js";
import { TokenAuth } from "../../../common/auth/token-auth.js";
import { silentLogger } from "../../../common/log.js";
import { rawGrpcClient } from "../../agent/receivers/grpc-client.js";
import { allowListFilter, receiverConfig, RecordingConsumer } from "../../agent/receivers/receiver-harness.js";
import { call } from "../tls/https-client.js";

const INGEST = "ingest-token-0123456789abcdef";
const VIEWER = "viewer-token-0123456789abcdef";
const LATER = "rotated-ingest-token-0123456789";
const BODY = JSON.stringify({ resourceSpans: [] });
const log = silentLogger();
let dir: string;
let tokenFile: string;
let auth: TokenAuth;
let consumer: RecordingConsumer;
let http: RunningReceiver;
let grpc: RunningReceiver;
let client: Client;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "inferwatch-ingest-"));
  tokenFile = join(dir, "tokens");
  writeFileSync(tokenFile, `ingest:vllm:${INGEST}\nviewer:grafana:${VIEWER}\n`);
  auth = (await TokenAuth.load(authConfigSchema.parse({ tokenFile }), log)) as TokenAuth;
  consumer = new RecordingConsumer();
  const options = {
    config: receiverConfig(),
    filter: allowListFilter,
    consumer,
    log,
    admission: createAdmission(2 << 20),
    security: { auth },
  };
  http = await startOtlpHttpReceiver(options);
  grpc = await startOtlpGrpcReceiver(options);
  client = rawGrpcClient(grpc.address.port);
});
afterAll(async () => {
  client.close();
  await Promise.all([http.close(), grpc.close()]);
  auth.stop();
  rmSync(dir, { recursive: true, force: true });
});

function postSpans(token?: string) {
  return call(http.address.port, "/v1/traces", {
    method: "POST",
    body: BODY,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
}

function exportWith(token?: string): Promise<number> {
  const metadata = new Metadata();
  if (token) metadata.set("authorization", `Bearer ${token}`);
  const method = TRACE_SERVICE_DEFINITION.Export;
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      OTLP_TRACE_EXPORT_PATH,
      method.requestSerialize,
      method.responseDeserialize,
      Buffer.alloc(0),
      metadata,
      (error) => resolve(error ? error.code : GrpcStatus.OK),
    );
  });
}

describe("OTLP/HTTP ingest with tokens", () => {
  it("answers 401 with a Bearer challenge without a token", async () => {
    const reply = await postSpans();
    expect([reply.status, reply.body, reply.headers["www-authenticate"]]).toEqual([
      401,
      "unauthorized\n",
      'Bearer realm="inferwatch"',
    ]);
  });

  it("answers 403 to a token without the ingest role", async () => {
    expect((await postSpans(VIEWER)).status).toBe(403);
  });

  it("takes spans with an ingest token", async () => {
    const before = consumer.received.length;
    expect((await postSpans(INGEST)).status).toBe(200);
    expect(consumer.received.length).toBe(before + 1);
  });
});

describe("OTLP/gRPC ingest with tokens", () => {
  it.each([
    ["no token", undefined, GrpcStatus.UNAUTHENTICATED],
    ["an unknown token", "nobody-0123456789abcdef", GrpcStatus.UNAUTHENTICATED],
    ["a viewer token", VIEWER, GrpcStatus.PERMISSION_DENIED],
    ["an ingest token", INGEST, GrpcStatus.OK],
  ])("answers %s with status %s", async (_name, token, code) => {
    expect(await exportWith(token)).toBe(code);
  });
});

describe("token file rotation", () => {
  it("accepts a new token and refuses the removed one once the file changes, without a restart", async () => {
    writeFileSync(tokenFile, `ingest:vllm:${LATER}\n`);
    await auth.checkNow();
    expect((await postSpans(LATER)).status).toBe(200);
    expect((await postSpans(INGEST)).status).toBe(401);
    expect(await exportWith(LATER)).toBe(GrpcStatus.OK);
  });

  it("keeps the tokens in force when the new file does not parse", async () => {
    writeFileSync(tokenFile, "garbage\n");
    await auth.checkNow();
    expect((await postSpans(LATER)).status).toBe(200);
  });

  it("refuses every token once the file is emptied, and takes tokens again once it holds them", async () => {
    writeFileSync(tokenFile, "# rotated out\n");
    await auth.checkNow();
    expect(auth.size).toBe(0);
    expect((await postSpans(LATER)).status).toBe(401);
    expect(await exportWith(LATER)).toBe(GrpcStatus.UNAUTHENTICATED);
    writeFileSync(tokenFile, `ingest:vllm:${LATER}\n`);
    await auth.checkNow();
    expect((await postSpans(LATER)).status).toBe(200);
  });

  it("refuses every token once the file is deleted, and takes tokens again once it is back", async () => {
    rmSync(tokenFile);
    await auth.checkNow();
    expect((await postSpans(LATER)).status).toBe(401);
    expect(await exportWith(LATER)).toBe(GrpcStatus.UNAUTHENTICATED);
    writeFileSync(tokenFile, `ingest:vllm:${LATER}\n`);
    await auth.checkNow();
    expect(await exportWith(LATER)).toBe(GrpcStatus.OK);
  });
});
