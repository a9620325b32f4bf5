/**
 * Bearer tokens with roles on the analyzer API: 401 without a valid token, 403 for a role that does
 * not allow the action, probes open; operators acknowledge and dismiss recommendations, and every
 * attempt lands in the audit log as a JSON line (who, what, when). Tokens never reach the log.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RecommendationActions, recommendationIds } from "../../../analyzer/api/recommendation-actions.js";
import { consolidationConfigSchema } from "../../../common/config/consolidation-config.js";
import { idleEvictionConfigSchema } from "../../../common/config/idle-eviction-config.js";
import { recommend } from "../../../analyzer/recommend/recommendations.js";
import { startAnalyzer, type Analyzer } from "../../../analyzer/service.js";
import { DEFAULT_SLO_CONFIG } from "../../../common/slo/spec.js";
import { MemoryStore } from "../../../analyzer/stores/memory-store.js";
import { authConfigSchema } from "../../../common/auth/auth-config.js";
import { httpGuard } from "../../../common/auth/http-guard.js";
import { loadSecurity, type Security } from "../../../common/auth/security.js";
import { analyzerConfigSchema } from "../../../common/config/schema.js";
import { parseListenAddress } from "../../../common/config/listen-address.js";
import { startHttpServer, type RunningServer } from "../../../common/http-server.js";
import { createLogger, type Logger } from "../../../common/log.js";
import { tlsConfigSchema } from "../../../common/tls/tls-config.js";
import { pairFleet } from "../../fixtures/consolidation-fleets.js";
import { call } from "../tls/https-client.js";

const TOKENS = {
  viewer: "viewer-token-0123456789abcdef",
  operator: "operator-token-0123456789abcdef",
  ingest: "ingest-token-0123456789abcdef",
};
let dir: string;
let logText = "";
let log: Logger;
let security: Security;
let auditFile: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "inferwatch-auth-"));
  const tokenFile = join(dir, "tokens");
  auditFile = join(dir, "audit.jsonl");
  writeFileSync(
    tokenFile,
    `viewer:grafana:${TOKENS.viewer}\noperator:alice:${TOKENS.operator}\ningest:vllm:${TOKENS.ingest}\n`,
  );
  const sink = new PassThrough();
  sink.on("data", (chunk: Buffer) => {
    logText += chunk.toString("utf8");
  });
  log = createLogger({ level: "debug", destination: sink });
  security = await loadSecurity(
    { tls: tlsConfigSchema.parse({}), auth: authConfigSchema.parse({ tokenFile, auditLog: auditFile }) },
    log,
  );
});
afterAll(() => {
  security.stop();
  rmSync(dir, { recursive: true, force: true });
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const post = (token: string | undefined, body: unknown) => ({
  method: "POST",
  body: JSON.stringify(body),
  headers: { "content-type": "application/json", ...(token ? bearer(token) : {}) },
});
const auditLines = () =>
  readFileSync(auditFile, "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe("the analyzer API with a token file", () => {
  let analyzer: Analyzer;
  beforeAll(async () => {
    const config = analyzerConfigSchema.parse({
      listen: "127.0.0.1:0",
      source: "agents=http://127.0.0.1:1",
      interval: "1h",
    });
    analyzer = await startAnalyzer(config, DEFAULT_SLO_CONFIG, new MemoryStore(), log, { security });
  });
  afterAll(() => analyzer.shutdown());

  it.each([
    ["no Authorization header", {}],
    ["an unknown token", bearer("not-a-real-token-0000000000")],
    ["another scheme", { authorization: `Basic ${Buffer.from(`x:${TOKENS.viewer}`).toString("base64")}` }],
  ])("answers 401 without detail to %s", async (_name, headers) => {
    const reply = await call(analyzer.address.port, "/api/v1/slos", { headers });
    expect(reply.status).toBe(401);
    expect(reply.body).toBe("unauthorized\n");
    expect(reply.headers["www-authenticate"]).toBe('Bearer realm="inferwatch"');
  });

  it.each(["/api/v1/slos", "/api/v1/recommendations", "/metrics"])("lets a viewer read %s", async (path) => {
    expect((await call(analyzer.address.port, path, { headers: bearer(TOKENS.viewer) })).status).toBe(200);
  });

  it("answers 403 to an ingest token on the API", async () => {
    const reply = await call(analyzer.address.port, "/api/v1/slos", { headers: bearer(TOKENS.ingest) });
    expect([reply.status, reply.body]).toEqual([403, "forbidden\n"]);
  });

  it("leaves /healthz and /readyz open to the kubelet's probes", async () => {
    expect((await call(analyzer.address.port, "/healthz")).status).toBe(200);
    expect([200, 503]).toContain((await call(analyzer.address.port, "/readyz")).status);
  });

  it("refuses acknowledging to a viewer (403) and to no token (401), and audits both refused attempts", async () => {
    const before = existsSync(auditFile) ? auditLines().length : 0;
    expect(
      (
        await call(
          analyzer.address.port,
          "/api/v1/recommendations/acknowledge",
          post(TOKENS.viewer, { id: "move:x/y" }),
        )
      ).status,
    ).toBe(403);
    expect(
      (await call(analyzer.address.port, "/api/v1/recommendations/acknowledge", post(undefined, { id: "move:x/y" })))
        .status,
    ).toBe(401);
    await security.audit.flush();
    expect(auditLines().slice(before)).toEqual([
      expect.objectContaining({
        who: "grafana",
        role: "viewer",
        action: "recommendation.acknowledge",
        outcome: "forbidden",
      }),
      expect.objectContaining({
        who: "unknown",
        role: "none",
        action: "recommendation.acknowledge",
        outcome: "unauthenticated",
      }),
    ]);
  });

  it("lets an operator through to the action, which audits an unknown id as not-found", async () => {
    const reply = await call(
      analyzer.address.port,
      "/api/v1/recommendations/dismiss",
      post(TOKENS.operator, { id: "move:ns/no-such-pod" }),
    );
    expect(reply.status).toBe(404);
    await security.audit.flush();
    expect(auditLines().at(-1)).toMatchObject({
      who: "alice",
      role: "operator",
      action: "recommendation.dismiss",
      target: "move:ns/no-such-pod",
      outcome: "not-found",
    });
  });

  it("never writes a token to the log", () => {
    expect(logText).not.toBe("");
    for (const token of Object.values(TOKENS)) expect(logText).not.toContain(token);
  });
});

describe("acknowledging and dismissing recommendations", () => {
  let server: RunningServer;
  let actions: RecommendationActions;
  const recommendations = recommend(
    pairFleet(),
    null,
    { consolidation: consolidationConfigSchema.parse({}), idle: idleEvictionConfigSchema.parse({}) },
    Date.UTC(2026, 10, 28),
  );
  const ids = [...recommendationIds(recommendations)];

  beforeAll(async () => {
    actions = new RecommendationActions(
      () => recommendations,
      security.audit,
      () => Date.UTC(2026, 10, 28, 12, 0, 0),
    );
    server = await startHttpServer({
      name: "analyzer",
      address: parseListenAddress("127.0.0.1:0") as { host: string; port: number },
      log,
      routes: {
        "/api/v1/recommendations/actions": () => ({
          status: 200,
          contentType: "application/json",
          body: JSON.stringify(actions.list()),
        }),
      },
      postRoutes: actions.routes(),
      guard: httpGuard({ auth: security.auth, clientCert: "none", publicPaths: new Set() }),
    });
  });
  afterAll(() => server.close());
  afterEach(() => security.audit.flush());

  it("has a move to act on (the pair fleet frees a node in one move)", () => {
    expect(ids.filter((id) => id.startsWith("move:"))).toHaveLength(1);
  });

  it("records an operator's acknowledgement with who and when, and audits it", async () => {
    const id = ids[0] as string;
    const reply = await call(
      server.address.port,
      "/api/v1/recommendations/acknowledge",
      post(TOKENS.operator, { id, note: "next maintenance window" }),
    );
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({
      id,
      state: "acknowledged",
      by: "alice",
      at: "2026-11-28T12:00:00.000Z",
      note: "next maintenance window",
    });
    await security.audit.flush();
    expect(auditLines().at(-1)).toEqual({
      time: "2026-11-28T12:00:00.000Z",
      who: "alice",
      role: "operator",
      action: "recommendation.acknowledge",
      target: id,
      outcome: "ok",
      remote: "127.0.0.1",
      note: "next maintenance window",
    });
  });

  it("replaces an acknowledgement by a later dismissal", async () => {
    const id = ids[0] as string;
    expect(
      (await call(server.address.port, "/api/v1/recommendations/dismiss", post(TOKENS.operator, { id }))).status,
    ).toBe(200);
    const listed = JSON.parse(
      (await call(server.address.port, "/api/v1/recommendations/actions", { headers: bearer(TOKENS.viewer) })).body,
    ) as { id: string; state: string }[];
    expect(listed.filter((record) => record.id === id).map((record) => record.state)).toEqual(["dismissed"]);
  });

  it.each([
    ["a body that is not JSON", "{id:"],
    ["an id that is not a string", JSON.stringify({ id: 7 })],
    ["an overlong note", JSON.stringify({ id: "x", note: "n".repeat(501) })],
  ])("answers 400 to %s and audits it as invalid", async (_name, body) => {
    const reply = await call(server.address.port, "/api/v1/recommendations/acknowledge", {
      method: "POST",
      body,
      headers: bearer(TOKENS.operator),
    });
    expect(reply.status).toBe(400);
    await security.audit.flush();
    expect(auditLines().at(-1)).toMatchObject({ who: "alice", outcome: "invalid" });
  });

  it("answers 405 with Allow: GET, HEAD to a POST on a read path", async () => {
    const reply = await call(server.address.port, "/api/v1/recommendations/actions", {
      method: "POST",
      body: "{}",
      headers: bearer(TOKENS.operator),
    });
    expect([reply.status, reply.headers.allow]).toEqual([405, "GET, HEAD"]);
  });

  it("answers 401, not 404, to an unauthenticated request for a path that does not exist", async () => {
    expect((await call(server.address.port, "/api/v1/secret-admin")).status).toBe(401);
    expect((await call(server.address.port, "/api/v1/secret-admin", { headers: bearer(TOKENS.viewer) })).status).toBe(
      404,
    );
  });

  it("answers 405 to a GET on an action path", async () => {
    const reply = await call(server.address.port, "/api/v1/recommendations/acknowledge", {
      headers: bearer(TOKENS.operator),
    });
    expect([reply.status, reply.headers.allow]).toEqual([405, "POST"]);
  });
});
