/**
 * The capacity-planning report over 30 days of the simulated fleet.
 * Times, on one thread: writing the fast-forwarded month into the embedded store (what
 * `inferwatch report` does without a source), the analyzer's evaluation at the window's end, the
 * report model (every store query, the forecasts, fragmentation at 121 instants), and rendering
 * the HTML page. Target: the model in under 5 s, the whole command in under 30 s.
 *
 * Run: `npx tsc -p tsconfig.json && node dist/test/bench/report-bench.js`.
 */
import { pathToFileURL } from "node:url";
import { poolResolver } from "../../analyzer/fleet/assemble.js";
import { buildReport } from "../../analyzer/report/build-report.js";
import { renderReport } from "../../analyzer/report/render.js";
import { evaluateOnce } from "../../analyzer/service.js";
import { simulatedHistory } from "../../cli/simulate/simulated-history.js";
import { configSchema } from "../../common/config/schema.js";
import { renderTable, type BenchRow } from "./table.js";
import { DAY_MS } from "../../common/units.js";

const MODEL_TARGET_MS = 5_000;
const TOTAL_TARGET_MS = 30_000;

/** One run of each stage over `days` of history. */
export async function benchReport(days = 30): Promise<BenchRow[]> {
  const config = configSchema.parse({ log: { level: "silent" } });
  const sinceMs = days * DAY_MS;
  let t = performance.now();
  const history = simulatedHistory(config, sinceMs, Date.now());
  const historyMs = performance.now() - t;
  const stats = history.store.stats();
  t = performance.now();
  const current = await evaluateOnce(history.store, history.analyzer, config.slo, history.endMs);
  const evaluateMs = performance.now() - t;
  const queriesBefore = history.store.queryCount;
  t = performance.now();
  const report = await buildReport(history.store, {
    atMs: history.endMs,
    sinceMs,
    poolOf: poolResolver(history.analyzer.pools),
    slo: config.slo,
    source: "bench",
    current: {
      snapshot: current.snapshot as NonNullable<typeof current.snapshot>,
      recommendations: current.recommendations as NonNullable<typeof current.recommendations>,
    },
  });
  const modelMs = performance.now() - t;
  const queries = history.store.queryCount - queriesBefore;
  t = performance.now();
  const html = renderReport(report, "html");
  const renderMs = performance.now() - t;
  const totalMs = historyMs + evaluateMs + modelMs + renderMs;
  const ms = (value: number) => `${Math.round(value)} ms`;
  return [
    {
      name: `simulated history into the embedded store (${days} d, 5-min steps)`,
      value: `${ms(historyMs)} (${stats.samplesStored.toLocaleString("en-US")} samples, ${stats.series} series)`,
    },
    { name: "analyzer evaluation at the window's end", value: ms(evaluateMs) },
    {
      name: "report model (demand, utilization, SLOs, fragmentation, forecasts)",
      value: `${ms(modelMs)} (${queries} store queries)`,
      target: `< ${MODEL_TARGET_MS} ms`,
      isMet: modelMs < MODEL_TARGET_MS,
    },
    {
      name: "HTML rendering",
      value: `${ms(renderMs)} (${(Buffer.byteLength(html) / 1e6).toFixed(2)} MB, ${report.forecast.pools.length + report.forecast.demand.length + 8} charts)`,
    },
    {
      name: "inferwatch report without a source, end to end in process",
      value: ms(totalMs),
      target: `< ${TOTAL_TARGET_MS / 1000} s`,
      isMet: totalMs < TOTAL_TARGET_MS,
    },
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.stdout.write(renderTable("Capacity-planning report", await benchReport()));
}
