/**
 * The live console in a real headless Chromium (the Debian package) driven by playwright-core,
 * served by a real analyzer over six hours of the simulated fleet plus runtime gauges for two
 * models: no console error, no request leaving the analyzer's origin, every panel drawn, the
 * numbers on the page equal to the JSON API's, and the page refreshing itself. A screenshot of the
 * page and of each panel is kept in test/artifacts/console/ (and `UPDATE_SCREENSHOT=1` refreshes
 * docs/images/console.png, the README's picture, from the same page).
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSOLE_PANELS } from "../../../analyzer/console/console-page.js";
import { startAnalyzer, type Analyzer } from "../../../analyzer/service.js";
import { MemoryStore } from "../../../analyzer/stores/memory-store.js";
import { writeHistory } from "../../../cli/simulate/history.js";
import { storeSink } from "../../../cli/simulate/store-sink.js";
import { configSchema } from "../../../common/config/schema.js";
import { METRICS } from "../../../common/conventions.js";
import { silentLogger } from "../../../common/log.js";
import { projectPath } from "../../../common/paths.js";
import { compileFleet } from "../../../cli/simulate/fleet-model.js";
import { DEFAULT_SCENARIO } from "../../../cli/simulate/scenario.js";

const CHROMIUM = "/usr/bin/chromium";
// Without the background-networking flags Chromium calls home, which a closed network answers with errors.
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const END = Date.UTC(2026, 10, 28, 12);
const ARTIFACTS = projectPath("test", "artifacts", "console");

/** Runtime gauges of two vLLM models, one replica each, for the last hour. */
function addRuntimeGauges(store: MemoryStore): void {
  const labels = (model: string) => ({
    model,
    runtime: "vllm",
    namespace: "inference",
    pod: `${model}-0`,
    node: "gpu-h100-0",
    tier: "latency",
  });
  for (let i = 0; i <= 60; i++) {
    const t = END - 3_600_000 + i * 60_000;
    for (const [model, kv, queue, batch] of [
      ["llama-2-7b-awq", 0.62, 2, 24],
      ["llama-2-13b-awq", 0.84, 7, 48],
    ] as const) {
      store.ingest(METRICS.llmKvCacheUsage.name, labels(model), kv, t);
      store.ingest(METRICS.llmQueueDepth.name, labels(model), queue, t);
      store.ingest(METRICS.llmBatchSize.name, labels(model), batch, t);
      store.ingest(METRICS.llmPrefixCacheQueries.name, labels(model), 4000 * i, t);
      store.ingest(METRICS.llmPrefixCacheHits.name, labels(model), 1000 * i, t);
      store.ingest(METRICS.llmPreemptions.name, labels(model), i, t);
    }
  }
}

let dir: string;
let analyzer: Analyzer;
let context: BrowserContext | undefined;
let page: Page;
let base: string;
const problems: string[] = [];

/** A JSON API answer, read by the test itself. */
async function api<T>(path: string): Promise<T> {
  return (await (await fetch(`${base}${path}`)).json()) as T;
}

/** The `data-value`s of one column of a table on the page, by row. */
function column(tableId: string, index: number): Promise<(number | null)[]> {
  return page.$$eval(
    `#${tableId} tbody tr`,
    (rows, i) =>
      rows.map((row) => {
        const value = row.children[i]?.getAttribute("data-value");
        return value === undefined || value === null || value === "null" ? null : Number(value);
      }),
    index,
  );
}

/** The text of one column of a table on the page, by row. */
function columnText(tableId: string, index: number): Promise<string[]> {
  return page.$$eval(`#${tableId} tbody tr`, (rows, i) => rows.map((row) => row.children[i]?.textContent ?? ""), index);
}

/** An ECharts option of a chart on the page, as JSON. */
function chartOption(
  id: string,
): Promise<{ series: { data: unknown[]; markLine?: { data: { yAxis: number }[] } }[]; yAxis: { data?: string[] }[] }> {
  return page.evaluate((chartId) => {
    const lib = (
      globalThis as unknown as { echarts: { getInstanceByDom(element: unknown): { getOption(): unknown } | undefined } }
    ).echarts;
    const element = (
      globalThis as unknown as { document: { getElementById(id: string): unknown } }
    ).document.getElementById(`chart-${chartId}`);
    return JSON.parse(JSON.stringify(lib.getInstanceByDom(element)?.getOption() ?? null)) as never;
  }, id);
}

const percent = (ratio: number) => `${(ratio * 100).toFixed(1)} %`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "inferwatch-console-"));
  await mkdir(ARTIFACTS, { recursive: true });
  const config = configSchema.parse({});
  const store = new MemoryStore();
  writeHistory(
    DEFAULT_SCENARIO,
    { endMs: END, originMs: END, days: 0.25, stepMs: 60_000, spans: config.agent.spans },
    storeSink(store),
  );
  addRuntimeGauges(store);
  const fleet = compileFleet(DEFAULT_SCENARIO, { originMs: END });
  const pools = fleet.nodes.map((node) => ({ name: node.pool, nodes: `^${node.name}$` }));
  const analyzerConfig = { ...config.analyzer, listen: { host: "127.0.0.1", port: 0 }, interval: 5_000, pools };
  analyzer = await startAnalyzer(analyzerConfig, config.slo, store, silentLogger(), { now: () => END });
  await analyzer.evaluate();
  base = `http://127.0.0.1:${analyzer.address.port}`;
  context = await chromium.launchPersistentContext(join(dir, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1440, height: 900 },
  });
  page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning")
      problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) =>
    problems.push(`request failed: ${request.url()} ${request.failure()?.errorText ?? ""}`),
  );
  await page.route("**/*", (route) => {
    if (route.request().url().startsWith(`${base}/`)) return route.continue();
    problems.push(`request leaving the machine: ${route.request().url()}`);
    return route.abort();
  });
  await page.goto(`${base}/`, { waitUntil: "load" });
  await page.waitForFunction(
    () => {
      const doc = (
        globalThis as unknown as {
          document: { querySelectorAll(s: string): Iterable<{ getAttribute(n: string): string | null }> };
        }
      ).document;
      return [...doc.querySelectorAll(".panel")].every((panel) => panel.getAttribute("data-state") !== "loading");
    },
    null,
    { timeout: 30_000 },
  );
}, 300_000);

afterAll(async () => {
  await context?.close();
  await analyzer?.shutdown();
  await rm(dir, { recursive: true, force: true });
});

describe("the console in Chromium", () => {
  it("draws every panel, with no console error and no request leaving the analyzer", async () => {
    const states = await page.$$eval(".panel", (panels) =>
      panels.map((panel) => [panel.id, panel.getAttribute("data-state")]),
    );
    expect(states).toEqual(CONSOLE_PANELS.map((panel) => [`panel-${panel.id}`, "drawn"]));
    for (const id of ["utilization", "heatmap"]) {
      const drawn = await page.$eval(`#chart-${id} canvas`, (canvas) => {
        const c = canvas as unknown as {
          width: number;
          height: number;
          getContext(
            kind: "2d",
          ): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
        };
        const pixels = c.getContext("2d")?.getImageData(0, 0, c.width, c.height).data ?? new Uint8ClampedArray();
        let painted = 0;
        for (let i = 3; i < pixels.length; i += 4) if ((pixels[i] ?? 0) > 0) painted++;
        return painted;
      });
      expect(drawn, `${id} canvas`).toBeGreaterThan(1000);
    }
    expect(problems).toEqual([]);
  });

  it("shows the SLO table's numbers exactly as /api/v1/slos gives them", async () => {
    type Measure = { state: string; burnRate?: number };
    const { slos } = await api<{
      slos: {
        id: string;
        budget: { state: string; remaining: number };
        timeToExhaustionMs: number | null;
        burn: { windows: { long: Measure }[] };
      }[];
    }>("/api/v1/slos");
    expect(slos).toHaveLength(6);
    expect(await columnText("slo-table", 0)).toEqual(slos.map((slo) => slo.id));
    const windows = slos[0]?.burn.windows.length ?? 0;
    expect(windows).toBe(4);
    for (let w = 0; w < windows; w++) {
      expect(await column("slo-table", 2 + w)).toEqual(slos.map((slo) => slo.burn.windows[w]?.long.burnRate ?? null));
    }
    expect(await column("slo-table", 2 + windows)).toEqual(
      slos.map((slo) => (slo.budget.state === "measured" ? slo.budget.remaining : null)),
    );
    expect(await columnText("slo-table", 2 + windows)).toEqual(
      slos.map((slo) => (slo.budget.state === "measured" ? percent(slo.budget.remaining) : "no data")),
    );
    expect(await column("slo-table", 3 + windows)).toEqual(slos.map((slo) => slo.timeToExhaustionMs));
  });

  it("shows pool utilization, its basis and the target line as /api/v1/fleet and the history give them", async () => {
    const { fleet } = await api<{
      fleet: {
        targetRatio: number;
        utilization: { hour: { pools: { key: string; meanRatio: number; gpus: number }[] } };
      };
    }>("/api/v1/fleet");
    const { utilization } = await api<{
      utilization: {
        pools: { key: string; values: (number | null)[] }[];
        rows: { key: string; values: (number | null)[] }[];
      };
    }>("/api/v1/utilization/history");
    expect(await columnText("utilization-table", 0)).toEqual(fleet.utilization.hour.pools.map((pool) => pool.key));
    expect(await column("utilization-table", 1)).toEqual(fleet.utilization.hour.pools.map((pool) => pool.gpus));
    expect(await column("utilization-table", 2)).toEqual(fleet.utilization.hour.pools.map((pool) => pool.meanRatio));
    expect(await page.textContent("#utilization-basis")).toBe(
      `Basis: busy (utilization.gpu) · target ${percent(fleet.targetRatio)}`,
    );
    const chart = await chartOption("utilization");
    expect(chart.series.map((series) => series.data)).toEqual(utilization.pools.map((pool) => pool.values));
    expect(chart.series[0]?.markLine?.data[0]?.yAxis).toBe(0.6);
    const heatmap = await chartOption("heatmap");
    expect(heatmap.yAxis[0]?.data).toEqual(utilization.rows.map((row) => row.key));
    expect(utilization.rows).toHaveLength(20);
    const cells = utilization.rows.flatMap((row, y) =>
      row.values.flatMap((value, x) => (value === null ? [] : [[x, y, value]])),
    );
    expect(cells.length).toBeGreaterThan(20 * 60);
    expect(heatmap.series[0]?.data).toEqual(cells);
  });

  it("shows fragmentation, the plan and the idle replicas as the API gives them", async () => {
    const { fragmentation } = await api<{
      fragmentation: {
        pools: { pool: string; freeBytes: number; strandedBytes: number }[];
        total: { freeBytes: number };
      };
    }>("/api/v1/fragmentation");
    expect(await column("fragmentation-table", 2)).toEqual([
      ...fragmentation.pools.map((pool) => pool.freeBytes),
      fragmentation.total.freeBytes,
    ]);
    expect(await column("fragmentation-table", 3)).toEqual([
      ...fragmentation.pools.map((pool) => pool.strandedBytes),
      expect.any(Number),
    ]);
    const { recommendations } = await api<{
      recommendations: {
        consolidation: { gpusFreed: number; pools: { lowerBound: { bound: number }; gapGpus: number }[] };
        idle: { evictions: unknown[] };
      };
    }>("/api/v1/recommendations");
    expect(await page.getAttribute("#plan-summary strong", "data-value")).toBe(
      String(recommendations.consolidation.gpusFreed),
    );
    expect(await column("plan-pools", 5)).toEqual(
      recommendations.consolidation.pools.map((pool) => pool.lowerBound.bound),
    );
    expect(await column("plan-pools", 6)).toEqual(recommendations.consolidation.pools.map((pool) => pool.gapGpus));
    expect(await page.getAttribute("#idle-summary strong", "data-value")).toBe(
      String(recommendations.idle.evictions.length),
    );
  });

  it("shows the runtime gauges per model: what the agents scraped, and what the API says", async () => {
    const { models } = await api<{
      models: { model: string; kvCacheUsageMax: number; queueDepth: number; prefixCacheHitRatio: number }[];
    }>("/api/v1/runtime");
    expect(await columnText("runtime-table", 0)).toEqual(["llama-2-13b-awq", "llama-2-7b-awq"]);
    expect(await column("runtime-table", 3)).toEqual(models.map((m) => m.kvCacheUsageMax));
    expect(await column("runtime-table", 3)).toEqual([0.84, 0.62]);
    expect(await column("runtime-table", 5)).toEqual([7, 2]);
    expect(await columnText("runtime-table", 7)).toEqual(["25.0 %", "25.0 %"]);
  });

  it("refreshes itself and keeps a screenshot of the page and of each panel", async () => {
    const first = await page.getAttribute("body", "data-refreshed-at");
    await page.waitForFunction(
      (before) =>
        (
          globalThis as unknown as { document: { body: { getAttribute(n: string): string | null } } }
        ).document.body.getAttribute("data-refreshed-at") !== before,
      first,
      { timeout: 15_000 },
    );
    await page.screenshot({ path: join(ARTIFACTS, "console.png"), fullPage: true });
    for (const panel of CONSOLE_PANELS)
      await page.locator(`#panel-${panel.id}`).screenshot({ path: join(ARTIFACTS, `${panel.id}.png`) });
    if (process.env["UPDATE_SCREENSHOT"] === "1")
      await page.screenshot({
        path: projectPath("docs", "images", "console.png"),
        fullPage: true,
        clip: { x: 0, y: 0, width: 1440, height: 1000 },
      });
    expect(problems).toEqual([]);
  }, 30_000);
});
