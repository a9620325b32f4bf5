/**
 * The soak run shared by the short soak test (test/reliability/soak.test.ts, part of `npm test`) and
 * the long one (`npm run soak`, test/bench/soak.ts): the real agent process sampling eight fake GPUs
 * at 1 s while OTLP/HTTP protobuf spans arrive at a steady rate, scraped as Prometheus would.
 * It measures the RSS trend, the longest event-loop delay the agent itself
 * reports (`inferwatch_agent_event_loop_delay_max_seconds`), and spans sent against spans counted.
 */
import { readFile } from "node:fs/promises";
import { Agent } from "node:http";
import { availableParallelism, loadavg } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { METRICS } from "../../common/conventions.js";
import { startAgentProcess } from "../fixtures/agent-process.js";
import { find, valueOf, type Series } from "../fixtures/exposition.js";
import { scenarioFile } from "../fixtures/nvml-scenario.js";
import { buildFakeNvml } from "../setup/build-fake-nvml.js";
import { eightGpuScenario } from "../bench/nvml-bench.js";
import { encodeSpanBatch, postSpans } from "./span-load.js";

/** What to run. */
export interface SoakOptions {
  readonly durationMs: number;
  readonly spansPerSecond: number;
  /** How often RSS and /metrics are read. */
  readonly sampleEveryMs: number;
  /** Progress lines (the long run prints them). */
  readonly progress?: (line: string) => void;
}

/** One RSS reading of the agent process. */
export interface RssPoint {
  readonly atMs: number;
  readonly mib: number;
}

/** What a soak run measured. */
export interface SoakResult {
  readonly rss: readonly RssPoint[];
  /** Least-squares slope of RSS over the second half of the run, MiB per minute. */
  readonly rssSlopeMiBPerMinute: number;
  /** Largest value of the agent's event-loop delay gauge over all scrapes, seconds. */
  readonly eventLoopDelayMaxSeconds: number;
  /** The gauge at each scrape: [ms since start, seconds]. */
  readonly eventLoopDelays: readonly (readonly [atMs: number, seconds: number])[];
  /**
   * Longest event-loop delay of this (the load-generating) process over the same time, seconds: a
   * control for what the machine's scheduler alone costs a Node process when other work shares the cores.
   */
  readonly controlDelayMaxSeconds: number;
  /** Mean over the run of the 1-minute load average per CPU core (above 1: the cores were oversubscribed). */
  readonly loadPerCore: number;
  readonly scrapes: number;
  /** Spans in requests the agent answered 200. */
  readonly spansAccepted: number;
  /** Spans in requests that got anything else (or a transport error). */
  readonly spansNotAccepted: number;
  /** Requests by HTTP status (0: transport error). */
  readonly statuses: Readonly<Record<string, number>>;
  /** The agent's `inferwatch_otlp_spans_total`, by outcome, at the end. */
  readonly spansCounted: Readonly<Record<string, number>>;
  /** Sum of the agent's `inferwatch_llm_requests_total` at the end. */
  readonly llmRequestsCounted: number;
  /** Sampling rounds of the GPU collector that failed (should stay 0). */
  readonly gpuCollectorErrors: number;
  readonly exitCode: number | null;
}

/** Sends per tick; 10 ticks a second. */
const TICKS_PER_SECOND = 10;

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]) / 1024;
}

/** Least-squares slope of y over x. */
export function leastSquaresSlope(points: readonly (readonly [x: number, y: number])[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let numerator = 0;
  let denominator = 0;
  for (const [x, y] of points) {
    numerator += (x - meanX) * (y - meanY);
    denominator += (x - meanX) ** 2;
  }
  return denominator === 0 ? 0 : numerator / denominator;
}

function sum(series: readonly Series[], name: string): number {
  return find(series, name).reduce((total, s) => total + s.value, 0);
}

/** Runs the agent under load for `durationMs` and returns what was measured; always stops the agent. */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const batchSpans = Math.max(1, Math.round(options.spansPerSecond / TICKS_PER_SECOND));
  const body = encodeSpanBatch(batchSpans);
  const libs = await buildFakeNvml();
  const file = await scenarioFile(eightGpuScenario());
  const agent = await startAgentProcess(["--nvml-library", libs.full, "--pods", "false", "--interval", "1s"], {
    FAKE_NVML_SCENARIO: file.path,
  });
  const pid = agent.child.pid as number;
  const otlp = agent.otlpHttp;
  if (otlp === undefined) throw new Error("the agent's OTLP/HTTP receiver is not listening");
  const http = new Agent({ keepAlive: true, maxSockets: 4 });
  const statuses: Record<string, number> = {};
  let spansAccepted = 0;
  let spansNotAccepted = 0;
  const inFlight = new Set<Promise<void>>();
  const rss: RssPoint[] = [];
  let eventLoopDelayMaxSeconds = 0;
  const eventLoopDelays: [number, number][] = [];
  const loads: number[] = [];
  let scrapes = 0;
  let exitCode: number | null;
  let last: Series[];
  const startedAt = Date.now();
  const control = monitorEventLoopDelay({ resolution: 10 });
  control.enable();
  const scrape = async (): Promise<Series[]> => {
    const { series } = await agent.scrape();
    scrapes++;
    const delay = valueOf(series, METRICS.eventLoopDelayMax.name) ?? 0;
    eventLoopDelays.push([Date.now() - startedAt, delay]);
    eventLoopDelayMaxSeconds = Math.max(eventLoopDelayMaxSeconds, delay);
    return series;
  };
  try {
    let batchesSent = 0;
    // Batches due by the clock, not one per timer tick: a late timer (a loaded machine) catches up.
    const sender = setInterval(() => {
      const due = Math.floor(((Date.now() - startedAt) / 1000) * TICKS_PER_SECOND) - batchesSent;
      for (let i = 0; i < due; i++) {
        batchesSent++;
        const sending = postSpans(http, otlp, body).then((status) => {
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (status === 200) spansAccepted += batchSpans;
          else spansNotAccepted += batchSpans;
        });
        const tracked = sending.finally(() => inFlight.delete(tracked));
        inFlight.add(tracked);
      }
    }, 1000 / TICKS_PER_SECOND);
    try {
      while (Date.now() - startedAt < options.durationMs) {
        await new Promise((resolve) => setTimeout(resolve, options.sampleEveryMs));
        rss.push({ atMs: Date.now() - startedAt, mib: await rssMiB(pid) });
        loads.push((loadavg()[0] ?? 0) / availableParallelism());
        last = await scrape();
        const point = rss.at(-1);
        options.progress?.(
          `${((Date.now() - startedAt) / 60_000).toFixed(1)} min: RSS ${point?.mib.toFixed(1)} MiB, loop delay max ${(eventLoopDelayMaxSeconds * 1000).toFixed(0)} ms, spans accepted ${spansAccepted}`,
        );
      }
    } finally {
      clearInterval(sender);
      await Promise.all(inFlight);
    }
    // Counting happens before the 200 is sent, so one more scrape sees every accepted span.
    last = await scrape();
  } finally {
    http.destroy();
    control.disable();
    exitCode = await agent.stop();
  }
  const counted = Object.fromEntries(
    find(last, METRICS.otlpSpans.name).map((s) => [s.labels["outcome"] ?? "", s.value]),
  );
  const half = options.durationMs / 2;
  const secondHalf = rss.filter((p) => p.atMs >= half).map((p) => [p.atMs / 60_000, p.mib] as const);
  return {
    rss,
    rssSlopeMiBPerMinute: leastSquaresSlope(secondHalf),
    eventLoopDelayMaxSeconds,
    eventLoopDelays,
    controlDelayMaxSeconds: control.max / 1e9,
    loadPerCore: loads.length === 0 ? 0 : loads.reduce((a, b) => a + b, 0) / loads.length,
    scrapes,
    spansAccepted,
    spansNotAccepted,
    statuses,
    spansCounted: counted,
    llmRequestsCounted: sum(last, METRICS.llmRequests.name),
    gpuCollectorErrors: valueOf(last, METRICS.collectorErrors.name, { collector: "gpu" }) ?? Number.NaN,
    exitCode,
  };
}
