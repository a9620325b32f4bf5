/**
 * Refusals are visible and cheap (issue: hardening, reproduction 8): every 401/403 of the analyzer
 * API — reads included — and of OTLP ingest is counted in
 * `inferwatch_http_requests_refused_total{listener,reason}` and logged, the log at most once a
 * minute per listener and reason; refused operator actions reach the audit log rate-limited, the
 * rest summed into one `audit.suppressed` record.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAnalyzer, type Analyzer } from "../../../analyzer/service.js";
import { DEFAULT_SLO_CONFIG } from "../../../common/slo/spec.js";
import { MemoryStore } from "../../../analyzer/stores/memory-store.js";
import { AuditLog, type AuditEntry } from "../../../common/auth/audit-log.js";
import { authConfigSchema } from "../../../common/auth/auth-config.js";
import { Refusals } from "../../../common/auth/refusals.js";
import { loadSecurity, type Security } from "../../../common/auth/security.js";
import { analyzerConfigSchema } from "../../../common/config/schema.js";
import { METRICS } from "../../../common/conventions.js";
import { createLogger, silentLogger, type Logger } from "../../../common/log.js";
import { tlsConfigSchema } from "../../../common/tls/tls-config.js";
import { parseExposition, valueOf } from "../../fixtures/exposition.js";
import { call } from "../tls/https-client.js";

const VIEWER = "viewer-token-0123456789abcdef";

/** A logger whose JSON lines land in `lines`. */
function capturingLogger(): { log: Logger; lines: () => Record<string, unknown>[] } {
  let text = "";
  const sink = new PassThrough();
  sink.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
  return {
    log: createLogger({ level: "info", destination: sink }),
    lines: () =>
      text
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe("Refusals", () => {
  it("counts every refusal and logs the first, then one line a minute carrying how many went unlogged", async () => {
    const { log, lines } = capturingLogger();
    let nowMs = 0;
    const refusals = new Refusals(log, () => nowMs);
    for (let i = 0; i < 500; i++) refusals.record("otlp-grpc", "unauthenticated", "10.0.0.9");
    nowMs = 60_000;
    refusals.record("otlp-grpc", "unauthenticated", "10.0.0.9");
    refusals.record("analyzer", "forbidden");
    await new Promise((resolve) => setImmediate(resolve));
    expect(refusals.count("otlp-grpc", "unauthenticated")).toBe(501);
    expect(refusals.count("analyzer", "forbidden")).toBe(1);
    expect(lines().map((l) => [l["listener"], l["reason"], l["suppressed"], l["msg"]])).toEqual([
      ["otlp-grpc", "unauthenticated", 0, "request refused"],
      ["otlp-grpc", "unauthenticated", 499, "request refused (499 more since the last line)"],
      ["analyzer", "forbidden", 0, "request refused"],
    ]);
  });
});

describe("AuditLog's rate limit on refused attempts", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "inferwatch-audit-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const refused = (i: number): AuditEntry => ({
    time: new Date(i).toISOString(),
    who: "unknown",
    role: "none",
    action: "recommendation.dismiss",
    target: "",
    outcome: "unauthenticated",
    remote: "10.0.0.9",
  });
  const lines = (file: string): AuditEntry[] =>
    readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as AuditEntry);

  it("records 20 of 2,000 refused attempts in one window one by one and the other 1,980 as one audit.suppressed record", async () => {
    const file = join(dir, "flood.jsonl");
    let nowMs = Date.UTC(2026, 0, 1);
    const audit = new AuditLog(file, silentLogger(), { perWindow: 20, windowMs: 10_000 }, () => nowMs);
    for (let i = 0; i < 2_000; i++) {
      void audit.record(refused(i));
      nowMs += 1;
    }
    await audit.flush();
    const written = lines(file);
    expect(written).toHaveLength(21);
    expect(written.slice(0, 20).every((entry) => entry.outcome === "unauthenticated")).toBe(true);
    expect(written[20]).toMatchObject({ action: "audit.suppressed", outcome: "suppressed", suppressed: 1_980 });
    expect(written[20]?.note).toMatch(
      /^1980 refused attempts not recorded one by one \(rate limit 20 per 10 s\), 2026-01-01T00:00:00\.020Z to 2026-01-01T00:00:01\.999Z$/,
    );
  });

  it("always records actions that ran, however many refusals surround them", async () => {
    const file = join(dir, "mixed.jsonl");
    const audit = new AuditLog(file, silentLogger(), { perWindow: 2, windowMs: 60_000 });
    for (let i = 0; i < 10; i++) {
      void audit.record(refused(i));
      void audit.record({ ...refused(i), who: "alice", role: "operator", target: `move:ns/p${i}`, outcome: "ok" });
    }
    await audit.flush();
    const written = lines(file);
    expect(written.filter((entry) => entry.outcome === "ok").map((entry) => entry.target)).toEqual(
      Array.from({ length: 10 }, (_, i) => `move:ns/p${i}`),
    );
    expect(written.filter((entry) => entry.outcome === "unauthenticated")).toHaveLength(2);
    expect(written.at(-1)).toMatchObject({ outcome: "suppressed", suppressed: 8 });
  });

  it("writes the summary when its window ends, without another attempt or a flush", async () => {
    const file = join(dir, "timer.jsonl");
    const audit = new AuditLog(file, silentLogger(), { perWindow: 1, windowMs: 50 });
    for (let i = 0; i < 5; i++) void audit.record(refused(i));
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(lines(file).map((entry) => entry.outcome)).toEqual(["unauthenticated", "suppressed"]);
    expect(lines(file)[1]?.suppressed).toBe(4);
  });
});

describe("the analyzer API counts and audits its refusals", () => {
  let dir: string;
  let security: Security;
  let analyzer: Analyzer;
  let auditFile: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "inferwatch-refusals-"));
    const tokenFile = join(dir, "tokens");
    auditFile = join(dir, "audit.jsonl");
    writeFileSync(tokenFile, `viewer:grafana:${VIEWER}\n`);
    security = await loadSecurity(
      { tls: tlsConfigSchema.parse({}), auth: authConfigSchema.parse({ tokenFile, auditLog: auditFile }) },
      silentLogger(),
    );
    const config = analyzerConfigSchema.parse({
      listen: "127.0.0.1:0",
      source: "agents=http://127.0.0.1:1",
      interval: "1h",
    });
    analyzer = await startAnalyzer(config, DEFAULT_SLO_CONFIG, new MemoryStore(), silentLogger(), { security });
  });
  afterAll(async () => {
    await analyzer.shutdown();
    security.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("counts refused reads and refused actions by reason, and audits 200 refused actions in at most 21 lines", async () => {
    const port = analyzer.address.port;
    for (let i = 0; i < 3; i++) expect((await call(port, "/api/v1/slos")).status).toBe(401);
    for (let i = 0; i < 200; i++) {
      const reply = await call(port, "/api/v1/recommendations/dismiss", {
        method: "POST",
        body: "{}",
        headers: { "content-type": "application/json", authorization: `Bearer ${VIEWER}` },
      });
      expect(reply.status).toBe(403);
    }
    const metrics = await call(port, "/metrics", { headers: { authorization: `Bearer ${VIEWER}` } });
    const series = parseExposition(metrics.body);
    expect(valueOf(series, METRICS.httpRequestsRefused.name, { listener: "analyzer", reason: "unauthenticated" })).toBe(
      3,
    );
    expect(valueOf(series, METRICS.httpRequestsRefused.name, { listener: "analyzer", reason: "forbidden" })).toBe(200);
    await security.audit.flush();
    const audited = readFileSync(auditFile, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as AuditEntry);
    expect(audited.length).toBeLessThanOrEqual(21);
    expect(
      audited.filter((entry) => entry.outcome === "forbidden").length +
        audited.reduce((sum, entry) => sum + (entry.suppressed ?? 0), 0),
    ).toBe(200);
  });
});
