/**
 * A synthetic month whose every report figure is known by construction (shared by the report-model
 * test and the Prometheus one): two pools, a flat pool with a lunchtime bump and a pool whose
 * utilization grows by 1 % a day, one 7B model with a known request rate, a known token burst and a
 * known share of slow requests, and its runtime's KV cache, prefix cache and preemptions (see
 * {@link KNOWN_RUNTIME}). Every sample time is a multiple of 5 minutes.
 */
import { METRICS } from "../../../common/conventions.js";

/** Receives one sample. */
export type KnownSink = (name: string, labels: Readonly<Record<string, string>>, value: number, atMs: number) => void;

export const DAY = 86_400_000;
export const STEP = 5 * 60_000;
export const D0 = Date.UTC(2026, 9, 1);
export const DAYS = 28;
export const AT = D0 + DAYS * DAY;
export const GIB = 1024 ** 3;
/** The token burst: one step on day 10 at 15:00 UTC with 3,000 prompt tokens instead of 1,000. */
export const BURST = D0 + 10 * DAY + 15 * 3_600_000;

const gpus = [
  { node: "n1", gpu: "0", uuid: "GPU-a0", gpu_model: "Test A" },
  { node: "n1", gpu: "1", uuid: "GPU-a1", gpu_model: "Test A" },
  { node: "n2", gpu: "0", uuid: "GPU-b0", gpu_model: "Test B" },
];
const pod = { namespace: "inference", pod: "llama-7b-0", container: "vllm", model: "llama-7b" };
const llm = {
  model: "llama-7b",
  runtime: "vllm",
  namespace: "inference",
  pod: "llama-7b-0",
  node: "n1",
  tier: "latency",
};

/**
 * The runtime gauges of llama-7b: KV-cache usage 0.3, and 0.9 from 12:00 to 12:59 UTC; per 5-minute
 * step after the first, 1,000 prefix-cache query tokens with 200 hits (600 from 12:00 to 12:59 UTC)
 * and, from 12:00 to 12:59 UTC, one preemption. The runtime restarts at day 14, 00:00 UTC: its
 * preemption counter starts again from 0 there (increase() counts across the reset; last − first
 * would not).
 */
export const KNOWN_RUNTIME = {
  kvBase: 0.3,
  kvNoon: 0.9,
  queriesPerStep: 1000,
  hitsPerStep: 200,
  hitsPerNoonStep: 600,
  restartMs: D0 + 14 * DAY,
} as const;

const isNoon = (t: number) => new Date(t).getUTCHours() === 12;

/** Utilization by GPU at `t`: a0 0.5 always; a1 0.25 from 12:00 to 12:59 UTC; b0 0.105 + 0.01 × day. */
function utilization(uuid: string, t: number): number {
  if (uuid === "GPU-a0") return 0.5;
  if (uuid === "GPU-a1") return new Date(t).getUTCHours() === 12 ? 0.25 : 0;
  return 0.105 + 0.01 * Math.floor((t - D0) / DAY);
}

/** Writes the month, in time order, into `sink`; without identity, no `inferwatch_gpu_info`. */
export function writeKnownHistory(
  sink: KnownSink,
  options: { readonly withIdentity: boolean } = { withIdentity: true },
): void {
  let okRequests = 0;
  let prompt = 0;
  let completion = 0;
  let queries = 0;
  let hits = 0;
  let preemptions = 0;
  for (let t = D0, step = 0; t <= AT; t += STEP, step++) {
    for (const g of gpus) {
      if (options.withIdentity)
        sink(METRICS.gpuInfo.name, { ...g, driver_version: "1", pci_bus_id: "0", source: "test" }, 1, t);
      sink(METRICS.utilization.name, g, utilization(g.uuid, t), t);
      sink(METRICS.memoryTotal.name, g, 80 * GIB, t);
      sink(METRICS.memoryUsed.name, g, g.uuid === "GPU-a0" ? 20 * GIB : 0, t);
    }
    sink(METRICS.gpuPodInfo.name, { ...(gpus[0] as (typeof gpus)[number]), ...pod }, 1, t);
    if (step > 0) {
      okRequests += 10;
      prompt += t === BURST ? 3000 : 1000;
      completion += 300;
      queries += KNOWN_RUNTIME.queriesPerStep;
      hits += isNoon(t) ? KNOWN_RUNTIME.hitsPerNoonStep : KNOWN_RUNTIME.hitsPerStep;
      if (t === KNOWN_RUNTIME.restartMs) preemptions = 0;
      else if (isNoon(t)) preemptions += 1;
    }
    sink(METRICS.llmKvCacheUsage.name, llm, isNoon(t) ? KNOWN_RUNTIME.kvNoon : KNOWN_RUNTIME.kvBase, t);
    sink(METRICS.llmPrefixCacheQueries.name, llm, queries, t);
    sink(METRICS.llmPrefixCacheHits.name, llm, hits, t);
    sink(METRICS.llmPreemptions.name, llm, preemptions, t);
    sink(METRICS.llmRequests.name, { ...llm, status: "ok" }, okRequests, t);
    sink(METRICS.llmRequests.name, { ...llm, status: "error" }, 0, t);
    sink(METRICS.llmTokens.name, { ...llm, type: "prompt" }, prompt, t);
    sink(METRICS.llmTokens.name, { ...llm, type: "completion" }, completion, t);
    // 90 % of requests under the 1.2 s threshold.
    sink(`${METRICS.llmRequestDuration.name}_bucket`, { ...llm, le: "1.2" }, okRequests * 0.9, t);
    sink(`${METRICS.llmRequestDuration.name}_bucket`, { ...llm, le: "+Inf" }, okRequests, t);
    sink(`${METRICS.llmRequestDuration.name}_count`, llm, okRequests, t);
    sink(METRICS.llmLastRequest.name, llm, t / 1000, t);
  }
}

/** The pools of the known history. */
export const KNOWN_POOLS = [
  { name: "a", nodes: "^n1$" },
  { name: "b", nodes: "^n2$" },
];
