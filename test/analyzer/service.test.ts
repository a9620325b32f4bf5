/**
 * The analyzer service on the embedded store, fed with a day of simulated history (the real
 * writer), answering through its HTTP API and /metrics, and serving its last answers marked stale
 * when the store fails — part by part: one failing or slow query degrades the part it belongs to,
 * the slow parts refresh on their own interval, and every answer says how fresh it is.
 */
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { startAnalyzer, type Analyzer } from "../../analyzer/service.js";
import { computeBurnRate } from "../../analyzer/slo/burn.js";
import { DEFAULT_SLO_CONFIG } from "../../common/slo/spec.js";
import { MemoryStore } from "../../analyzer/stores/memory-store.js";
import type { MetricStore } from "../../analyzer/stores/metric-store.js";
import { writeHistory } from "../../cli/simulate/history.js";
import { analyzerConfigSchema, configSchema } from "../../common/config/schema.js";
import { silentLogger } from "../../common/log.js";
import { compileFleet, incidentWindows } from "../../cli/simulate/fleet-model.js";
import { DEFAULT_SCENARIO } from "../../cli/simulate/scenario.js";
import { parseExposition, valueOf } from "../fixtures/exposition.js";

const ORIGIN_MS = Date.UTC(2026, 10, 1);
const fleet = compileFleet(DEFAULT_SCENARIO, { originMs: ORIGIN_MS });
// Evaluate 8 minutes into the incident of the second day: its 5-minute window lies inside the incident.
const incident = incidentWindows(fleet, ORIGIN_MS + 86_400_000, ORIGIN_MS + 2 * 86_400_000)[0] as {
  startMs: number;
  endMs: number;
};
const AT_MS = incident.startMs + 8 * 60_000;
const pools = fleet.nodes.map((node) => ({ name: node.pool, nodes: `^${node.name}$` }));
const config = analyzerConfigSchema.parse({
  listen: "127.0.0.1:0",
  source: "agents=http://127.0.0.1:1",
  interval: "1h",
  pools,
});

let store: MemoryStore;
let analyzer: Analyzer | undefined;

beforeAll(() => {
  store = new MemoryStore();
  const spans = configSchema.parse({}).agent.spans;
  writeHistory(
    DEFAULT_SCENARIO,
    { endMs: AT_MS, originMs: ORIGIN_MS, days: 1.5, stepMs: 60_000, spans: { ...spans, sloThresholds: [1.2, 2, 4] } },
    (name, labels, value, atMs) => void store.ingest(name, labels, value, atMs),
  );
}, 180_000);

afterEach(async () => {
  await analyzer?.shutdown();
  analyzer = undefined;
});

/** The store with some of its methods replaced (failing, hanging, counting). */
function storeWith(overrides: Partial<MetricStore>): MetricStore {
  return {
    kind: "memory",
    get queryCount() {
      return store.queryCount;
    },
    increase: (q, c) => store.increase(q, c),
    increaseRange: (q, c) => store.increaseRange(q, c),
    range: (q, c) => store.range(q, c),
    latest: (q, c) => store.latest(q, c),
    overTime: (q, c) => store.overTime(q, c),
    overTimeRange: (q, c) => store.overTimeRange(q, c),
    hasSeries: (m, at, c) => store.hasSeries(m, at, c),
    ...overrides,
  };
}

interface PartBody {
  name: string;
  atMs: number | null;
  attemptedAtMs: number | null;
  isStale: boolean;
  error: string | null;
  usage: { queries: number } | null;
}

async function start(
  over: MetricStore = store,
  options: { now?: () => number; config?: typeof config; log?: ReturnType<typeof silentLogger> } = {},
): Promise<{ analyzer: Analyzer; url: string }> {
  analyzer = await startAnalyzer(options.config ?? config, DEFAULT_SLO_CONFIG, over, options.log ?? silentLogger(), {
    now: options.now ?? (() => AT_MS),
  });
  await analyzer.evaluate();
  return { analyzer, url: `http://127.0.0.1:${analyzer.address.port}` };
}

describe("analyzer service", () => {
  it("reports the incident's burn on the short windows of the model it hits, computed from counted events", async () => {
    const { url } = await start();
    const body = (await (await fetch(`${url}/api/v1/slos`)).json()) as {
      stale: boolean;
      slos: {
        id: string;
        burn: { windows: { windowId: string; short: { burnRate: number }; long: { burnRate: number } }[] };
        budget: { remaining: number };
      }[];
    };
    expect(body.stale).toBe(false);
    const latency13b = body.slos.find((slo) => slo.id === "13b-latency");
    const page = latency13b?.burn.windows.find((w) => w.windowId === "page-1h-5m");
    // 30% of requests pushed past 2 s during the incident: the 5-minute burn is about 0.3 / 0.05 = 6.
    expect(page?.short.burnRate).toBeGreaterThan(4);
    expect(page?.short.burnRate).toBeLessThan(8);
    const quiet = body.slos
      .find((slo) => slo.id === "7b-latency")
      ?.burn.windows.find((w) => w.windowId === "page-1h-5m");
    expect(quiet?.short.burnRate).toBeLessThan(1);

    const bucket = await store.increase({
      metric: "inferwatch_llm_request_duration_seconds_bucket",
      windowMs: 300_000,
      atMs: AT_MS,
      by: ["le"],
      match: { model: "llama-2-13b-awq", le: "2" },
    });
    const count = await store.increase({
      metric: "inferwatch_llm_request_duration_seconds_count",
      windowMs: 300_000,
      atMs: AT_MS,
      by: [],
      match: { model: "llama-2-13b-awq" },
    });
    const expected = computeBurnRate({ good: bucket[0]?.value ?? 0, total: count[0]?.value ?? 0 }, 0.95);
    expect(expected.state === "measured" && expected.burnRate).toBeCloseTo(page?.short.burnRate ?? 0, 9);
  });

  it("exports the same figures on /metrics", async () => {
    const { url, analyzer: a } = await start();
    const series = parseExposition(await (await fetch(`${url}/metrics`)).text());
    const status = a.state().slos?.slos.find((slo) => slo.id === "13b-latency");
    const short = status?.burn.windows.find((w) => w.windowId === "page-1h-5m")?.short;
    expect(valueOf(series, "inferwatch_slo_burn_rate", { slo: "13b-latency", window: "5m" })).toBeCloseTo(
      short?.state === "measured" ? short.burnRate : NaN,
      9,
    );
    expect(valueOf(series, "inferwatch_slo_objective_ratio", { slo: "7b-latency" })).toBe(0.95);
    expect(valueOf(series, "inferwatch_slo_error_budget_remaining_ratio", { slo: "13b-latency" })).toBeCloseTo(
      status?.budget.remaining ?? NaN,
      9,
    );
    expect(valueOf(series, "inferwatch_fleet_gpu_utilization_ratio", { pool: "latency" })).toBeGreaterThan(0);
    expect(valueOf(series, "inferwatch_fleet_stranded_memory_bytes", { pool: "batch" })).toBeGreaterThanOrEqual(0);
    expect(valueOf(series, "inferwatch_analyzer_stale")).toBe(0);
    expect(valueOf(series, "inferwatch_analyzer_store_queries")).toBeGreaterThan(0);
  });

  it("gives fleet utilization per pool and fragmentation of the assembled snapshot", async () => {
    const { url } = await start();
    const fleetBody = (await (await fetch(`${url}/api/v1/fleet`)).json()) as {
      fleet: {
        utilization: { day: { pools: { key: string; meanRatio: number }[] } };
        efficiency: { tokensPerSecondPerGpu: number };
      };
    };
    expect(fleetBody.fleet.utilization.day.pools.map((p) => p.key).sort()).toEqual(["batch", "latency"]);
    expect(fleetBody.fleet.efficiency.tokensPerSecondPerGpu).toBeGreaterThan(0);
    const snapshot = (await (await fetch(`${url}/api/v1/snapshot`)).json()) as {
      nodes: { gpus: unknown[] }[];
      replicas: { model: string; tensorParallel: number }[];
    };
    expect(snapshot.nodes.flatMap((n) => n.gpus)).toHaveLength(20);
    expect(snapshot.replicas.find((r) => r.model === "llama-2-70b-awq")?.tensorParallel).toBe(4);
  });

  it("serves recommendations for the assembled snapshot and their per-pool metrics", async () => {
    const { url } = await start();
    const body = (await (await fetch(`${url}/api/v1/recommendations`)).json()) as {
      recommendations: {
        consolidation: { check: { isValid: boolean }; gpusFreed: number };
        idle: { pools: { pool: string }[] };
      };
    };
    expect(body.recommendations.consolidation.check.isValid).toBe(true);
    expect(body.recommendations.idle.pools.map((p) => p.pool).sort()).toEqual(["batch", "latency"]);
    const series = parseExposition(await (await fetch(`${url}/metrics`)).text());
    const reclaimable = ["batch", "latency"].map(
      (pool) => valueOf(series, "inferwatch_recommendation_gpus_reclaimable", { pool }) ?? NaN,
    );
    expect(reclaimable.every((value) => value >= 0)).toBe(true);
    expect(valueOf(series, "inferwatch_recommendation_moves", { pool: "latency" })).toBeGreaterThanOrEqual(0);
    expect(valueOf(series, "inferwatch_recommendation_idle_replicas", { pool: "batch" })).toBeGreaterThanOrEqual(0);
  });

  it("keeps serving the last answers, marked stale, when the store fails", async () => {
    let isBroken = false;
    const flaky: MetricStore = {
      kind: "memory",
      get queryCount() {
        return store.queryCount;
      },
      increase: (q) => (isBroken ? Promise.reject(new Error("store unreachable")) : store.increase(q)),
      increaseRange: (q) => (isBroken ? Promise.reject(new Error("store unreachable")) : store.increaseRange(q)),
      range: (q) => (isBroken ? Promise.reject(new Error("store unreachable")) : store.range(q)),
      latest: (q) => (isBroken ? Promise.reject(new Error("store unreachable")) : store.latest(q)),
      overTime: (q) => (isBroken ? Promise.reject(new Error("store unreachable")) : store.overTime(q)),
      overTimeRange: (q) => (isBroken ? Promise.reject(new Error("store unreachable")) : store.overTimeRange(q)),
      hasSeries: (m, at) => (isBroken ? Promise.reject(new Error("store unreachable")) : store.hasSeries(m, at)),
    };
    const { url, analyzer: a } = await start(flaky);
    isBroken = true;
    await a.evaluate();
    const body = (await (await fetch(`${url}/api/v1/slos`)).json()) as {
      stale: boolean;
      error: string;
      evaluatedAt: string;
      slos: unknown[];
    };
    expect(body).toMatchObject({ stale: true, error: "store unreachable", evaluatedAt: new Date(AT_MS).toISOString() });
    expect(body.slos).toHaveLength(6);
    expect(valueOf(parseExposition(await (await fetch(`${url}/metrics`)).text()), "inferwatch_analyzer_stale")).toBe(1);
  });

  it("keeps every other part fresh when one part's queries fail, and says which part failed and why, causes included", async () => {
    let lines = "";
    const log = pino(
      { level: "warn" },
      new Writable({ write: (chunk: Buffer, _encoding, done) => ((lines += chunk.toString()), done()) }),
    );
    const failing = storeWith({
      increaseRange: () =>
        Promise.reject(new Error("query timed out", { cause: new Error("ETIMEDOUT 10.0.0.9:9090") })),
    });
    const { url } = await start(failing, { log });
    const slos = (await (await fetch(`${url}/api/v1/slos`)).json()) as { stale: boolean; slos: unknown[] };
    expect(slos.stale).toBe(false);
    expect(slos.slos).toHaveLength(6);
    const fleetBody = (await (await fetch(`${url}/api/v1/fleet`)).json()) as { stale: boolean; fleet: unknown };
    expect(fleetBody.stale).toBe(false);
    const recommendations = (await (await fetch(`${url}/api/v1/recommendations`)).json()) as {
      stale: boolean;
      error: string;
      recommendations: { consolidation: unknown } | null;
      actions: unknown[];
    };
    // Recommended without the history (no hold-back), and marked stale because the history is missing.
    expect(recommendations.recommendations?.consolidation).toBeDefined();
    expect(recommendations).toMatchObject({ stale: true, actions: [] });
    expect(recommendations.error).toMatch(
      /idle history: .* ← caused by: query timed out ← caused by: ETIMEDOUT 10\.0\.0\.9:9090/,
    );
    const status = (await (await fetch(`${url}/api/v1/status`)).json()) as {
      stale: boolean;
      error: string;
      parts: PartBody[];
    };
    expect(status.parts.filter((part) => part.isStale).map((part) => part.name)).toEqual(["idleHistory"]);
    expect(status.error).toMatch(/^idleHistory: idle history/);
    expect(lines).toContain('"part":"idleHistory"');
    expect(lines).toContain("ETIMEDOUT 10.0.0.9:9090");
    const series = parseExposition(await (await fetch(`${url}/metrics`)).text());
    expect(valueOf(series, "inferwatch_analyzer_part_stale", { part: "idleHistory" })).toBe(1);
    expect(valueOf(series, "inferwatch_analyzer_part_stale", { part: "slos" })).toBe(0);
  });

  it("refreshes the long SLO windows, the day figures and the idle history on the slow interval, the rest at every evaluation", async () => {
    let nowMs = AT_MS;
    const { url, analyzer: a } = await start(store, { now: () => nowMs });
    const attempted = async () =>
      Object.fromEntries(
        ((await (await fetch(`${url}/api/v1/status`)).json()) as { parts: PartBody[] }).parts.map((part) => [
          part.name,
          part.attemptedAtMs,
        ]),
      );
    const first = await attempted();
    nowMs += 60_000;
    await a.evaluate();
    const second = await attempted();
    for (const part of ["slos", "snapshot", "fleet", "recommendations"]) expect(second[part], part).toBe(nowMs);
    for (const part of ["sources", "sloLongWindows", "nvlink", "fleetDay", "idleHistory"])
      expect(second[part], part).toBe(first[part]);
    const slos = (await (await fetch(`${url}/api/v1/slos`)).json()) as { evaluatedAt: string; longWindowsAt: string };
    expect(slos).toMatchObject({
      evaluatedAt: new Date(nowMs).toISOString(),
      longWindowsAt: new Date(AT_MS).toISOString(),
    });
    nowMs = AT_MS + config.slowInterval;
    await a.evaluate();
    const third = await attempted();
    for (const part of ["sources", "sloLongWindows", "nvlink", "fleetDay", "idleHistory"])
      expect(third[part], part).toBe(nowMs);
  });

  it("cuts the queries still running when the evaluation's time budget is spent: their parts keep their last answer, marked stale with the reason", async () => {
    let isSlow = false;
    const slow = storeWith({
      /* eslint-disable @typescript-eslint/prefer-promise-reject-errors -- rejects with the signal's abort reason, as fetch does */
      overTime: (q, c) =>
        isSlow && q.metric === "inferwatch_gpu_utilization_ratio"
          ? new Promise((_resolve, reject) => c?.signal?.addEventListener("abort", () => reject(c.signal?.reason)))
          : store.overTime(q, c),
      /* eslint-enable @typescript-eslint/prefer-promise-reject-errors */
    });
    const budgeted = analyzerConfigSchema.parse({ ...config, listen: "127.0.0.1:0", evaluationTimeout: "300ms" });
    const { url, analyzer: a } = await start(slow, { config: budgeted });
    const before = (await (await fetch(`${url}/api/v1/fleet`)).json()) as { fleet: unknown };
    isSlow = true;
    const started = performance.now();
    await a.evaluate();
    expect(performance.now() - started).toBeLessThan(10_000);
    const fleetBody = (await (await fetch(`${url}/api/v1/fleet`)).json()) as {
      stale: boolean;
      error: string;
      fleet: unknown;
      evaluatedAt: string;
    };
    expect(fleetBody).toMatchObject({ stale: true, evaluatedAt: new Date(AT_MS).toISOString() });
    expect(fleetBody.error).toMatch(/evaluation time budget of 0\.3 s spent/);
    expect(fleetBody.fleet).toEqual(before.fleet);
    expect(((await (await fetch(`${url}/api/v1/slos`)).json()) as { stale: boolean }).stale).toBe(false);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
  });

  it("answers the API from bytes built once per evaluation, and reports what the evaluation cost", async () => {
    const { url, analyzer: running } = await start();
    // Another evaluation at the same instant: only the parts refreshed at every evaluation run.
    await running.evaluate();
    const [a, b] = await Promise.all([
      fetch(`${url}/api/v1/snapshot`).then((r) => r.text()),
      fetch(`${url}/api/v1/snapshot`).then((r) => r.text()),
    ]);
    expect(a).toBe(b);
    const status = (await (await fetch(`${url}/api/v1/status`)).json()) as {
      usage: { queries: number };
      parts: PartBody[];
    };
    expect(status.parts.map((part) => part.name)).toEqual([
      "sources",
      "sloLongWindows",
      "slos",
      "nvlink",
      "snapshot",
      "idleHistory",
      "fleetDay",
      "fleet",
      "recommendations",
    ]);
    const used = status.parts
      .filter((part) => ["slos", "snapshot", "fleet", "recommendations"].includes(part.name))
      .reduce((sum, part) => sum + (part.usage?.queries ?? 0), 0);
    expect(status.usage.queries).toBe(used);
    expect(used).toBeGreaterThan(20);
    for (const part of status.parts.filter((p) => p.name !== "recommendations"))
      expect(part.usage?.queries, part.name).toBeGreaterThan(0);
  });
});
