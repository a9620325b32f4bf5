/**
 * TLS on the listeners, with certificates made by openssl in the test: HTTPS scrapes work and plain
 * HTTP gets nothing, a rotated certificate is served without a restart, mTLS refuses clients
 * without a certificate from the configured CA, and bad files stop the start with a clear message.
 */
import { Client, credentials, Metadata } from "@grpc/grpc-js";
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createAdmission } from "../../../agent/receivers/admission.js";
import { startOtlpGrpcReceiver } from "../../../agent/receivers/otlp-grpc-receiver.js";
import { startOtlpHttpReceiver } from "../../../agent/receivers/otlp-http-receiver.js";
import type { RunningReceiver } from "../../../agent/receivers/otlp-responses.js";
import { httpGuard } from "../../../common/auth/http-guard.js";
import { AuditLog } from "../../../common/auth/audit-log.js";
import { RecommendationActions, recommendationIds } from "../../../analyzer/api/recommendation-actions.js";
import { consolidationConfigSchema } from "../../../common/config/consolidation-config.js";
import { idleEvictionConfigSchema } from "../../../common/config/idle-eviction-config.js";
import { recommend } from "../../../analyzer/recommend/recommendations.js";
import { pairFleet } from "../../fixtures/consolidation-fleets.js";
import { startHttpServer, text, type RunningServer } from "../../../common/http-server.js";
import { silentLogger } from "../../../common/log.js";
import { ServerTlsSource } from "../../../common/tls/server-tls.js";
import { tlsConfigSchema } from "../../../common/tls/tls-config.js";
import { parseListenAddress } from "../../../common/config/listen-address.js";
import { waitFor } from "../../fixtures/wait.js";
import { rawExport } from "../../agent/receivers/grpc-client.js";
import { allowListFilter, receiverConfig, RecordingConsumer } from "../../agent/receivers/receiver-harness.js";
import { createTestPki, fingerprint, rotate, type TestPki } from "./certs.js";
import { call } from "./https-client.js";

const log = silentLogger();
const LOOPBACK = parseListenAddress("127.0.0.1:0") as { host: string; port: number };
let pki: TestPki;
const running: { close(): Promise<void> }[] = [];
const sources: ServerTlsSource[] = [];

beforeAll(() => {
  pki = createTestPki();
});
afterAll(() => pki.cleanup());
afterEach(async () => {
  await Promise.allSettled(running.splice(0).map((server) => server.close()));
  for (const source of sources.splice(0)) source.stop();
  rotate(pki, pki.server);
});

async function tlsSource(overrides: Record<string, unknown> = {}): Promise<ServerTlsSource> {
  const source = await ServerTlsSource.load(
    tlsConfigSchema.parse({ certFile: pki.live.cert, keyFile: pki.live.key, reloadInterval: "50ms", ...overrides }),
    log,
  );
  if (!source) throw new Error("expected TLS to be on");
  sources.push(source);
  return source;
}

async function metricsServer(source: ServerTlsSource): Promise<RunningServer> {
  const server = await startHttpServer({
    name: "metrics",
    address: LOOPBACK,
    log,
    routes: { "/metrics": () => text(200, "up 1\n") },
    tls: source.forListener("metrics"),
  });
  running.push(server);
  return server;
}

describe("TLS on an HTTP listener", () => {
  it("serves a scrape over HTTPS to a client trusting the CA", async () => {
    const server = await metricsServer(await tlsSource());
    const reply = await call(server.address.port, "/metrics", { ca: pki.ca.cert });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe("up 1\n");
    expect(reply.peerFingerprint).toBe(fingerprint(pki.server.cert));
  });

  it("answers nothing to plain HTTP on the TLS port", async () => {
    const server = await metricsServer(await tlsSource());
    await expect(call(server.address.port, "/metrics")).rejects.toThrow();
  });

  it("serves a rotated certificate to new connections without a restart", async () => {
    const source = await tlsSource();
    const server = await metricsServer(source);
    rotate(pki, pki.rotated);
    let seen: string | undefined;
    await waitFor(
      () => seen === fingerprint(pki.rotated.cert),
      5_000,
      async () => {
        seen = (await call(server.address.port, "/metrics", { ca: pki.ca.cert })).peerFingerprint;
      },
    );
    expect(source.reloads).toBeGreaterThanOrEqual(1);
  });

  it("keeps serving the previous certificate while the files do not parse, and takes the next good pair", async () => {
    const source = await tlsSource();
    const server = await metricsServer(source);
    writeFileSync(pki.live.key, readFileSync(pki.rotated.key)); // key of server-2 with the certificate of server-1
    await source.checkNow();
    const during = await call(server.address.port, "/metrics", { ca: pki.ca.cert });
    expect(during.peerFingerprint).toBe(fingerprint(pki.server.cert));
    writeFileSync(pki.live.cert, readFileSync(pki.rotated.cert));
    await source.checkNow();
    expect((await call(server.address.port, "/metrics", { ca: pki.ca.cert })).peerFingerprint).toBe(
      fingerprint(pki.rotated.cert),
    );
  });

  it.each([
    [
      "a missing certificate file",
      () => ({ certFile: `${pki.dir}/nope.crt`, keyFile: pki.live.key }),
      /cannot read certificate .*nope\.crt/,
    ],
    [
      "a key that does not match the certificate",
      () => ({ certFile: pki.server.cert, keyFile: pki.rotated.key }),
      /server-1\.crt/,
    ],
    [
      "a client CA that is not PEM",
      () => ({ certFile: pki.server.cert, keyFile: pki.server.key, clientCaFile: pki.server.key }),
      /client CA .* holds no PEM certificate/,
    ],
  ])("refuses to start with %s", async (_name, files, message) => {
    await expect(ServerTlsSource.load(tlsConfigSchema.parse({ ...files() }), log)).rejects.toThrow(message);
  });

  it("is off for a listener left out of tls.listeners", async () => {
    const source = await tlsSource({ listeners: ["otlp-http"] });
    expect(source.forListener("metrics")).toBeUndefined();
    expect(source.forListener("otlp-http")?.clientCert).toBe("none");
  });
});

describe("mTLS", () => {
  it("the OTLP/HTTP receiver completes no handshake without a client certificate from the CA", async () => {
    const source = await tlsSource({ clientCaFile: pki.ca.cert });
    const consumer = new RecordingConsumer();
    const receiver: RunningReceiver = await startOtlpHttpReceiver({
      config: receiverConfig(),
      filter: allowListFilter,
      consumer,
      log,
      admission: createAdmission(1 << 20),
      security: { tls: source.forListener("otlp-http") },
    });
    running.push(receiver);
    const post = { method: "POST", headers: { "content-type": "application/json" }, body: "{}", ca: pki.ca.cert };
    await expect(call(receiver.address.port, "/v1/traces", post)).rejects.toThrow();
    await expect(call(receiver.address.port, "/v1/traces", { ...post, client: pki.strangerClient })).rejects.toThrow();
    const ok = await call(receiver.address.port, "/v1/traces", { ...post, client: pki.client });
    expect(ok.status).toBe(200);
  });

  it("the analyzer API asks for a certificate on its API paths and leaves the probes open", async () => {
    const source = await tlsSource({ clientCaFile: pki.ca.cert });
    const tls = source.forListener("analyzer");
    expect(tls?.clientCert).toBe("per-request");
    const server = await startHttpServer({
      name: "analyzer",
      address: LOOPBACK,
      log,
      tls,
      routes: { "/api/v1/slos": () => text(200, "slos\n"), "/healthz": () => text(200, "ok\n") },
      guard: httpGuard({ auth: undefined, clientCert: tls?.clientCert ?? "none", publicPaths: new Set(["/healthz"]) }),
    });
    running.push(server);
    const port = server.address.port;
    expect((await call(port, "/api/v1/slos", { ca: pki.ca.cert })).status).toBe(401);
    expect((await call(port, "/api/v1/slos", { ca: pki.ca.cert, client: pki.strangerClient })).status).toBe(401);
    expect((await call(port, "/healthz", { ca: pki.ca.cert })).status).toBe(200);
    const ok = await call(port, "/api/v1/slos", { ca: pki.ca.cert, client: pki.client });
    expect([ok.status, ok.body]).toEqual([200, "slos\n"]);
  });
});

describe("mTLS without tokens", () => {
  it("names the client certificate's common name as who acknowledged a recommendation", async () => {
    const source = await tlsSource({ clientCaFile: pki.ca.cert });
    const tls = source.forListener("analyzer");
    const recommendations = recommend(
      pairFleet(),
      null,
      { consolidation: consolidationConfigSchema.parse({}), idle: idleEvictionConfigSchema.parse({}) },
      Date.UTC(2026, 10, 28),
    );
    const actions = new RecommendationActions(() => recommendations, new AuditLog("", log));
    const server = await startHttpServer({
      name: "analyzer",
      address: LOOPBACK,
      log,
      tls,
      routes: {},
      postRoutes: actions.routes(),
      guard: httpGuard({ auth: undefined, clientCert: tls?.clientCert ?? "none", publicPaths: new Set() }),
    });
    running.push(server);
    const id = [...recommendationIds(recommendations)][0] as string;
    const reply = await call(server.address.port, "/api/v1/recommendations/acknowledge", {
      method: "POST",
      body: JSON.stringify({ id }),
      ca: pki.ca.cert,
      client: pki.client,
    });
    expect(reply.status).toBe(200);
    expect(actions.list()).toEqual([expect.objectContaining({ id, by: "cert:client-alice" })]);
  });
});

describe("TLS on the OTLP/gRPC receiver", () => {
  const clients: Client[] = [];
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  function grpcClient(port: number, withCert?: boolean): Client {
    const creds = withCert
      ? credentials.createSsl(readFileSync(pki.ca.cert), readFileSync(pki.client.key), readFileSync(pki.client.cert))
      : credentials.createSsl(readFileSync(pki.ca.cert));
    const client = new Client(`127.0.0.1:${port}`, creds);
    clients.push(client);
    return client;
  }

  async function grpcReceiver(source: ServerTlsSource): Promise<RunningReceiver> {
    const receiver = await startOtlpGrpcReceiver({
      config: receiverConfig(),
      filter: allowListFilter,
      consumer: new RecordingConsumer(),
      log,
      admission: createAdmission(2 << 20),
      security: { tls: source.forListener("otlp-grpc") },
    });
    running.push(receiver);
    return receiver;
  }

  it("accepts an export over TLS and picks up a rotated certificate on new connections", async () => {
    const source = await tlsSource();
    const receiver = await grpcReceiver(source);
    const first = await rawExport(grpcClient(receiver.address.port), new Uint8Array());
    expect(first.ok).toBe(true);
    rotate(pki, pki.rotated);
    await source.checkNow();
    // A fresh TLS connection straight to the port shows which certificate the HTTP/2 server now holds.
    const { connect } = await import("node:tls");
    const served = await new Promise<string>((resolve, reject) => {
      const socket = connect(
        { host: "127.0.0.1", port: receiver.address.port, ca: readFileSync(pki.ca.cert), ALPNProtocols: ["h2"] },
        () => {
          resolve(socket.getPeerCertificate().fingerprint256);
          socket.destroy();
        },
      );
      socket.on("error", reject);
    });
    expect(served).toBe(fingerprint(pki.rotated.cert));
    expect((await rawExport(grpcClient(receiver.address.port), new Uint8Array())).ok).toBe(true);
  });

  it("with mTLS, fails a client without a certificate and serves one with", async () => {
    const source = await tlsSource({ clientCaFile: pki.ca.cert });
    const receiver = await grpcReceiver(source);
    const refused = await rawExport(grpcClient(receiver.address.port), new Uint8Array());
    expect(refused.ok).toBe(false);
    const accepted = await rawExport(grpcClient(receiver.address.port, true), new Uint8Array());
    expect(accepted.ok).toBe(true);
  });

  it("refuses a plaintext gRPC client on the TLS port", async () => {
    const source = await tlsSource();
    const receiver = await grpcReceiver(source);
    const plain = new Client(`127.0.0.1:${receiver.address.port}`, credentials.createInsecure());
    clients.push(plain);
    const result = await new Promise<boolean>((resolve) => {
      plain.makeUnaryRequest(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
        new Metadata(),
        { deadline: Date.now() + 3_000 },
        (error) => resolve(error === null),
      );
    });
    expect(result).toBe(false);
  });
});
