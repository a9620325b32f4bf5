/**
 * The analyzer's /report page, built from its own store (three days of the simulated fleet's
 * history), in each format, and refusing bad parameters: a window outside 1d..730d among them
 * (issue: hardening, reproduction 4).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import type { CapacityReport } from "../../../analyzer/report/report-model.js";
import { startAnalyzer, type Analyzer } from "../../../analyzer/service.js";
import { simulatedHistory } from "../../../cli/simulate/simulated-history.js";
import { analyzerConfigSchema, configSchema } from "../../../common/config/schema.js";
import { silentLogger } from "../../../common/log.js";

const DAY = 86_400_000;
let analyzer: Analyzer;
let base: string;

beforeAll(async () => {
  const config = configSchema.parse({});
  const history = simulatedHistory(config, 3 * DAY, Date.UTC(2026, 10, 20, 6));
  const analyzerConfig = analyzerConfigSchema.parse({
    listen: "127.0.0.1:0",
    interval: "1h",
    source: "agents=http://127.0.0.1:1",
    pools: history.analyzer.pools,
  });
  analyzer = await startAnalyzer(analyzerConfig, config.slo, history.store, silentLogger(), {
    now: () => history.endMs,
  });
  await analyzer.evaluate();
  base = `http://127.0.0.1:${analyzer.address.port}`;
}, 120_000);

afterAll(async () => {
  await analyzer?.shutdown();
});

it("serves the report as JSON over the asked window, ending at the last evaluation", async () => {
  const response = await fetch(`${base}/report?format=json&since=2d`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
  const report = (await response.json()) as CapacityReport;
  expect(report.window.days).toBe(2);
  expect(report.window.to).toBe(new Date(Date.UTC(2026, 10, 20, 6)).toISOString());
  expect(report.demand.map((d) => d.modelClass)).toEqual(["13b", "70b", "7b"]);
  expect(report.supply.map((p) => [p.pool, p.gpus])).toEqual([
    ["batch", 8],
    ["latency", 12],
  ]);
  expect(report.source).toMatch(/^analyzer \(memory store/);
});

it("serves the HTML page and the Markdown", async () => {
  const html = await fetch(`${base}/report?since=2d`);
  expect(html.headers.get("content-type")).toBe("text/html; charset=utf-8");
  expect(await html.text()).toContain('<script id="report-charts" type="application/json">');
  const md = await fetch(`${base}/report?format=md&since=2d`);
  expect(md.headers.get("content-type")).toBe("text/markdown; charset=utf-8");
  expect(await md.text()).toMatch(/^# Capacity-planning report\n/);
});

it.each([
  ["an unknown format", "format=pdf", /format must be one of html, md, json/],
  ["a window under a day", "since=6h", /since must be a duration of at least 1d/],
  ["a window that is not a duration", "since=month", /since must be a duration/],
  // The reproductions: a 54 MB answer after a 6.5 s stall, and a 500 "Invalid array length".
  [
    "a window of 3,000,000 days",
    "since=3000000d",
    /^since must be a duration of at least 1d and at most 730d, such as 30d, got "3000000d"\n$/,
  ],
  ["a window of 10^20 days", "since=100000000000000000000d", /at most 730d/],
  ["a window one day past two years", "since=731d", /at most 730d/],
])("refuses %s with 400", async (_name, query, message) => {
  const response = await fetch(`${base}/report?${query}`);
  expect(response.status).toBe(400);
  expect(await response.text()).toMatch(message);
});

it("names its source without any piece of a password holding @, / or : (issue: hardening, reproduction 9)", async () => {
  const config = configSchema.parse({});
  const history = simulatedHistory(config, 2 * DAY, Date.UTC(2026, 10, 20, 6));
  const source = "prometheus=https://svc:a@b/c:d@prometheus:9090";
  const secured = await startAnalyzer(
    analyzerConfigSchema.parse({ listen: "127.0.0.1:0", interval: "1h", source, pools: history.analyzer.pools }),
    config.slo,
    history.store,
    silentLogger(),
    { now: () => history.endMs },
  );
  try {
    await secured.evaluate();
    const report = (await (
      await fetch(`http://127.0.0.1:${secured.address.port}/report?format=json&since=1d`)
    ).json()) as CapacityReport;
    expect(report.source).toBe("analyzer (memory store, prometheus=https://[redacted]@prometheus:9090)");
  } finally {
    await secured.shutdown();
  }
}, 60_000);

it("takes the longest window, 730 days, over a store that holds three", async () => {
  const response = await fetch(`${base}/report?format=json&since=730d`);
  expect(response.status).toBe(200);
  // The grid's step is coarser over two years (117 minutes), so the window ends on a step a little under 730 days.
  const days = ((await response.json()) as CapacityReport).window.days;
  expect(days).toBeGreaterThan(729.9);
  expect(days).toBeLessThanOrEqual(730);
}, 60_000);
