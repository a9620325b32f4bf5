/**
 * `npm run bench`: every benchmark, printed as Markdown tables. Set BENCH_ONLY to a comma list of
 * sections (nvml, rss, otlp) to run some, and BENCH_RSS_MINUTES to shorten the memory run.
 */
import { benchNvml } from "./nvml-bench.js";
import { benchRss } from "./rss-bench.js";
import { renderTable, type BenchRow } from "./table.js";

const SECTIONS: Record<string, { title: string; run: () => Promise<BenchRow[]> }> = {
  nvml: { title: "NVML sampling and /metrics (issue: agent foundation)", run: benchNvml },
  rss: { title: "Agent memory (issue: agent foundation)", run: () => benchRss() },
};

const only = process.env["BENCH_ONLY"]?.split(",").map((s) => s.trim());
for (const [key, section] of Object.entries(SECTIONS)) {
  if (only && !only.includes(key)) continue;
  process.stdout.write(`${renderTable(section.title, await section.run())}\n`);
}
