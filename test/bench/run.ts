/**
 * `npm run bench`: every benchmark, printed as Markdown tables. Set BENCH_ONLY to a comma list of
 * sections (the keys of SECTIONS below) to run some, BENCH_RSS_MINUTES to shorten the memory run
 * (BENCH_AGENT_NODE_OPTIONS: the agent's NODE_OPTIONS there), and BENCH_FOOTPRINT_MINUTES / BENCH_FOOTPRINT_CPU_SECONDS / BENCH_FOOTPRINT_SPANS for the footprint
 * measured from outside (test/bench/footprint-bench.ts; the run is BENCH_FOOTPRINT_MINUTES=10).
 */
import { benchAbuse } from "./abuse-bench.js";
import { benchFleet } from "./fleet-bench.js";
import { benchFootprint } from "./footprint-bench.js";
import { benchNvml } from "./nvml-bench.js";
import { benchOtlpDecode } from "./otlp-decode-bench.js";
import { benchOtlpIngest } from "./otlp-ingest-bench.js";
import { benchRecommend } from "./recommend-bench.js";
import { benchReport } from "./report-bench.js";
import { benchRss } from "./rss-bench.js";
import { benchRuntimePages } from "./runtime-page-bench.js";
import { benchScale } from "./scale-bench.js";
import { benchSecurity } from "./security-bench.js";
import { benchSloStores } from "./slo-store-bench.js";
import { benchStart } from "./start-bench.js";
import { renderTable, type BenchRow } from "./table.js";
import { noAttribution } from "../../agent/collectors/gpu-collector.js";
import { SpanMetricsProcessor } from "../../agent/processors/span-metrics-processor.js";
import { configSchema } from "../../common/config/schema.js";

const SECTIONS: Record<string, { title: string; run: () => Promise<BenchRow[]> }> = {
  nvml: { title: "NVML sampling and /metrics", run: benchNvml },
  footprint: {
    title: "Agent footprint measured from outside: CPU per sample, event-loop delay, RSS",
    run: () => benchFootprint(),
  },
  rss: { title: "Agent memory", run: () => benchRss() },
  decode: {
    title: "OTLP decoding",
    run: async () => (await benchOtlpDecode()).rows.map((row) => ({ name: row.name, value: row.value })),
  },
  ingest: {
    title: "OTLP ingest through the real span pipeline",
    run: () => benchOtlpIngest({ consumerFactory: realPipeline }),
  },
  fleet: { title: "Fragmentation", run: () => benchFleet() },
  slo: { title: "SLO evaluation from the stores", run: () => benchSloStores() },
  recommend: { title: "Consolidation quality and speed", run: () => benchRecommend() },
  security: { title: "TLS and tokens on OTLP ingest", run: () => benchSecurity() },
  report: { title: "Capacity-planning report over 30 days of the simulated fleet", run: () => benchReport() },
  runtimes: {
    title: "Runtime pages read as they arrive: stock, hostile (0.1–16.5 MiB), the largest real shapes, eight at once",
    run: () => benchRuntimePages(),
  },
  start: { title: "npm start: from the command to the console", run: () => benchStart() },
  scale: { title: "The analyzer at fleet scale on a backfilled Prometheus", run: () => benchScale() },
  abuse: { title: "Floods against the agent with ingest tokens, each on a fresh agent", run: () => benchAbuse() },
};

/** The agent's own span pipeline: profiles, the series store, no forwarding. */
function realPipeline(): SpanMetricsProcessor {
  const config = configSchema.parse({}).agent;
  return new SpanMetricsProcessor({ config: config.spans, attribution: noAttribution });
}

const only = process.env["BENCH_ONLY"]?.split(",").map((s) => s.trim());
for (const [key, section] of Object.entries(SECTIONS)) {
  if (only && !only.includes(key)) continue;
  process.stdout.write(`${renderTable(section.title, await section.run())}\n`);
}
