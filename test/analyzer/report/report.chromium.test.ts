/**
 * The HTML report in a real headless Chromium (the Debian package) driven by playwright-core: built
 * from 30 days of the simulated fleet's history, opened from a file with every network request
 * refused, it loads without console errors or failed requests, and every chart is an ECharts
 * instance whose series carry data points and whose canvas has been drawn on. The screenshot is
 * kept in test/artifacts/report/.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type BrowserContext } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { renderReport } from "../../../analyzer/report/render.js";
import type { CapacityReport } from "../../../analyzer/report/report-model.js";
import { reportFrom } from "../../../cli/run-report.js";
import { simulatedHistory } from "../../../cli/simulate/simulated-history.js";
import { configSchema } from "../../../common/config/schema.js";
import { projectPath } from "../../../common/paths.js";

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
const DAY = 86_400_000;
const END_MS = Date.UTC(2026, 10, 28, 12);

let dir: string;
let context: BrowserContext | undefined;
let report: CapacityReport;
let htmlPath: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "inferwatch-report-"));
  const config = configSchema.parse({});
  const history = simulatedHistory(config, 30 * DAY, END_MS);
  report = await reportFrom(history.store, history.analyzer, config, history.endMs, 30 * DAY, "simulated fleet (test)");
  htmlPath = join(dir, "report.html");
  await writeFile(htmlPath, renderReport(report, "html"));
  context = await chromium.launchPersistentContext(join(dir, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1200, height: 900 },
  });
}, 300_000);

afterAll(async () => {
  await context?.close();
  await rm(dir, { recursive: true, force: true });
});

interface ChartState {
  readonly id: string;
  readonly hasInstance: boolean;
  readonly series: readonly { readonly name: string; readonly type: string; readonly points: number }[];
  readonly xAxisLength: number;
  readonly drawnPixels: number;
}

it("renders every chart with data from 30 days of simulated history, offline and without errors", async () => {
  const page = await (context as BrowserContext).newPage();
  const problems: string[] = [];
  const url = pathToFileURL(htmlPath).href;
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning")
      problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("requestfailed", (request) =>
    problems.push(`request failed: ${request.url()} ${request.failure()?.errorText ?? ""}`),
  );
  await page.route("**/*", (route) => {
    if (route.request().url() === url) return route.continue();
    problems.push(`external request: ${route.request().url()}`);
    return route.abort();
  });
  await page.goto(url, { waitUntil: "load" });

  const charts = (await page.evaluate(() => {
    // The page's globals, typed structurally (the test compiles without the DOM library).
    interface Canvas {
      readonly width: number;
      readonly height: number;
      getContext(
        kind: "2d",
      ): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
    }
    interface ChartElement {
      readonly dataset: Record<string, string | undefined>;
      querySelectorAll(selector: "canvas"): Iterable<Canvas>;
    }
    const page = globalThis as unknown as {
      echarts: { getInstanceByDom(element: ChartElement): { getOption(): Record<string, unknown> } | undefined };
      document: { querySelectorAll(selector: string): Iterable<ChartElement> };
    };
    const lib = page.echarts;
    return [...page.document.querySelectorAll("div.chart")].map((element) => {
      const instance = lib.getInstanceByDom(element);
      const option = (instance?.getOption() ?? {}) as {
        series?: { name?: string; type?: string; data?: unknown[] }[];
        xAxis?: { data?: unknown[] }[];
      };
      const isPoint = (value: unknown) =>
        value !== null && value !== undefined && value !== "-" && !(Array.isArray(value) && value[2] === "-");
      let drawnPixels = 0;
      for (const canvas of element.querySelectorAll("canvas")) {
        const pixels = canvas.getContext("2d")?.getImageData(0, 0, canvas.width, canvas.height).data;
        if (pixels) for (let i = 3; i < pixels.length; i += 4) if ((pixels[i] as number) > 0) drawnPixels++;
      }
      return {
        id: element.dataset["chart"] ?? "",
        hasInstance: instance !== undefined,
        series: (option.series ?? []).map((s) => ({
          name: s.name ?? "",
          type: s.type ?? "",
          points: (s.data ?? []).filter(isPoint).length,
        })),
        xAxisLength: option.xAxis?.[0]?.data?.length ?? 0,
        drawnPixels,
      };
    });
  })) as ChartState[];

  await mkdir(projectPath("test/artifacts/report"), { recursive: true });
  await page.screenshot({ path: projectPath("test/artifacts/report/report.png"), fullPage: true });

  expect(problems).toEqual([]);
  const pools = report.forecast.pools.map((p) => `forecast-pool-${p.pool}`);
  const classes = report.demand.map((d) => `forecast-demand-${d.modelClass}`);
  expect(charts.map((c) => c.id)).toEqual([
    "demand-requests",
    "demand-peak",
    "supply",
    "utilization-heatmap",
    "slo-attainment",
    "slo-budget",
    "fragmentation",
    "recommendations",
    ...pools,
    ...classes,
  ]);
  expect(pools).toEqual(["forecast-pool-batch", "forecast-pool-latency"]);
  expect(classes).toEqual(["forecast-demand-13b", "forecast-demand-70b", "forecast-demand-7b"]);
  for (const chart of charts) {
    expect(chart.hasInstance, chart.id).toBe(true);
    expect(chart.series.length, chart.id).toBeGreaterThan(0);
    for (const series of chart.series) expect(series.points, `${chart.id} / ${series.name}`).toBeGreaterThan(0);
    expect(chart.drawnPixels, chart.id).toBeGreaterThan(2000);
  }
  const byId = new Map(charts.map((c) => [c.id, c]));
  // The charts carry the model's data: one point per day, per pool × hour, per SLO, per snapshot.
  expect(byId.get("demand-requests")?.series.map((s) => [s.name, s.points])).toEqual(
    report.demand.map((d) => [d.modelClass, report.days.length]),
  );
  expect(byId.get("utilization-heatmap")?.series[0]?.points).toBe(report.heatmap.pools.length * 24);
  expect(byId.get("slo-attainment")?.series[0]?.points).toBe(report.slos.length);
  expect(byId.get("fragmentation")?.xAxisLength).toBe(report.fragmentation.length);
  expect(report.fragmentation.length).toBeGreaterThanOrEqual(120);
  const latency = report.forecast.pools.find((p) => p.pool === "latency");
  expect(byId.get("forecast-pool-latency")?.xAxisLength).toBe((latency?.forecast.history.length ?? 0) + 91);
  expect(latency?.forecast.history.length).toBeGreaterThanOrEqual(29);
}, 120_000);
