/**
 * The analyzer under the scale benchmark, in a process of its own so that its peak memory is its
 * own: the real service (store, evaluation parts, HTTP API) on the benchmark's Prometheus, with a
 * clock the benchmark sets (the history ends at a fixed instant). It evaluates when told over IPC and
 * answers with what the evaluation cost: wall and CPU time, and the longest event-loop block
 * meanwhile, measured as the largest gap between the ticks of a 5 ms interval timer (overall, and
 * outside the consolidation plan, which is computed on the event loop until it moves to a worker).
 *
 * argv[2]: JSON { source, recordingRules, atMs, timeoutMs, evaluationTimeoutMs }.
 */
import { startAnalyzer } from "../../../analyzer/service.js";
import { createStore } from "../../../analyzer/stores/create-store.js";
import { DEFAULT_SLO_CONFIG } from "../../../common/slo/spec.js";
import { analyzerConfigSchema } from "../../../common/config/schema.js";
import { createLogger } from "../../../common/log.js";

/** What the child reports after an evaluation. */
export interface ChildEvaluation {
  readonly type: "evaluated";
  readonly atMs: number;
  readonly wallMs: number;
  readonly loopMaxMs: number;
  /** The longest block outside the recommendations part (the plan). */
  readonly loopMaxOutsidePlanMs: number;
  /** The same in CPU time: the most CPU the process used during one gap outside the plan (all its threads: an upper bound of the main thread's). */
  readonly loopMaxCpuOutsidePlanMs: number;
  /** CPU time of the process during the evaluation. */
  readonly cpuMs: number;
  /** When the recommendations part ran, epoch milliseconds. */
  readonly planFromEpochMs: number;
  readonly planToEpochMs: number;
  readonly usage: {
    queries: number;
    bytes: number;
    wireBytes: number;
    largestAnswerBytes: number;
    retries: number;
    shardedQueries: number;
    warningCount: number;
  } | null;
  readonly parts: readonly {
    name: string;
    isStale: boolean;
    error: string | null;
    durationMs: number | null;
    attemptedAtMs: number | null;
  }[];
  readonly ran: readonly string[];
}

interface Options {
  readonly source: string;
  readonly recordingRules: "auto" | "off";
  readonly atMs: number;
  readonly timeoutMs: number;
  readonly evaluationTimeoutMs: number;
}

const options = JSON.parse(process.argv[2] ?? "{}") as Options;
let clockMs = options.atMs;
const log = createLogger({ level: "warn" });
const pools = [
  { name: "latency", nodes: "^gpu-node-\\d*[0-5]$" },
  { name: "batch", nodes: "^gpu-node-\\d*[6-9]$" },
];
const config = analyzerConfigSchema.parse({
  listen: "127.0.0.1:0",
  source: options.source,
  interval: "24h",
  slowInterval: "5m",
  recordingRules: options.recordingRules,
  queryTimeout: options.timeoutMs,
  evaluationTimeout: options.evaluationTimeoutMs,
  pools,
});
/**
 * Gaps between ticks of a 5 ms timer, longer than 10 ms: the event loop was blocked meanwhile, or
 * the process waited for a CPU (on a loaded machine). The process's CPU time during the gap tells
 * them apart: a gap of 700 ms with 20 ms of CPU is the scheduler, not the analyzer.
 */
const gaps: { fromMs: number; toMs: number; cpuMs: number }[] = [];
let lastTick = performance.now();
let lastCpu = process.cpuUsage();
setInterval(() => {
  const now = performance.now();
  const cpu = process.cpuUsage();
  if (now - lastTick > 15)
    gaps.push({ fromMs: lastTick, toMs: now, cpuMs: (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000 });
  lastTick = now;
  lastCpu = cpu;
}, 5);
const started = performance.now();
const setup = await createStore(config, log);
const analyzer = await startAnalyzer(config, DEFAULT_SLO_CONFIG, setup.store, log, {
  components: setup.components,
  now: () => clockMs,
});

function report(atMs: number, wallMs: number, endedAt: number, cpu: NodeJS.CpuUsage): ChildEvaluation {
  const state = analyzer.state();
  const planMs = state.parts.find((p) => p.name === "recommendations")?.durationMs ?? 0;
  const plan = { fromMs: endedAt - planMs, toMs: endedAt };
  const block = (gap: { fromMs: number; toMs: number }) => gap.toMs - gap.fromMs - 5;
  const outside = gaps.filter((g) => g.toMs <= plan.fromMs || g.fromMs >= plan.toMs);
  const epoch = (ms: number) => Date.now() - (performance.now() - ms);
  return {
    type: "evaluated",
    atMs,
    wallMs,
    loopMaxMs: Math.max(0, ...gaps.map(block)),
    loopMaxOutsidePlanMs: Math.max(0, ...outside.map(block)),
    loopMaxCpuOutsidePlanMs: Math.max(0, ...outside.map((g) => Math.min(block(g), g.cpuMs))),
    cpuMs: (cpu.user + cpu.system) / 1000,
    planFromEpochMs: epoch(plan.fromMs),
    planToEpochMs: epoch(plan.toMs),
    usage: state.usage ?? null,
    parts: state.parts.map((p) => ({
      name: p.name,
      isStale: p.isStale,
      error: p.error,
      durationMs: p.durationMs,
      attemptedAtMs: p.attemptedAtMs,
    })),
    ran: state.parts.filter((p) => p.attemptedAtMs === atMs).map((p) => p.name),
  };
}

// The loop's own first evaluation starts at once; report it when it is done.
while (analyzer.state().lastDurationMs === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
process.send?.({
  type: "ready",
  port: analyzer.address.port,
  first: report(clockMs, performance.now() - started, performance.now(), process.cpuUsage()),
});

process.on("message", (message: { type: string; atMs?: number }) => {
  if (message.type === "stop") {
    void analyzer.shutdown().then(() => process.exit(0));
    return;
  }
  if (message.type !== "evaluate") return;
  clockMs = message.atMs ?? clockMs;
  gaps.length = 0;
  const cpu = process.cpuUsage();
  const begin = performance.now();
  void analyzer
    .evaluate()
    .then(() => process.send?.(report(clockMs, performance.now() - begin, performance.now(), process.cpuUsage(cpu))));
});
