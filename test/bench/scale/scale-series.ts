/**
 * The agents' series of the scale fleet as OpenMetrics sample lines, for one time chunk at a time
 * (promtool reads each chunk into one block). Written: every family the analyzer reads, with the
 * agents' labels (GPU series carry the holder's pod labels, so a rollout starts new series), over
 * the history each is read for — sampled every minute where recent data is read, every 5 minutes
 * further back (a real Prometheus would hold 15 s to 1 min samples everywhere: the benchmark's raw
 * queries read less than a real store's would; see docs/analyzer.md):
 *
 * - 7 days: requests by status, the latency histogram's buckets at the SLO thresholds and its
 *   count, last-request time (1-minute samples in the last 2 hours, 5-minute before);
 * - 1 day: GPU utilization (1-minute);
 * - 70 minutes, every 5 minutes: everything read "now" or over the last hour — the other latency
 *   buckets, the queue, prefill and decode histograms, tokens, KV cache, queue depth, preemptions,
 *   the GPU inventory, memory, health, NVLink links, pod assignments, energy (the analyzer evaluates
 *   at multiples of 5 minutes here, so "now" always has a fresh sample);
 * - the recordings of `inferwatch rules` (alerts/recording-rules.ts) as a Prometheus running them
 *   would hold them: per-model 5-minute increases every 5 minutes, 7 days for the SLO families, 70
 *   minutes for the phase histograms. Their values are computed from the same traffic functions.
 *
 * Families the analyzer never reads (temperatures, clocks, power) are left out: a query selects by
 * metric name, so they would cost Prometheus index space, not query time.
 */
import { increaseRuleName, METRICS } from "../../../common/conventions.js";
import {
  DAY_MS,
  END_MS,
  generationAt,
  HISTORY_DAYS,
  HOUR_MS,
  MINUTE_MS,
  podName,
  requestsBetween,
  slowBetween,
  trafficEndMs,
  utilizationAt,
  type ScaleFleet,
  type ScaleGpu,
  type ScaleReplica,
} from "./scale-fleet.js";

const LONG_FROM_MS = END_MS - HISTORY_DAYS * DAY_MS;
const FINE_FROM_MS = END_MS - 2 * HOUR_MS;
const RECENT_FROM_MS = END_MS - 70 * MINUTE_MS;
const UTIL_FROM_MS = END_MS - DAY_MS - 10 * MINUTE_MS;
const STEP_5M = 5 * MINUTE_MS;
/** The agent's latency bucket bounds with the SLO thresholds 1.2 s, 2 s, 4 s (agent/processors/llm-series-store.ts bucketsWithThresholds). */
const LES = [
  "0.05",
  "0.1",
  "0.25",
  "0.5",
  "0.75",
  "1",
  "1.2",
  "1.5",
  "2",
  "2.5",
  "3",
  "4",
  "5",
  "7.5",
  "10",
  "15",
  "20",
  "30",
  "60",
  "120",
  "+Inf",
] as const;
const THRESHOLD_LES = ["1.2", "2", "4"] as const;
const PHASES = [
  { metric: METRICS.llmQueueDuration.name, scale: 0.15 },
  { metric: METRICS.llmPrefillDuration.name, scale: 0.25 },
  { metric: METRICS.llmDecodeDuration.name, scale: 0.6 },
] as const;

/** Appends sample lines; `flush` hands full buffers to the file. */
export interface LineSink {
  line(text: string): void;
}

/** Sample times of a schedule inside [fromMs, toMs). */
function* times(
  kind: "long" | "recent" | "util" | "recorded-long" | "recorded-recent",
  fromMs: number,
  toMs: number,
): Generator<number> {
  const start =
    kind === "long"
      ? LONG_FROM_MS
      : kind === "recent" || kind === "recorded-recent"
        ? RECENT_FROM_MS
        : kind === "util"
          ? UTIL_FROM_MS
          : LONG_FROM_MS + STEP_5M;
  const isCoarse = (t: number) =>
    kind === "recorded-long" ||
    kind === "recorded-recent" ||
    kind === "recent" ||
    (kind === "long" && t < FINE_FROM_MS);
  for (let t = start; t <= END_MS; t += isCoarse(t) ? STEP_5M : MINUTE_MS) {
    if (t >= fromMs && t < toMs) yield t;
  }
}

/** Cumulative count of requests at or under each latency bound, interpolated between the SLO thresholds. */
function bucketCounts(total: number, slow: readonly [number, number, number]): number[] {
  const anchors: [number, number][] = [
    [0, 0],
    [1.2, total - slow[0]],
    [2, total - slow[1]],
    [4, total - slow[2]],
    [120, total],
  ];
  return LES.map((le) => {
    if (le === "+Inf") return Math.floor(total);
    const x = Number(le);
    for (let i = 1; i < anchors.length; i++) {
      const [x0, y0] = anchors[i - 1] as [number, number];
      const [x1, y1] = anchors[i] as [number, number];
      if (x <= x1) return Math.floor(y0 + ((y1 - y0) * (x - x0)) / (x1 - x0));
    }
    return Math.floor(total);
  });
}

/** Share of requests whose phase took at most `le` seconds. */
function phaseShare(le: string, scale: number): number {
  return le === "+Inf" ? 1 : 1 - Math.exp(-Number(le) / scale);
}

function labelText(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([name, value]) => `${name}="${value}"`)
    .join(",");
}

/** The generations of a replica's pod that overlap [fromMs, toMs). */
function generations(
  replica: ScaleReplica,
  fromMs: number,
  toMs: number,
): { generation: number; startMs: number; endMs: number }[] {
  const result: { generation: number; startMs: number; endMs: number }[] = [];
  let at = fromMs;
  while (at < toMs) {
    const { generation, startMs } = generationAt(replica, at);
    const next = generationAt(replica, Number.isFinite(startMs) ? startMs + 2 * DAY_MS : Infinity);
    const endMs = Number.isFinite(next.startMs) ? next.startMs : Infinity;
    result.push({ generation, startMs, endMs });
    at = endMs;
  }
  return result;
}

function llmLabels(replica: ScaleReplica, pod: string): string {
  return labelText({
    model: replica.model.name,
    runtime: "vllm",
    namespace: "llm-serving",
    pod,
    node: replica.node.name,
    tier: replica.tier,
  });
}

/** Every series of one replica in [fromMs, toMs). */
function writeReplica(sink: LineSink, replica: ScaleReplica, fromMs: number, toMs: number): void {
  for (const gen of generations(replica, fromMs, toMs)) {
    const pod = podName(replica, gen.generation);
    const labels = llmLabels(replica, pod);
    const since = Math.max(gen.startMs, LONG_FROM_MS - DAY_MS);
    const inGen = (t: number) => t >= gen.startMs && t < gen.endMs;
    const requests = METRICS.llmRequests.name;
    const bucket = `${METRICS.llmRequestDuration.name}_bucket`;
    const count = `${METRICS.llmRequestDuration.name}_count`;
    for (const t of times("long", fromMs, toMs)) {
      if (!inGen(t)) continue;
      const n = requestsBetween(replica, since, t);
      if (n < 1) continue;
      const errors = n * replica.model.errorShare;
      const counts = bucketCounts(n, slowBetween(replica, since, t));
      sink.line(`${requests}{${labels},status="ok"} ${Math.floor(n - errors)} ${t / 1000}`);
      sink.line(`${requests}{${labels},status="error"} ${Math.floor(errors)} ${t / 1000}`);
      for (const le of THRESHOLD_LES)
        sink.line(`${bucket}{${labels},le="${le}"} ${counts[LES.indexOf(le)] as number} ${t / 1000}`);
      sink.line(`${count}{${labels}} ${Math.floor(n)} ${t / 1000}`);
      sink.line(
        `${METRICS.llmLastRequest.name}{${labels}} ${Math.floor(Math.min(t, trafficEndMs(replica)) / 1000)} ${t / 1000}`,
      );
    }
    for (const t of times("recent", fromMs, toMs)) {
      if (!inGen(t)) continue;
      const n = requestsBetween(replica, since, t);
      if (n < 1) continue;
      const counts = bucketCounts(n, slowBetween(replica, since, t));
      LES.forEach((le, i) => {
        if (!(THRESHOLD_LES as readonly string[]).includes(le))
          sink.line(`${bucket}{${labels},le="${le}"} ${counts[i] as number} ${t / 1000}`);
      });
      for (const phase of PHASES)
        for (const le of LES)
          sink.line(
            `${phase.metric}_bucket{${labels},le="${le}"} ${Math.floor(n * phaseShare(le, phase.scale))} ${t / 1000}`,
          );
      sink.line(`${METRICS.llmTokens.name}{${labels},type="prompt"} ${Math.floor(n * 480)} ${t / 1000}`);
      sink.line(`${METRICS.llmTokens.name}{${labels},type="completion"} ${Math.floor(n * 190)} ${t / 1000}`);
      const busy = t < trafficEndMs(replica);
      sink.line(
        `${METRICS.llmQueueDepth.name}{${labels}} ${busy ? (replica.id + Math.floor(t / MINUTE_MS)) % 4 : 0} ${t / 1000}`,
      );
      sink.line(
        `${METRICS.llmKvCacheUsage.name}{${labels}} ${busy ? 0.4 + ((replica.id * 7 + Math.floor(t / MINUTE_MS)) % 50) / 100 : 0} ${t / 1000}`,
      );
      sink.line(`${METRICS.llmPreemptions.name}{${labels}} ${Math.floor(n / 1000)} ${t / 1000}`);
    }
  }
}

/** Every series of one GPU in [fromMs, toMs); `holder` is the replica on it, if any. */
function writeGpu(
  sink: LineSink,
  node: string,
  gpu: ScaleGpu,
  holder: ScaleReplica | undefined,
  fromMs: number,
  toMs: number,
): void {
  const gpuLabels = labelText({ node, gpu: String(gpu.index), uuid: gpu.uuid, gpu_model: gpu.model });
  const podOf = (t: number): string => {
    if (holder === undefined) return "";
    const pod = podName(holder, generationAt(holder, t).generation);
    return `,namespace="llm-serving",pod="${pod}",container="vllm",model="${holder.model.name}"`;
  };
  const gpuKey = gpu.uuid.charCodeAt(5) * 131 + gpu.index;
  for (const t of times("util", fromMs, toMs))
    sink.line(`${METRICS.utilization.name}{${gpuLabels}${podOf(t)}} ${utilizationAt(holder, gpuKey, t)} ${t / 1000}`);
  for (const t of times("recent", fromMs, toMs)) {
    const ts = t / 1000;
    const pod = podOf(t);
    sink.line(
      `${METRICS.gpuInfo.name}{${gpuLabels},driver_version="550.90.07",pci_bus_id="00000000:${(0x18 + gpu.index * 8).toString(16).toUpperCase()}:00.0",source="nvml"} 1 ${ts}`,
    );
    sink.line(`${METRICS.gpuUp.name}{${gpuLabels}} 1 ${ts}`);
    sink.line(`${METRICS.memoryTotal.name}{${gpuLabels}${pod}} ${gpu.memoryBytes} ${ts}`);
    sink.line(
      `${METRICS.memoryUsed.name}{${gpuLabels}${pod}} ${holder === undefined ? 536_870_912 : Math.floor(gpu.memoryBytes * 0.9)} ${ts}`,
    );
    sink.line(`${METRICS.remapFailure.name}{${gpuLabels}${pod}} 0 ${ts}`);
    if (holder !== undefined) sink.line(`${METRICS.gpuPodInfo.name}{${gpuLabels}${pod}} 1 ${ts}`);
    sink.line(
      `${METRICS.energy.name}{${gpuLabels}} ${Math.floor(((t - (END_MS - DAY_MS)) / 1000) * (80 + 500 * utilizationAt(holder, gpuKey, t)))} ${ts}`,
    );
    for (let link = 0; link < gpu.nvlinks; link++)
      sink.line(`${METRICS.nvlinkUp.name}{${gpuLabels},link="${link}"} 1 ${ts}`);
  }
}

/** Per-model recorded 5-minute increases in [fromMs, toMs), as `inferwatch rules` would have recorded them. */
function writeRecorded(sink: LineSink, fleet: ScaleFleet, fromMs: number, toMs: number): void {
  const byModel = new Map<string, ScaleReplica[]>();
  for (const replica of fleet.replicas)
    byModel.set(replica.model.name, [...(byModel.get(replica.model.name) ?? []), replica]);
  const bucketRule = increaseRuleName(`${METRICS.llmRequestDuration.name}_bucket`, ["model", "le"]);
  const countRule = increaseRuleName(`${METRICS.llmRequestDuration.name}_count`, ["model"]);
  const requestsRule = increaseRuleName(METRICS.llmRequests.name, ["model", "status"]);
  for (const [model, replicas] of byModel) {
    const increase = (t: number) => {
      let n = 0;
      const slow = [0, 0, 0];
      for (const r of replicas) {
        n += requestsBetween(r, t - STEP_5M, t);
        slowBetween(r, t - STEP_5M, t).forEach((s, i) => (slow[i] = (slow[i] as number) + s));
      }
      return { n, slow };
    };
    for (const t of times("recorded-long", fromMs, toMs)) {
      const { n, slow } = increase(t);
      const errors = n * (replicas[0] as ScaleReplica).model.errorShare;
      THRESHOLD_LES.forEach((le, i) =>
        sink.line(`${bucketRule}{model="${model}",le="${le}"} ${n - (slow[i] as number)} ${t / 1000}`),
      );
      sink.line(`${countRule}{model="${model}"} ${n} ${t / 1000}`);
      sink.line(`${requestsRule}{model="${model}",status="ok"} ${n - errors} ${t / 1000}`);
      sink.line(`${requestsRule}{model="${model}",status="error"} ${errors} ${t / 1000}`);
    }
    for (const t of times("recorded-recent", fromMs, toMs)) {
      const { n } = increase(t);
      for (const phase of PHASES) {
        const rule = increaseRuleName(`${phase.metric}_bucket`, ["model", "le"]);
        for (const le of LES)
          sink.line(`${rule}{model="${model}",le="${le}"} ${n * phaseShare(le, phase.scale)} ${t / 1000}`);
      }
    }
  }
}

/** Every sample line of the fleet with a time in [fromMs, toMs). */
export function writeChunk(sink: LineSink, fleet: ScaleFleet, fromMs: number, toMs: number): void {
  const holderOf = new Map<string, ScaleReplica>();
  for (const replica of fleet.replicas) for (const gpu of replica.gpus) holderOf.set(gpu.uuid, replica);
  for (const replica of fleet.replicas) writeReplica(sink, replica, fromMs, toMs);
  for (const node of fleet.nodes)
    for (const gpu of node.gpus) writeGpu(sink, node.name, gpu, holderOf.get(gpu.uuid), fromMs, toMs);
  writeRecorded(sink, fleet, fromMs, toMs);
}

/** The history's time range: [first sample, last sample]. */
export const HISTORY = { fromMs: LONG_FROM_MS, toMs: END_MS } as const;
