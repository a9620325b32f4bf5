/**
 * The console's server side: the page and its files on the analyzer's listener behind the same
 * tokens as the API, with a policy that keeps the page on this origin; the utilization grid and the
 * runtime gauges per model computed from known series.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSOLE_PANELS } from "../../../analyzer/console/console-page.js";
import { runtimeNow } from "../../../analyzer/console/runtime-now.js";
import { HISTORY_STEP_MS, MAX_ROWS, utilizationHistory } from "../../../analyzer/console/utilization-history.js";
import { startAnalyzer, type Analyzer } from "../../../analyzer/service.js";
import { DEFAULT_SLO_CONFIG } from "../../../common/slo/spec.js";
import { MemoryStore } from "../../../analyzer/stores/memory-store.js";
import { authConfigSchema } from "../../../common/auth/auth-config.js";
import { loadSecurity, type Security } from "../../../common/auth/security.js";
import { analyzerConfigSchema } from "../../../common/config/schema.js";
import { METRICS } from "../../../common/conventions.js";
import { silentLogger } from "../../../common/log.js";
import { tlsConfigSchema } from "../../../common/tls/tls-config.js";
import { call } from "../../common/tls/https-client.js";

const VIEWER = "viewer-token-0123456789abcdef";
const INGEST = "ingest-token-0123456789abcdef";
const END = Date.UTC(2026, 10, 28, 12);

describe("the console on the analyzer's listener", () => {
  let dir: string;
  let security: Security;
  let analyzer: Analyzer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "inferwatch-console-"));
    writeFileSync(join(dir, "tokens"), `viewer:grafana:${VIEWER}\ningest:vllm:${INGEST}\n`);
    security = await loadSecurity(
      { tls: tlsConfigSchema.parse({}), auth: authConfigSchema.parse({ tokenFile: join(dir, "tokens") }) },
      silentLogger(),
    );
    const config = analyzerConfigSchema.parse({
      listen: "127.0.0.1:0",
      source: "agents=http://127.0.0.1:1",
      interval: "1h",
    });
    analyzer = await startAnalyzer(config, DEFAULT_SLO_CONFIG, new MemoryStore(), silentLogger(), {
      security,
      now: () => END,
    });
    await analyzer.evaluate();
  });
  afterAll(async () => {
    await analyzer.shutdown();
    security.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const get = (path: string, token?: string) =>
    call(analyzer.address.port, path, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

  it.each(["/", "/console/console.js", "/console/echarts.min.js", "/api/v1/utilization/history", "/api/v1/runtime"])(
    "asks for a token on %s (401 without, 403 for an ingest token)",
    async (path) => {
      expect((await get(path)).status).toBe(401);
      expect((await get(path, INGEST)).status).toBe(403);
    },
  );

  it("serves a viewer the page with every panel, its API links and a policy that keeps it on this origin", async () => {
    const reply = await get("/", VIEWER);
    expect(reply.status).toBe(200);
    expect(reply.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(reply.headers["content-security-policy"]).toContain("default-src 'none'; script-src 'self'");
    expect(reply.headers["content-security-policy"]).toContain("connect-src 'self'");
    for (const panel of CONSOLE_PANELS) {
      expect(reply.body).toContain(`id="panel-${panel.id}"`);
      for (const api of panel.apis) expect(reply.body).toContain(`href="${api}"`);
    }
    expect(reply.body).toContain('href="/report"');
    expect(reply.body).not.toMatch(/<script>|https?:\/\//);
  });

  it("serves the client modules, the stylesheet and the ECharts bundle with their types", async () => {
    for (const [path, type] of [
      ["/console/console.js", "text/javascript"],
      ["/console/slo-panel.js", "text/javascript"],
      ["/console/console.css", "text/css"],
      ["/console/echarts.min.js", "text/javascript"],
    ] as const) {
      const reply = await get(path, VIEWER);
      expect([path, reply.status, reply.headers["content-type"]]).toEqual([path, 200, `${type}; charset=utf-8`]);
    }
    expect((await get("/console/tsconfig.json", VIEWER)).status).toBe(404);
    expect((await get("/console/echarts-global.d.ts", VIEWER)).status).toBe(404);
  });

  it("answers the new endpoints with the evaluation's envelope (an empty store: no rows, no models)", async () => {
    const history = JSON.parse((await get("/api/v1/utilization/history", VIEWER)).body) as {
      evaluatedAt: string;
      utilization: { rows: unknown[]; times: number[] };
    };
    expect(history.evaluatedAt).toBe(new Date(END).toISOString());
    expect(history.utilization.rows).toEqual([]);
    expect(history.utilization.times).toHaveLength(73);
    const runtime = JSON.parse((await get("/api/v1/runtime", VIEWER)).body) as { models: unknown[] };
    expect(runtime.models).toEqual([]);
  });
});

describe("the utilization grid", () => {
  const gpu = (node: string, index: number) => ({
    node,
    gpu: String(index),
    uuid: `GPU-${node}-${index}`,
    gpu_model: "NVIDIA L4",
  });
  const poolOf = (node: string) => (node.startsWith("b") ? "batch" : "latency");

  it("gives each GPU a row sorted by pool, node and index, and each pool the mean of its GPUs with a sample", async () => {
    const store = new MemoryStore();
    for (let t = END - 6 * 3_600_000; t <= END; t += 60_000) {
      store.ingest(METRICS.utilization.name, gpu("a-node", 10), 0.2, t);
      store.ingest(METRICS.utilization.name, gpu("a-node", 2), 0.6, t);
      store.ingest(METRICS.utilization.name, gpu("b-node", 0), t >= END - 3_600_000 ? 0.9 : 0.1, t);
    }
    const history = await utilizationHistory(store, poolOf, END);
    expect(history.rowKind).toBe("gpu");
    expect(history.rows.map((row) => [row.key, row.pool])).toEqual([
      ["b-node/0", "batch"],
      ["a-node/2", "latency"],
      ["a-node/10", "latency"],
    ]);
    expect(history.times[1]! - history.times[0]!).toBe(HISTORY_STEP_MS);
    expect(history.times.at(-1)).toBe(END);
    const latency = history.pools.find((pool) => pool.key === "latency");
    expect(latency?.values.every((v) => v !== null && Math.abs(v - 0.4) < 1e-12)).toBe(true);
    const batch = history.pools.find((pool) => pool.key === "batch");
    expect(batch?.values.at(-1)).toBe(0.9);
    expect(batch?.values[0]).toBe(0.1);
  });

  it("shows SM activity where a GPU reports it and busy time on the others, saying the grid is mixed", async () => {
    const store = new MemoryStore();
    const hopper = { ...gpu("a-node", 0), gpu_model: "NVIDIA H100 80GB HBM3" };
    for (let t = END - 3_600_000; t <= END; t += 60_000) {
      store.ingest(METRICS.smActive.name, hopper, 0.25, t);
      store.ingest(METRICS.utilization.name, hopper, 1, t);
      store.ingest(METRICS.utilization.name, gpu("a-node", 1), 0.5, t);
    }
    const onSm = await utilizationHistory(store, poolOf, END, "sm");
    expect(onSm.rows.map((row) => [row.key, row.values.at(-1)])).toEqual([
      ["a-node/0", 0.25],
      ["a-node/1", 0.5],
    ]);
    expect([onSm.basis, onSm.metric]).toEqual([
      "mixed",
      "the configured basis where GPUs report it, busy time on the others",
    ]);
    const onBusy = await utilizationHistory(store, poolOf, END);
    expect(onBusy.rows.map((row) => row.values.at(-1))).toEqual([1, 0.5]);
    expect(onBusy.basis).toBe("busy");
  });

  it(`folds GPUs into node rows past ${MAX_ROWS} GPUs`, async () => {
    const store = new MemoryStore();
    for (let n = 0; n < 40; n++)
      for (let g = 0; g < 8; g++)
        store.ingest(METRICS.utilization.name, gpu(`a-${String(n).padStart(2, "0")}`, g), g / 10, END);
    const history = await utilizationHistory(store, poolOf, END);
    expect(history.rowKind).toBe("node");
    expect(history.rows).toHaveLength(40);
    expect(history.rows[0]?.values.at(-1)).toBeCloseTo(0.35, 12);
  });
});

describe("the runtime gauges per model", () => {
  it("takes the highest KV usage, sums waiting and running requests, and counts prefix hits and preemptions as increases", async () => {
    const store = new MemoryStore();
    const pod = (model: string, name: string) => ({
      model,
      runtime: "vllm",
      namespace: "inference",
      pod: name,
      node: "n1",
      tier: "latency",
    });
    for (let i = 0; i <= 60; i++) {
      const t = END - 3_600_000 + i * 60_000;
      store.ingest(METRICS.llmKvCacheUsage.name, pod("llama-7b", "a"), 0.5, t);
      store.ingest(METRICS.llmKvCacheUsage.name, pod("llama-7b", "b"), 0.8, t);
      store.ingest(METRICS.llmQueueDepth.name, pod("llama-7b", "a"), 3, t);
      store.ingest(METRICS.llmQueueDepth.name, pod("llama-7b", "b"), 4, t);
      store.ingest(METRICS.llmBatchSize.name, pod("llama-7b", "a"), 16, t);
      store.ingest(METRICS.llmPrefixCacheQueries.name, pod("llama-7b", "a"), 1000 * i, t);
      store.ingest(METRICS.llmPrefixCacheHits.name, pod("llama-7b", "a"), 250 * i, t);
      store.ingest(METRICS.llmPreemptions.name, pod("llama-7b", "b"), 2 * i, t);
    }
    const [model] = await runtimeNow(store, END);
    expect(model).toMatchObject({
      model: "llama-7b",
      runtimes: ["vllm"],
      replicas: 2,
      kvCacheUsageMax: 0.8,
      queueDepth: 7,
      batchSize: 16,
      preemptions: 120,
    });
    expect(model?.kvCacheUsageMean).toBeCloseTo(0.65, 12);
    expect(model?.prefixCacheHitRatio).toBeCloseTo(0.25, 12);
  });
});
