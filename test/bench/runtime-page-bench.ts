/**
 * What a hostile runtime page costs the agent: a vLLM page listing 100,000 `model_name` values
 * (what any GPU pod with a metrics-port annotation could serve) scraped over loopback by the
 * runtime scraper with its default limits, then the agent's /metrics rendered from it. Before the
 * series limits this page became 100,000 series: /metrics 11.6 MB in 2.7 s (issue 20, item 3).
 * A stock vLLM V1 page (test/fixtures/runtimes/vllm-v1.prom) is the reference.
 *
 * Run: `BENCH_ONLY=runtimes npm run bench` (or `npx tsc -p tsconfig.json && node dist/test/bench/runtime-page-bench.js`).
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { loadavg } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { Registry } from "prom-client";
import { RuntimeScraper } from "../../agent/collectors/runtimes/runtime-scraper.js";
import { registerRuntimeMetrics } from "../../agent/exporters/runtime-metrics.js";
import { agentConfigSchema } from "../../common/config/schema.js";
import { silentLogger } from "../../common/log.js";
import { projectPath } from "../../common/paths.js";
import type { BenchRow } from "./table.js";

const MODELS = 100_000;

function hostilePage(models: number): string {
  const lines: string[] = ["# TYPE vllm:num_requests_running gauge"];
  for (let i = 0; i < models; i++) lines.push(`vllm:num_requests_running{engine="0",model_name="model-${i}"} 1.0`);
  lines.push("# TYPE vllm:kv_cache_usage_perc gauge");
  for (let i = 0; i < models; i++) lines.push(`vllm:kv_cache_usage_perc{engine="0",model_name="model-${i}"} 0.5`);
  return `${lines.join("\n")}\n`;
}

interface Measured {
  readonly pageBytes: number;
  readonly roundMs: number;
  readonly maxLoopDelayMs: number;
  readonly metricsBytes: number;
  readonly renderMs: number;
  readonly series: number;
  readonly rssDeltaMiB: number;
}

async function measure(body: string): Promise<Measured> {
  const server = createServer((_, response) => {
    response.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  // The page limit is raised past the hostile page, so the series limits are what is measured (the default, 1 MiB, refuses it).
  const config = agentConfigSchema.parse({ runtimes: { timeout: "30s", interval: "30s", maxBodyBytes: "16MiB" } });
  const scraper = new RuntimeScraper({ config: { ...config.runtimes, targets: [{ url }] }, tiers: config.spans, log: silentLogger() });
  const registry = new Registry();
  registerRuntimeMetrics(registry, "bench", () => scraper.view(), () => undefined, () => ({ series: scraper.seriesCount, overflowed: scraper.overflowed }));
  try {
    await scraper.collect(); // warm-up: the first round also admits the models it keeps
    const rssBefore = process.memoryUsage().rss;
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const started = performance.now();
    const result = await scraper.collect();
    const roundMs = performance.now() - started;
    delay.disable();
    if (result.errors.length > 0) throw new Error(`scrape failed: ${result.errors.map((e) => e.message).join("; ")}`);
    const renderStarted = performance.now();
    const text = await registry.metrics();
    const renderMs = performance.now() - renderStarted;
    return {
      pageBytes: body.length, roundMs, maxLoopDelayMs: delay.max / 1e6, metricsBytes: text.length, renderMs,
      series: scraper.seriesCount, rssDeltaMiB: (process.memoryUsage().rss - rssBefore) / 2 ** 20,
    };
  } finally {
    await scraper.shutdown();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Rows for `npm run bench`; the load average is printed beside them (a shared machine). */
export async function benchRuntimePages(): Promise<BenchRow[]> {
  const stock = await measure(readFileSync(projectPath("test/fixtures/runtimes/vllm-v1.prom"), "utf8"));
  const hostile = await measure(hostilePage(MODELS));
  const load = loadavg().map((value) => value.toFixed(2)).join(" ");
  const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
  return [
    { name: `stock vLLM V1 page (${kib(stock.pageBytes)}): scrape round`, value: `${stock.roundMs.toFixed(1)} ms` },
    { name: `page of ${MODELS.toLocaleString("en")} model_name values (${(hostile.pageBytes / 2 ** 20).toFixed(1)} MiB): scrape round`, value: `${hostile.roundMs.toFixed(0)} ms` },
    { name: "  longest event-loop stall during that round", value: `${hostile.maxLoopDelayMs.toFixed(0)} ms` },
    { name: "  series held after the round", value: String(hostile.series), target: "≤ 64 (maxSeriesPerTarget)", isMet: hostile.series <= 64 },
    { name: "  agent /metrics size", value: kib(hostile.metricsBytes), target: "< 64 KiB (was 11.6 MB)", isMet: hostile.metricsBytes < 64 * 1024 },
    { name: "  agent /metrics render time", value: `${hostile.renderMs.toFixed(1)} ms`, target: "< 50 ms (was 2.7 s)", isMet: hostile.renderMs < 50 },
    { name: "  RSS growth over the round", value: `${hostile.rssDeltaMiB.toFixed(1)} MiB` },
    { name: "load average (1, 5, 15 min) while measured", value: load },
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { renderTable } = await import("./table.js");
  process.stdout.write(renderTable("Runtime pages (issue 20 item 3)", await benchRuntimePages()));
}
