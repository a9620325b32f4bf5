/**
 * `npm run soak`: the long soak. The real agent for SOAK_MINUTES (default 30) at 1 s
 * sampling of eight fake GPUs with SOAK_SPANS_PER_SECOND (default 2,000) OTLP spans a second,
 * printed as a Markdown table; exits 1 when a bound of test/reliability/soak-bounds.ts is missed.
 */
import { runSoak } from "../reliability/soak-run.js";
import { SOAK_BOUNDS } from "../reliability/soak-bounds.js";
import { renderTable, type BenchRow } from "./table.js";

const minutes = Number(process.env["SOAK_MINUTES"] ?? 30);
const spansPerSecond = Number(process.env["SOAK_SPANS_PER_SECOND"] ?? 2000);
const result = await runSoak({
  durationMs: minutes * 60_000,
  spansPerSecond,
  sampleEveryMs: 10_000,
  progress: (line) => process.stderr.write(`${line}\n`),
});
const counted = Object.values(result.spansCounted).reduce((a, b) => a + b, 0);
const mib = result.rss.map((p) => p.mib);
const rows: BenchRow[] = [
  {
    name: `spans accepted (${spansPerSecond}/s for ${minutes} min) = counted by the agent`,
    value: `${result.spansAccepted} = ${counted}`,
    target: "equal, none refused",
    isMet: counted === result.spansAccepted && result.spansNotAccepted === 0,
  },
  {
    name: "longest event-loop delay the agent reported",
    value: `${(result.eventLoopDelayMaxSeconds * 1000).toFixed(1)} ms`,
    target: `< ${SOAK_BOUNDS.eventLoopDelayMaxSeconds * 1000} ms`,
    isMet: result.eventLoopDelayMaxSeconds < SOAK_BOUNDS.eventLoopDelayMaxSeconds,
  },
  {
    name: "longest event-loop delay of the load generator (control: what the machine's scheduler costs)",
    value: `${(result.controlDelayMaxSeconds * 1000).toFixed(1)} ms`,
  },
  {
    name: "mean 1-minute load average per core during the run (above 1: oversubscribed, the delays above are the machine's too)",
    value: result.loadPerCore.toFixed(2),
  },
  {
    name: "RSS slope over the second half (least squares)",
    value: `${result.rssSlopeMiBPerMinute.toFixed(3)} MiB/min`,
    target: `< ${SOAK_BOUNDS.rssSlopeMiBPerMinute} MiB/min`,
    isMet: result.rssSlopeMiBPerMinute < SOAK_BOUNDS.rssSlopeMiBPerMinute,
  },
  {
    name: "RSS first … last (min … max)",
    value: `${mib[0]?.toFixed(1)} … ${mib.at(-1)?.toFixed(1)} MiB (${Math.min(...mib).toFixed(1)} … ${Math.max(...mib).toFixed(1)})`,
  },
  {
    name: "GPU collector errors",
    value: String(result.gpuCollectorErrors),
    target: "0",
    isMet: result.gpuCollectorErrors === 0,
  },
  { name: "agent exit code on SIGTERM", value: String(result.exitCode), target: "0", isMet: result.exitCode === 0 },
];
process.stdout.write(`${renderTable(`Soak: ${minutes} min`, rows)}\n`);
if (rows.some((row) => row.isMet === false)) process.exitCode = 1;
