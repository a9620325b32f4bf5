/**
 * One measurement of the runtime-page benchmark, in a fresh process so that its peak resident
 * memory is its own: scrapes the target URLs given as JSON in argv[2] (`{ urls, rounds }`) with
 * the runtime scraper, rounds one after another, and prints one JSON line: per round its duration,
 * the longest the event loop went without turning (wall time, and the CPU time within it), the peak RSS growth over the RSS before the
 * first round (from the kernel's high-water mark, so a peak inside a stall counts too; an upper
 * bound, since the process's start-up peak is in it), then the agent's /metrics rendered from the
 * last round. Started by runtime-page-bench.ts; run with --expose-gc.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Registry } from "prom-client";
import { RuntimeScraper } from "../../agent/collectors/runtimes/runtime-scraper.js";
import { registerRuntimeMetrics } from "../../agent/exporters/runtime-metrics.js";
import { agentConfigSchema } from "../../common/config/schema.js";
import { silentLogger } from "../../common/log.js";
import { MIB } from "../../common/units.js";

/** What one child measured. */
export interface ChildResult {
  readonly rounds: readonly {
    readonly roundMs: number;
    readonly maxStallMs: number;
    readonly maxBusyStallMs: number;
    readonly p99DelayMs: number;
    readonly peakRssGrowthMiB: number;
    readonly errors: readonly string[];
  }[];
  readonly series: number;
  readonly metricsBytes: number;
  readonly renderMs: number;
  readonly retainedRssGrowthMiB: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The longest stalls a probe saw: wall time, and the part of it the process spent on a core. */
interface Stalls {
  /** Longest gap between turns of a 1 ms interval (or the event-loop delay histogram's maximum). */
  readonly wallMs: number;
  /**
   * Longest gap counted in the process's CPU time over it (all its threads, so GC helpers too),
   * capped at the gap: what the work itself held the loop, without the time the process waited for
   * a core on a loaded machine.
   */
  readonly busyMs: number;
  /** The 99th percentile of the event-loop delay histogram (1 ms resolution): how long the loop waits as a rule, not at worst. */
  readonly p99Ms: number;
}

/** Measures stalls of the event loop while enabled. */
function stallProbe(): { stop(): Promise<Stalls> } {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  let longest = 0;
  let longestBusy = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    const gap = now - last;
    longest = Math.max(longest, gap);
    longestBusy = Math.max(longestBusy, Math.min(gap, (cpu.user + cpu.system) / 1000));
    last = now;
    lastCpu = process.cpuUsage();
  }, 1);
  return {
    async stop() {
      // A stall at the very end of what was measured shows only when the timers run after it.
      await sleep(30);
      clearInterval(timer);
      histogram.disable();
      return {
        wallMs: Math.max(longest, histogram.max / 1e6),
        busyMs: longestBusy,
        p99Ms: histogram.percentile(99) / 1e6,
      };
    },
  };
}

async function main(): Promise<void> {
  const spec: unknown = JSON.parse(process.argv[2] ?? "{}");
  if (
    typeof spec !== "object" ||
    spec === null ||
    !("urls" in spec) ||
    !Array.isArray(spec.urls) ||
    !("rounds" in spec) ||
    typeof spec.rounds !== "number"
  ) {
    throw new Error('usage: runtime-page-child.js \'{"urls":[…],"rounds":n}\'');
  }
  const urls = spec.urls.map(String);
  // A page limit past every page measured: the benchmark measures reading pages, not refusing them.
  const config = agentConfigSchema.parse({ runtimes: { timeout: "60s", interval: "60s", maxBodyBytes: "64MiB" } });
  const scraper = new RuntimeScraper({
    config: { ...config.runtimes, targets: urls.map((url: string) => ({ url })) },
    tiers: config.spans,
    log: silentLogger(),
  });
  const registry = new Registry();
  registerRuntimeMetrics(
    registry,
    "bench",
    () => scraper.view(),
    () => undefined,
    () => ({ series: scraper.seriesCount, overflowed: scraper.overflowed }),
  );
  const gc = globalThis.gc;
  gc?.();
  await sleep(100);
  const rssBefore = process.memoryUsage().rss;
  const rounds: ChildResult["rounds"][number][] = [];
  for (let i = 0; i < spec.rounds; i++) {
    const probe = stallProbe();
    const started = performance.now();
    const result = await scraper.collect();
    const roundMs = performance.now() - started;
    const stalls = await probe.stop();
    rounds.push({
      roundMs,
      maxStallMs: stalls.wallMs,
      maxBusyStallMs: stalls.busyMs,
      p99DelayMs: stalls.p99Ms,
      peakRssGrowthMiB: (process.resourceUsage().maxRSS * 1024 - rssBefore) / MIB,
      errors: result.errors.map((e) => e.message),
    });
  }
  const renderStarted = performance.now();
  const text = await registry.metrics();
  const renderMs = performance.now() - renderStarted;
  gc?.();
  const out: ChildResult = {
    rounds,
    series: scraper.seriesCount,
    metricsBytes: text.length,
    renderMs,
    retainedRssGrowthMiB: (process.memoryUsage().rss - rssBefore) / MIB,
  };
  await scraper.shutdown();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

await main();
