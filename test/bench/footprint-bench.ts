/**
 * The agent's footprint measured from outside, as a user would (issue: the agent's footprint on a
 * GPU node), beside the in-process NVML benchmark (nvml-bench.ts):
 *
 * - **Marginal CPU per sample**: two agent processes on the same 3 fake GPUs, host metrics and pods
 *   off, one at `--interval 100ms` and one at `--interval 1s`, over the same
 *   BENCH_FOOTPRINT_CPU_SECONDS (default 30). Their whole-process CPU (the scheduler's run time of
 *   every thread, /proc/<pid>/task/<tid>/schedstat, with /proc/<pid>/stat's 10 ms ticks beside it),
 *   the difference divided by the difference in sampling rounds (each agent's own
 *   `inferwatch_agent_collector_runs_total`) is what one more sample costs the process: the NVML
 *   thread, the hand-off, conversion, allocation, GC and timers. Its ratio to the koffi floor
 *   (the same number of FFI calls to a C function that does nothing, in this process) says how
 *   close a round is to the calls it makes. The per-thread split comes from the same schedstat.
 *   The round-cost ladder (round-cost-probe.ts) splits the round into its parts, measured the same
 *   way, and a C program (native-round-probe.c) gives the native floor beside it: what waking ten
 *   times a second, with and without a sampler's basic NVML calls, costs any process on the machine.
 * - **Event-loop delay and RSS under load**: one agent at 1 s sampling of 8 fake GPUs × 10
 *   processes with host metrics and pod attribution on (a fake kubelet and Kubernetes API) and
 *   BENCH_FOOTPRINT_SPANS (default 500) OTLP/HTTP spans a second, for BENCH_FOOTPRINT_MINUTES
 *   (default 1; the issue's run is 10). The largest delay the agent's own
 *   `monitorEventLoopDelay` reports (scraped every 10 s), the slowest answer of a client polling
 *   `/healthz` every 20 ms, this process's own largest delay as a control (what the machine's
 *   scheduler costs any Node process), the load, and the RSS at the end.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { Agent as HttpAgent } from "node:http";
import { fileURLToPath } from "node:url";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import koffi from "koffi";
import { loadNvmlLibrary } from "../../agent/nvml/nvml-library.js";
import { roundsPerBatch } from "../../agent/collectors/gpu-collector.js";
import { NvmlReader } from "../../agent/nvml/nvml-reader.js";
import { METRICS } from "../../common/conventions.js";
import { scrapeUntil, startAgentProcess, type AgentProcess } from "../fixtures/agent-process.js";
import { valueOf } from "../fixtures/exposition.js";
import { apiPod, FakeKubeApi, FakeKubelet, kubeletPod } from "../fixtures/fake-kubelet.js";
import { gpu, scenarioFile, type ScenarioSettings } from "../fixtures/nvml-scenario.js";
import { encodeSpanBatch, postSpans } from "../reliability/span-load.js";
import { buildCProgram, buildFakeNvml } from "../setup/build-fake-nvml.js";
import { recordingLibrary } from "./call-recorder.js";
import { eightGpuScenario } from "./nvml-bench.js";
import {
  clockTicksPerSecond,
  processCpuSeconds,
  residentMiB,
  rssMiB,
  runtimeSeconds,
  threadRuntimeSeconds,
  threadDelta,
} from "./proc-stat.js";
import { PROBES, RUNGS, type Rung } from "./round-cost-probe.js";
import type { BenchRow } from "./table.js";

/** What to run; every field has an environment variable. */
export interface FootprintOptions {
  readonly cpuSeconds: number;
  /** How long both agents run before the CPU window opens: V8 is still compiling a round's functions for a minute. */
  readonly warmupSeconds: number;
  readonly minutes: number;
  readonly spansPerSecond: number;
}

/** The options from BENCH_FOOTPRINT_CPU_SECONDS, BENCH_FOOTPRINT_MINUTES and BENCH_FOOTPRINT_SPANS. */
export function footprintOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): FootprintOptions {
  return {
    cpuSeconds: Number(env["BENCH_FOOTPRINT_CPU_SECONDS"] ?? 30),
    warmupSeconds: Number(env["BENCH_FOOTPRINT_WARMUP_SECONDS"] ?? 60),
    minutes: Number(env["BENCH_FOOTPRINT_MINUTES"] ?? 1),
    spansPerSecond: Number(env["BENCH_FOOTPRINT_SPANS"] ?? 500),
  };
}

const THREE_GPUS: ScenarioSettings = { gpus: [gpu(0), gpu(1), gpu(2)] };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function benchFootprint(options: FootprintOptions = footprintOptionsFromEnv()): Promise<BenchRow[]> {
  const libs = await buildFakeNvml();
  const load0 = loadavg()[0] ?? 0;
  const cpu = await marginalCpu(libs.full, options.cpuSeconds, options.warmupSeconds);
  const floor = await koffiFloor(libs.full);
  const ladder = await roundCostLadder(libs.full, options.cpuSeconds, options.warmupSeconds);
  const loaded = await underLoad(libs.full, options);
  const load1 = loadavg()[0] ?? 0;
  const cores = availableParallelism();
  const perSampleUs = cpu.perSampleSeconds * 1e6;
  const ratio = perSampleUs / floor.floorUs;
  const threads = [...cpu.perSampleByThread];
  return [
    {
      name: `whole-process marginal CPU per sample of 3 GPUs (agent at 100 ms − agent at 1 s, ${options.cpuSeconds} s, ${cpu.extraRounds} extra rounds; scheduler run time of every thread, /proc/<pid>/task/*/schedstat; in 10 ms ticks of /proc/<pid>/stat)`,
      value: `${perSampleUs.toFixed(0)} µs (${(cpu.perSampleTicksSeconds * 1e6).toFixed(0)} µs)`,
      target: "< 300 µs",
      isMet: perSampleUs < 300,
    },
    {
      name: `  of which, by thread (/proc/<pid>/task/<tid>/schedstat): ${threads.map(([name, us]) => `${name} ${us.toFixed(0)} µs`).join("; ")}`,
      value: "",
    },
    {
      name: `koffi floor: a round's ${floor.calls.toFixed(1)} NVML calls (a 100 ms batch's calls, same functions and arguments, per round) straight through koffi, CPU`,
      value: `${floor.floorUs.toFixed(1)} µs`,
    },
    {
      name: `  the same number of calls to a no-op C function (the FFI alone)`,
      value: `${floor.noopUs.toFixed(1)} µs`,
    },
    {
      name: "marginal CPU per sample ÷ koffi floor",
      value: `${ratio.toFixed(0)}×`,
      target: "≤ 25×",
      isMet: ratio <= 25,
    },
    {
      name: "the same round in-process (NvmlReader.sample(), one thread, no hand-off, run back to back), CPU",
      value: `${floor.readerUs.toFixed(1)} µs`,
    },
    ...ladderRows(ladder, perSampleUs),
    {
      name: `largest event-loop delay the agent reported (monitorEventLoopDelay) over ${options.minutes} min: 1 s sampling, 8 GPUs × 10 processes, host metrics and pods on, ${options.spansPerSecond} spans/s`,
      value: `${(loaded.eventLoopMaxSeconds * 1000).toFixed(1)} ms`,
      target: "< 20 ms",
      isMet: loaded.eventLoopMaxSeconds < 0.02,
    },
    {
      name: "slowest /healthz answer, polled every 20 ms over the same run",
      value: `${loaded.healthzMaxMs.toFixed(1)} ms (p99 ${loaded.healthzP99Ms.toFixed(1)} ms)`,
    },
    {
      name: "control: largest event-loop delay of this (the benchmark's) process over the same run",
      value: `${(loaded.controlMaxSeconds * 1000).toFixed(1)} ms`,
    },
    {
      name: `agent CPU over the loaded run (${options.spansPerSecond} spans/s)`,
      value: `${(loaded.cpuShare * 100).toFixed(1)} % of a core`,
    },
    {
      name: `agent RSS after ${options.minutes} min of the loaded run (peak; anonymous part at the end)`,
      value: `${loaded.rssEndMiB.toFixed(1)} MiB (${loaded.rssPeakMiB.toFixed(1)}; ${loaded.anonEndMiB.toFixed(1)})`,
    },
    {
      name: "machine: 1-minute load average at start … end, cores",
      value: `${load0.toFixed(2)} … ${load1.toFixed(2)}, ${cores}`,
    },
  ];
}

/** What each rung of the ladder adds to a round, the agent's whole round after the last rung, and the path beside it. */
function ladderRows(ladder: ReadonlyMap<LadderKey, number>, agentUs: number): BenchRow[] {
  const what: Record<(typeof RUNGS)[number], string> = {
    sleep: "the sampling thread waking on its own clock every round (Atomics.wait timeout)",
    calls: "+ a round's NVML calls straight through koffi on that thread (a batch's calls, in turn)",
    reader: "+ the reader's round instead (NvmlReader.sample(): field readers, their objects; one slow round a batch)",
    batch: "+ each batch serialized and handed to the main thread, which decodes it (once a batch)",
  };
  let previous = 0;
  const rows: BenchRow[] = RUNGS.map((rung) => {
    const us = ladder.get(rung) ?? Number.NaN;
    const row = {
      name: `round-cost ladder, measured like the agent (two processes at 100 ms and 1 s; scheduler run time, /proc/<pid>/task/*/schedstat): ${what[rung]}`,
      value: `${us.toFixed(0)} µs (step ${(us - previous).toFixed(0)} µs)`,
    };
    previous = us;
    return row;
  });
  rows.push({
    name: "round-cost ladder: + the rest of the agent's round (sampler, collector, XID and up/down bookkeeping)",
    value: `step ${(agentUs - previous).toFixed(0)} µs`,
  });
  const beside = (key: LadderKey) => `${(ladder.get(key) ?? Number.NaN).toFixed(0)} µs`;
  rows.push({
    name: "beside the ladder, one main-thread wake per round (the path at intervals of 1 s or more): a timer alone; + a shared-memory hop to the sampling thread; the hop as a MessagePort round trip instead",
    value: `${beside("timer")}; ${beside("hop")}; ${beside("message")}`,
  });
  const nativeRound = ladder.get("native-calls") ?? Number.NaN;
  rows.push(
    {
      name: "native floor, measured the same way: a C process waking on its own clock every round (clock_nanosleep); + 8 basic NVML calls a GPU on each wake (utilization, memory, temperature, power, energy, 2 clocks, clock event reasons: 24 a round)",
      value: `${beside("native-sleep")}; ${nativeRound.toFixed(0)} µs`,
    },
    {
      name: "marginal CPU per sample ÷ the native round (the C process's wake and 24 calls)",
      value: `${(agentUs / nativeRound).toFixed(1)}×`,
    },
  );
  return rows;
}

export interface MarginalCpu {
  /** From the threads' scheduler run time (nanoseconds). */
  readonly perSampleSeconds: number;
  /** The same from /proc/<pid>/stat (10 ms ticks, threads that ended included), as a check. */
  readonly perSampleTicksSeconds: number;
  /** Microseconds per extra sample, by thread name. */
  readonly perSampleByThread: ReadonlyMap<string, number>;
  readonly extraRounds: number;
}

async function gpuRuns(agent: AgentProcess): Promise<number> {
  return valueOf((await agent.scrape()).series, METRICS.collectorRuns.name, { collector: "gpu" }) ?? Number.NaN;
}

/** Two agents on the same scenario at 100 ms and 1 s; their CPU difference per extra round. */
export async function marginalCpu(library: string, seconds: number, warmupSeconds = 60): Promise<MarginalCpu> {
  const ticks = await clockTicksPerSecond();
  const file = await scenarioFile(THREE_GPUS);
  const common = ["--nvml-library", library, "--host-metrics", "false", "--pods", "false"];
  const fast = await startAgentProcess([...common, "--interval", "100ms"], { FAKE_NVML_SCENARIO: file.path });
  const slow = await startAgentProcess([...common, "--interval", "1s"], { FAKE_NVML_SCENARIO: file.path });
  try {
    for (const agent of [fast, slow])
      await scrapeUntil(agent, (s) => valueOf(s, METRICS.gpuUp.name, { gpu: "2" }) === 1, 15_000);
    // Past start-up: at 10 rounds a second V8 is still optimizing a round's functions after 30 s
    // (--trace-opt), a one-off cost that would be counted as the faster agent's.
    await sleep(warmupSeconds * 1000);
    const read = async (agent: AgentProcess) => {
      const pid = agent.child.pid as number;
      return {
        runs: await gpuRuns(agent),
        cpu: await runtimeSeconds(pid),
        ticks: await processCpuSeconds(pid, ticks),
        threads: await threadRuntimeSeconds(pid),
      };
    };
    const [fast0, slow0] = [await read(fast), await read(slow)];
    await sleep(seconds * 1000);
    const [fast1, slow1] = [await read(fast), await read(slow)];
    const extraRounds = fast1.runs - fast0.runs - (slow1.runs - slow0.runs);
    // Thread ids differ between the two processes: the main threads are compared, the others
    // ranked by CPU and compared rank by rank (the busiest other thread is the NVML worker's).
    const ranked = (delta: Map<string, number>) =>
      [...delta]
        .filter(([name]) => name !== "main")
        .map(([, s]) => s)
        .sort((a, b) => b - a);
    const fastThreads = threadDelta(fast0.threads, fast1.threads);
    const slowThreads = threadDelta(slow0.threads, slow1.threads);
    const perRound = (fastSeconds: number, slowSeconds: number) => ((fastSeconds - slowSeconds) / extraRounds) * 1e6;
    const byThread = new Map<string, number>([
      ["main thread", perRound(fastThreads.get("main") ?? 0, slowThreads.get("main") ?? 0)],
    ]);
    const [fastOthers, slowOthers] = [ranked(fastThreads), ranked(slowThreads)];
    fastOthers
      .slice(0, 3)
      .forEach((seconds, rank) => byThread.set(`thread #${rank + 1} by CPU`, perRound(seconds, slowOthers[rank] ?? 0)));
    byThread.set(
      "all threads but the main one",
      perRound(
        fastOthers.reduce((a, b) => a + b, 0),
        slowOthers.reduce((a, b) => a + b, 0),
      ),
    );
    return {
      perSampleSeconds: (fast1.cpu - fast0.cpu - (slow1.cpu - slow0.cpu)) / extraRounds,
      perSampleTicksSeconds: (fast1.ticks - fast0.ticks - (slow1.ticks - slow0.ticks)) / extraRounds,
      perSampleByThread: byThread,
      extraRounds,
    };
  } finally {
    await Promise.all([fast.stop(), slow.stop()]);
  }
}

/**
 * The koffi floor: a round's NVML calls — the same functions with the same arguments, recorded
 * from one batch of the reader's rounds as the agent takes them at 100 ms (a slow round and nine
 * others, 100 ms apart so that GPM samples too) — made straight through koffi without the reader
 * around them, per round; also the same number of calls to a C function that does nothing, and the
 * reader's own rounds back to back. CPU µs per round.
 */
export async function koffiFloor(
  library: string,
): Promise<{ calls: number; floorUs: number; noopUs: number; readerUs: number }> {
  const file = await scenarioFile(THREE_GPUS);
  const previous = process.env["FAKE_NVML_SCENARIO"];
  process.env["FAKE_NVML_SCENARIO"] = file.path;
  const recorder = recordingLibrary(loadNvmlLibrary(library));
  const reader = new NvmlReader(recorder.lib, { maxBackoffMs: 60_000 });
  const batch = roundsPerBatch(100);
  try {
    reader.open();
    for (let i = 0; i < 500; i++) reader.sample({ isSlowRound: i % batch === 0 });
    recorder.setRecording(true);
    for (let i = 0; i < batch; i++) {
      await sleep(100);
      reader.sample({ isSlowRound: i === 0 });
    }
    recorder.setRecording(false);
    const recorded = recorder.calls;
    const calls = recorded.length / batch;
    const batches = 500;
    const cpuPerRound = (fn: () => void): number => {
      for (let i = 0; i < 50; i++) fn();
      const before = process.cpuUsage();
      for (let i = 0; i < batches; i++) fn();
      const spent = process.cpuUsage(before);
      return (spent.user + spent.system) / batches / batch;
    };
    const floorUs = cpuPerRound(() => {
      for (const [native, args] of recorded) native(...args);
    });
    const noop = koffi.load(library).func("int fake_nvml_noop(void)") as () => number;
    const noopUs = cpuPerRound(() => {
      for (let c = 0; c < recorded.length; c++) noop();
    });
    const readerUs = cpuPerRound(() => {
      for (let i = 0; i < batch; i++) reader.sample({ isSlowRound: i === 0 });
    });
    return { calls, floorUs, noopUs, readerUs };
  } finally {
    reader.close();
    if (previous === undefined) delete process.env["FAKE_NVML_SCENARIO"];
    else process.env["FAKE_NVML_SCENARIO"] = previous;
  }
}

/** A probe of the ladder: a rung of round-cost-probe.ts or `native-<mode>` of native-round-probe.c. */
type LadderKey = Rung | `native-${NativeProbe}`;
/** CPU µs per extra round, by probe. */
type Ladder = Map<LadderKey, number>;

/** A running probe and how to ask it for its rounds. */
interface Probe {
  readonly child: ChildProcess;
  rounds(): Promise<number>;
}

/** The native probes (native-round-probe.c): a C process's wake, and its wake with basic NVML calls. */
const NATIVE_PROBES = ["sleep", "calls"] as const;
type NativeProbe = (typeof NATIVE_PROBES)[number];

/** What a ladder probe is: a rung of round-cost-probe.ts, or the native program's mode. */
type ProbeKind = { readonly rung: Rung } | { readonly native: NativeProbe; readonly program: string };

function startProbe(kind: ProbeKind, intervalMs: number, library: string, scenario: string): Probe {
  const [command, args] =
    "rung" in kind
      ? [process.execPath, [fileURLToPath(new URL("./round-cost-probe.js", import.meta.url)), kind.rung]]
      : [kind.program, [kind.native]];
  const child = spawn(command, [...args, String(intervalMs), library], {
    env: { PATH: process.env["PATH"] ?? "", FAKE_NVML_SCENARIO: scenario },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines: ((line: string) => void)[] = [];
  let buffered = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    buffered += chunk;
    for (let at = buffered.indexOf("\n"); at >= 0; at = buffered.indexOf("\n")) {
      lines.shift()?.(buffered.slice(0, at));
      buffered = buffered.slice(at + 1);
    }
  });
  return {
    child,
    // A probe that died or does not answer within 5 s gives NaN rather than holding the benchmark.
    rounds: () =>
      new Promise((resolve) => {
        const timer = setTimeout(() => resolve(Number.NaN), 5_000);
        lines.push((line) => {
          clearTimeout(timer);
          // The native probe adds its successful calls after the rounds.
          resolve(Number(line.split(" ")[0]));
        });
        child.kill("SIGUSR2");
      }),
  };
}

/**
 * The round-cost ladder: each rung (round-cost-probe.ts) as two processes at 100 ms and 1 s, all
 * at once over the same `seconds`, and the marginal CPU per round of each, like the agent's. The
 * step between two rungs is what that part of a round costs the whole process.
 */
export async function roundCostLadder(library: string, seconds: number, warmupSeconds = 60): Promise<Ladder> {
  const file = await scenarioFile(THREE_GPUS);
  const program = await buildCProgram("test/bench/native-round-probe.c");
  const kinds: { key: LadderKey; kind: ProbeKind }[] = [
    ...PROBES.map((rung) => ({ key: rung, kind: { rung } })),
    ...NATIVE_PROBES.map((native) => ({ key: `native-${native}` as const, kind: { native, program } })),
  ];
  const probes = kinds.map(({ key, kind }) => ({
    key,
    fast: startProbe(kind, 100, library, file.path),
    slow: startProbe(kind, 1000, library, file.path),
  }));
  try {
    await sleep(warmupSeconds * 1000);
    // Scheduler run time rather than /proc/<pid>/stat ticks: the native probes use a few
    // milliseconds a run, under one 10 ms tick.
    const read = async (probe: Probe) => ({
      rounds: await probe.rounds(),
      cpu: await runtimeSeconds(probe.child.pid as number),
    });
    const before = await Promise.all(probes.map(async (p) => ({ fast: await read(p.fast), slow: await read(p.slow) })));
    await sleep(seconds * 1000);
    const after = await Promise.all(probes.map(async (p) => ({ fast: await read(p.fast), slow: await read(p.slow) })));
    const perRound: Ladder = new Map();
    probes.forEach((probe, i) => {
      const [b, a] = [before[i], after[i]];
      if (!b || !a) return;
      const extra = a.fast.rounds - b.fast.rounds - (a.slow.rounds - b.slow.rounds);
      perRound.set(probe.key, ((a.fast.cpu - b.fast.cpu - (a.slow.cpu - b.slow.cpu)) / extra) * 1e6);
    });
    return perRound;
  } finally {
    for (const probe of probes) for (const p of [probe.fast, probe.slow]) p.child.kill("SIGTERM");
  }
}

interface LoadedRun {
  readonly eventLoopMaxSeconds: number;
  readonly healthzMaxMs: number;
  readonly healthzP99Ms: number;
  readonly controlMaxSeconds: number;
  readonly cpuShare: number;
  readonly rssEndMiB: number;
  readonly rssPeakMiB: number;
  readonly anonEndMiB: number;
}

/** Pods holding every GPU of the 8-GPU scenario, each process in its pod's cgroup. */
async function fakeCluster(
  dir: string,
): Promise<{ kubelet: FakeKubelet; api: FakeKubeApi; apiUrl: string; procRoot: string }> {
  const scenario = eightGpuScenario();
  const kubelet = new FakeKubelet(join(dir, "kubelet.sock"));
  const api = new FakeKubeApi();
  const procRoot = join(dir, "proc");
  kubelet.pods = [];
  api.items = [];
  for (const [i, settings] of scenario.gpus.entries()) {
    const uid = `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;
    const container = String(i).repeat(64).slice(0, 64);
    kubelet.pods.push(kubeletPod("llm", `vllm-${i}`, "vllm", { "nvidia.com/gpu": [String(settings["uuid"])] }));
    api.items.push(
      apiPod("llm", `vllm-${i}`, uid, {
        labels: { "inferwatch.io/model": `model-${i % 3}` },
        containers: { vllm: container },
      }),
    );
    for (const [pid] of settings.procs ?? []) {
      await mkdir(join(procRoot, String(pid)), { recursive: true });
      await writeFile(
        join(procRoot, String(pid), "cgroup"),
        `0::/kubepods.slice/kubepods-pod${uid.replaceAll("-", "_")}.slice/cri-containerd-${container}.scope\n`,
      );
    }
  }
  await kubelet.start();
  return { kubelet, api, apiUrl: await api.start(), procRoot };
}

/** One agent under the issue's load for `minutes`; event-loop delay, /healthz latency, CPU and RSS. */
export async function underLoad(library: string, options: FootprintOptions): Promise<LoadedRun> {
  const ticks = await clockTicksPerSecond();
  const dir = await mkdtemp(join(tmpdir(), "inferwatch-footprint-"));
  const cluster = await fakeCluster(dir);
  const file = await scenarioFile(eightGpuScenario());
  const agent = await startAgentProcess(
    [
      "--nvml-library",
      library,
      "--interval",
      "1s",
      "--pod-resources-socket",
      cluster.kubelet.socketPath,
      "--proc-root",
      cluster.procRoot,
      "--kube-api-url",
      cluster.apiUrl,
    ],
    { FAKE_NVML_SCENARIO: file.path },
  );
  const pid = agent.child.pid as number;
  const http = new HttpAgent({ keepAlive: true, maxSockets: 4 });
  const control = monitorEventLoopDelay({ resolution: 10 });
  const healthz: number[] = [];
  let eventLoopMaxSeconds = 0;
  let rssPeakMiB = 0;
  try {
    await scrapeUntil(
      agent,
      (s) => valueOf(s, METRICS.hostMemoryTotal.name) !== undefined && valueOf(s, METRICS.podResourcesUp.name) === 1,
      30_000,
    );
    const otlp = agent.otlpHttp ?? "";
    const ticksPerSecond = 10;
    const body = encodeSpanBatch(Math.max(1, Math.round(options.spansPerSecond / ticksPerSecond)));
    const started = Date.now();
    const cpu0 = await processCpuSeconds(pid, ticks);
    control.enable();
    let sent = 0;
    const sender = setInterval(() => {
      const due = Math.floor(((Date.now() - started) / 1000) * ticksPerSecond) - sent;
      for (let i = 0; i < due; i++, sent++) void postSpans(http, otlp, body);
    }, 1000 / ticksPerSecond);
    let isPolling = true;
    const poller = (async () => {
      while (isPolling) {
        const t0 = performance.now();
        await fetch(`${agent.url}/healthz`)
          .then((response) => response.arrayBuffer())
          .catch(() => undefined);
        healthz.push(performance.now() - t0);
        await sleep(20);
      }
    })();
    try {
      while (Date.now() - started < options.minutes * 60_000) {
        await sleep(10_000);
        const series = (await agent.scrape()).series;
        eventLoopMaxSeconds = Math.max(eventLoopMaxSeconds, valueOf(series, METRICS.eventLoopDelayMax.name) ?? 0);
        rssPeakMiB = Math.max(rssPeakMiB, await rssMiB(pid));
      }
    } finally {
      clearInterval(sender);
      isPolling = false;
      await poller;
    }
    const cpuShare = ((await processCpuSeconds(pid, ticks)) - cpu0) / ((Date.now() - started) / 1000);
    const resident = await residentMiB(pid);
    const rssEndMiB = resident.rss;
    const sorted = [...healthz].sort((a, b) => a - b);
    return {
      eventLoopMaxSeconds,
      controlMaxSeconds: control.max / 1e9,
      cpuShare,
      rssEndMiB,
      rssPeakMiB: Math.max(rssPeakMiB, rssEndMiB),
      anonEndMiB: resident.anon,
      healthzMaxMs: sorted.at(-1) ?? Number.NaN,
      healthzP99Ms: sorted[Math.floor(sorted.length * 0.99)] ?? Number.NaN,
    };
  } finally {
    control.disable();
    http.destroy();
    await agent.stop();
    await cluster.kubelet.stop();
    await cluster.api.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
