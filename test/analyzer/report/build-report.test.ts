/** The report model on a synthetic history whose every figure is known by construction (known-history.ts). */
import { beforeAll, describe, expect, it } from "vitest";
import { poolResolver } from "../../../analyzer/fleet/assemble.js";
import { buildReport } from "../../../analyzer/report/build-report.js";
import { escapeHtml } from "../../../analyzer/report/render-html.js";
import { renderReport } from "../../../analyzer/report/render.js";
import { NO_RUNTIME_GAUGES } from "../../../analyzer/report/tables.js";
import type { CapacityReport } from "../../../analyzer/report/report-model.js";
import { evaluateOnce } from "../../../analyzer/service.js";
import { DEFAULT_SLO_CONFIG } from "../../../common/slo/spec.js";
import { MemoryStore } from "../../../analyzer/stores/memory-store.js";
import { analyzerConfigSchema } from "../../../common/config/schema.js";
import { AT, BURST, D0, DAY, DAYS, GIB, KNOWN_POOLS, KNOWN_RUNTIME, STEP, writeKnownHistory } from "./known-history.js";

const pools = KNOWN_POOLS;

function feed(store: MemoryStore, options: { readonly withIdentity: boolean } = { withIdentity: true }): void {
  writeKnownHistory((name, labels, value, atMs) => void store.ingest(name, labels, value, atMs), options);
}

const analyzer = analyzerConfigSchema.parse({ pools });
let report: CapacityReport;
let store: MemoryStore;
let current: Awaited<ReturnType<typeof evaluateOnce>>;

beforeAll(async () => {
  store = new MemoryStore({ tiers: [{ stepMs: STEP, retentionMs: 40 * DAY }] });
  feed(store);
  current = await evaluateOnce(store, analyzer, DEFAULT_SLO_CONFIG, AT);
  report = await buildReport(store, {
    atMs: AT,
    sinceMs: DAYS * DAY,
    poolOf: poolResolver(pools),
    slo: DEFAULT_SLO_CONFIG,
    source: "test",
    current: {
      snapshot: current.snapshot as NonNullable<typeof current.snapshot>,
      recommendations: current.recommendations as NonNullable<typeof current.recommendations>,
    },
  });
});

describe("the report model on a known history", () => {
  it("covers the window's 28 complete UTC days at 5-minute steps", () => {
    expect(report.window).toEqual({
      from: new Date(D0).toISOString(),
      to: new Date(AT).toISOString(),
      days: 28,
      stepSeconds: 300,
    });
    expect(report.days[0]).toBe("2026-10-01");
    expect(report.days).toHaveLength(29);
  });

  it("counts the 7B class's requests and tokens and finds its token burst", () => {
    expect(report.demand.map((d) => d.modelClass)).toEqual(["7b"]);
    const demand = report.demand[0] as CapacityReport["demand"][number];
    const steps = DAYS * 288;
    expect(demand.requests).toBeCloseTo(10 * steps, 6);
    expect(demand.errors).toBe(0);
    expect(demand.promptTokens).toBeCloseTo(1000 * steps + 2000, 6);
    expect(demand.completionTokens).toBeCloseTo(300 * steps, 6);
    // (3,000 + 300) tokens over 300 s.
    expect(demand.peakTokensPerSecond).toBeCloseTo(11, 9);
    expect(demand.peakAt).toBe(new Date(BURST).toISOString());
    expect(demand.dailyRequests[3]).toBe(2880);
    expect(demand.dailyPeakTokensPerSecond[3]).toBeCloseTo(1300 / 300, 9);
    expect(demand.dailyPeakTokensPerSecond[10]).toBeCloseTo(11, 9);
  });

  it("gives each pool's supply and its utilization by hour of day", () => {
    expect(report.supply.map((p) => [p.pool, p.gpus, p.byGpuModel.map((k) => `${k.gpus}×${k.gpuModel}`)])).toEqual([
      ["a", 2, ["2×Test A"]],
      ["b", 1, ["1×Test B"]],
    ]);
    const a = report.heatmap.pools.indexOf("a");
    const b = report.heatmap.pools.indexOf("b");
    expect(report.heatmap.values[a]?.[12]).toBeCloseTo((0.5 + 0.25) / 2, 9);
    expect(report.heatmap.values[a]?.[3]).toBeCloseTo(0.25, 9);
    // Mean over days 0..27 of 0.105 + 0.01 × day.
    expect(report.heatmap.values[b]?.[5]).toBeCloseTo(0.105 + 0.01 * 13.5, 9);
    expect(report.supply.find((p) => p.pool === "a")?.peakHourlyUtilization).toBeCloseTo(0.375, 9);
  });

  it("measures SLO attainment and the budget over the window", () => {
    const latency = report.slos.find((s) => s.id === "7b-latency");
    expect(latency?.attainment).toBeCloseTo(0.9, 9);
    // 10 % bad against a 5 % budget: twice the budget spent.
    expect(latency?.budgetRemaining).toBeCloseTo(-1, 6);
    expect(report.slos.find((s) => s.id === "7b-availability")?.attainment).toBe(1);
  });

  it("measures fragmentation every 6 hours of the window", () => {
    expect(report.fragmentation).toHaveLength(DAYS * 4 + 1);
    const last = report.fragmentation[report.fragmentation.length - 1];
    const a = last?.pools.find((p) => p.pool === "a");
    expect(a?.freeBytes).toBe(160 * GIB - 20 * GIB);
    expect(a?.partiallyUsedGpus).toBe(1);
  });

  it("measures headroom at the compute ceiling (consolidation computeCeilingRatio, 80 %), not at the 60 % utilization floor", () => {
    const ceiling = analyzer.recommend.consolidation.computeCeilingRatio;
    const floor = DEFAULT_SLO_CONFIG.gpuUtilization.minRatio;
    expect([ceiling, floor]).toEqual([0.8, 0.6]);
    expect([report.forecast.ceilingRatio, report.forecast.floorRatio]).toEqual([ceiling, floor]);
    for (const pool of report.forecast.pools) {
      expect(pool.capacityBusyGpus).toBeCloseTo(pool.gpus * ceiling, 9);
      expect(pool.floorBusyGpus).toBeCloseTo(pool.gpus * floor, 9);
    }
  });

  it("takes the analyzer's configured compute ceiling, and refuses one outside (0, 1]", async () => {
    const options = {
      atMs: AT,
      sinceMs: DAYS * DAY,
      poolOf: poolResolver(pools),
      slo: DEFAULT_SLO_CONFIG,
      source: "test",
      current: {
        snapshot: current.snapshot as NonNullable<typeof current.snapshot>,
        recommendations: current.recommendations as NonNullable<typeof current.recommendations>,
      },
    };
    const at50 = await buildReport(store, { ...options, computeCeilingRatio: 0.5 });
    const b = at50.forecast.pools.find((p) => p.pool === "b");
    // 0.105 + 0.01 × day ≥ 0.5 from day 40 on; ⌈1.285 ÷ 0.5⌉ = 3 GPUs at the quarter's end, 2 more.
    expect(b?.exhaustionDay).toBe(new Date(D0 + 40 * DAY).toISOString().slice(0, 10));
    expect(at50.plan.actions.find((a) => a.pool === "b")).toMatchObject({ action: "buy", gpus: 2, neededGpus: 3 });
    await expect(buildReport(store, { ...options, computeCeilingRatio: 1.5 })).rejects.toThrow(
      /compute ceiling must be in \(0, 1\], got 1\.5/,
    );
  });

  it("forecasts the growing pool to run out of headroom on day 70, and buys 1 GPU for it", () => {
    const b = report.forecast.pools.find((p) => p.pool === "b");
    expect(b?.forecast.method.kind).toBe("holt-winters");
    expect(b?.forecast.trendPerDay).toBeCloseTo(0.01, 6);
    // 1 GPU × 0.8.
    expect(b?.capacityBusyGpus).toBeCloseTo(0.8, 9);
    expect(b?.state).toBe("forecast");
    // 0.105 + 0.01 × day ≥ 0.8 from day 70 on (0.795 on day 69, 0.805 on day 70); the series is an exact line, so the interval is that day too.
    const day70 = new Date(D0 + 70 * DAY).toISOString().slice(0, 10);
    expect([b?.exhaustionDay, b?.exhaustionEarliest, b?.exhaustionLatest]).toEqual([day70, day70, day70]);
    // By the quarter's end (day 27 + 91 = 118) the peak is 0.105 + 1.18 = 1.285 busy GPUs: ⌈1.285 ÷ 0.8⌉ = 2 GPUs, 1 more.
    expect(report.plan.actions.find((a) => a.pool === "b")).toMatchObject({
      action: "buy",
      gpus: 1,
      gpuModel: "Test B",
      neededGpus: 2,
    });
  });

  it("finds the flat pool under its utilization floor, but holds it: nothing can be freed now", () => {
    const a = report.forecast.pools.find((p) => p.pool === "a");
    expect(a?.state).toBe("not-within-horizon");
    // Peak 0.5 + 0.25 busy GPUs at 12:00, every day: under the floor of 2 × 0.6 = 1.2, so a candidate to free GPUs.
    expect(a?.forecast.points[0]?.value).toBeCloseTo(0.75, 6);
    // ⌈0.75 ÷ 0.8⌉ = 1 GPU needed, a surplus of 1 — but the one replica on GPU-a0 has nowhere to go that frees a GPU, and it serves traffic.
    expect(
      report.recommendations.pools.find((p) => p.pool === "a") ?? { consolidationGpus: 0, idleGpus: 0 },
    ).toMatchObject({ consolidationGpus: 0, idleGpus: 0 });
    const action = report.plan.actions.find((x) => x.pool === "a");
    expect(action).toMatchObject({ action: "hold", gpus: 0, neededGpus: 1 });
    expect(action?.why).toMatch(
      /under the 60 % utilization floor \(1\.2 busy GPUs\): under-utilized, a surplus of 1, but no GPU can be freed now/,
    );
    expect(report.plan.summary).toBe("Next 91 days: buy 1 × Test B for pool b; hold pool a.");
  });

  it("gives the runtime's KV-cache usage, prefix-cache hit ratio and preemptions per model", () => {
    const steps = DAYS * 288;
    // Samples on the grid: steps + 1 (both ends); the 12:00–12:59 ones: 12 a day × 28 days.
    const samples = steps + 1;
    const noon = 12 * DAYS;
    const r = KNOWN_RUNTIME;
    expect(report.runtimeCache.map((m) => m.model)).toEqual(["llama-7b"]);
    const m = report.runtimeCache[0] as CapacityReport["runtimeCache"][number];
    expect(m.kvCacheUsageMean).toBeCloseTo((r.kvBase * (samples - noon) + r.kvNoon * noon) / samples, 9);
    expect(m.kvCacheUsagePeak).toBe(r.kvNoon);
    expect(m.kvCacheUsagePeakAt).toBe(new Date(D0 + 12 * 3_600_000).toISOString());
    // Ratio of the increases (≈ 0.2167), not the mean of per-step ratios (which would weigh noon like any hour).
    const queries = r.queriesPerStep * steps;
    const hits = r.hitsPerStep * (steps - noon) + r.hitsPerNoonStep * noon;
    expect(m.prefixCacheQueries).toBeCloseTo(queries, 6);
    expect(m.prefixCacheHitRatio).toBeCloseTo(hits / queries, 9);
    // One per noon step, across the restart at day 14 (the counter's last − first would give 14 × 12 = 168).
    expect(m.preemptions).toBeCloseTo(noon, 6);
  });
});

describe("a store without GPU identity series (the InfluxDB sink writes none)", () => {
  it("counts supply from the GPUs with utilization samples, says so, and still forecasts", async () => {
    const store = new MemoryStore({ tiers: [{ stepMs: STEP, retentionMs: 40 * DAY }] });
    feed(store, { withIdentity: false });
    const current = await evaluateOnce(store, analyzer, DEFAULT_SLO_CONFIG, AT);
    const bare = await buildReport(store, {
      atMs: AT,
      sinceMs: DAYS * DAY,
      poolOf: poolResolver(pools),
      slo: DEFAULT_SLO_CONFIG,
      source: "test",
      current: {
        snapshot: current.snapshot as NonNullable<typeof current.snapshot>,
        recommendations: current.recommendations as NonNullable<typeof current.recommendations>,
      },
    });
    expect(bare.supply.map((p) => [p.pool, p.gpus, p.memoryBytes])).toEqual([
      ["a", 2, 0],
      ["b", 1, 0],
    ]);
    expect(bare.fragmentation).toEqual([]);
    expect(bare.notes.join(" ")).toMatch(/no GPU identity series/);
    expect(bare.plan.actions.find((a) => a.pool === "b")).toMatchObject({ action: "buy", gpus: 1, gpuModel: "Test B" });
  });
});

describe("renderers", () => {
  it("JSON is the model itself", () => {
    expect(JSON.parse(renderReport(report, "json"))).toEqual(JSON.parse(JSON.stringify(report)));
  });

  it("Markdown has every section, its tables and the plan", () => {
    const md = renderReport(report, "md");
    for (const heading of [
      "# Capacity-planning report",
      "## Demand per model class",
      "## GPU supply per pool",
      "## SLO attainment and error budget over the window",
      "## KV cache and prefix cache per model",
      "## Fragmentation and stranded memory",
      "## Recommendations",
      "## Forecast",
      "## Next quarter: GPUs to buy or free",
    ]) {
      expect(md).toContain(`${heading}\n`);
    }
    expect(md).toContain("| 7b | llama-7b | 80,640 | 0 |");
    expect(md).toContain("| b | buy | 1 | Test B | 2 |");
    // 0.3 × 7,729 + 0.9 × 336 over 8,065 samples = 32.5 %; 1,747,200 ÷ 8,064,000 = 21.7 %; 336 preemptions.
    expect(md).toContain("| llama-7b | 32.5 % | 90.0 % | 2026-10-01 12:00 | 21.7 % | 8,064,000 | 336 |");
    expect(md).toContain("Holt-Winters");
    expect(md).toContain(report.plan.summary);
  });

  it("says in one line when the store holds no runtime gauges", () => {
    const without: CapacityReport = { ...report, runtimeCache: [] };
    const md = renderReport(without, "md");
    expect(md).toContain(`## KV cache and prefix cache per model\n\n${NO_RUNTIME_GAUGES}\n`);
    expect(md).not.toContain("| llama-7b | 32.5 %");
    const html = renderReport(without, "html");
    expect(html).toContain(`<p class="empty" id="runtime-cache-none">${escapeHtml(NO_RUNTIME_GAUGES)}</p>`);
    expect(html).not.toContain('id="table-runtime-cache"');
    expect(renderReport(report, "html")).toContain('id="table-runtime-cache"');
  });

  it("HTML is one page with the chart library inlined and no external reference", () => {
    const html = renderReport(report, "html");
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/cdn/i);
    expect(html).toContain("echarts");
    const charts = JSON.parse(
      /<script id="report-charts" type="application\/json">(.*?)<\/script>/s.exec(html)?.[1] ?? "[]",
    ) as { id: string }[];
    expect(charts.map((c) => c.id)).toEqual([
      "demand-requests",
      "demand-peak",
      "supply",
      "utilization-heatmap",
      "slo-attainment",
      "slo-budget",
      "fragmentation",
      "recommendations",
      "forecast-pool-a",
      "forecast-pool-b",
      "forecast-demand-7b",
    ]);
  });

  it("gives each chart its own element, even for pools whose names differ only in case or punctuation", () => {
    const pool = report.forecast.pools[0] as CapacityReport["forecast"]["pools"][number];
    const twins: CapacityReport = {
      ...report,
      forecast: {
        ...report.forecast,
        pools: [
          { ...pool, pool: "GPU.A" },
          { ...pool, pool: "gpu-a" },
        ],
      },
    };
    const html = renderReport(twins, "html");
    const elements = [...html.matchAll(/<div class="chart" id="chart-([^"]+)"/g)].map((m) => m[1]);
    expect(elements.filter((id) => id?.startsWith("forecast-pool-"))).toEqual([
      "forecast-pool-gpu-a",
      "forecast-pool-gpu-a-2",
    ]);
    expect(new Set(elements).size).toBe(elements.length);
  });
});
