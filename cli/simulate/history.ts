/**
 * A month of the simulated fleet's history in seconds: the series the agents would have exported,
 * step by step, handed to a sink (the memory store's `ingest`, an OpenMetrics writer for a
 * Prometheus backfill). Counters start at 0 at the first step and are cumulative; request counts
 * are the exact integral of the scenario's rates (floored), so a test can compute them by hand;
 * latency buckets follow the fleet model's distributions, incidents included. Also the fleet
 * snapshot of the scenario at an instant, for the recommendations.
 */
import { FLEET_SNAPSHOT_VERSION, type FleetSnapshot } from "../../analyzer/fleet/snapshot.js";
import { bucketsWithThresholds } from "../../agent/processors/llm-series-store.js";
import { spansConfigSchema, type SpansConfig } from "../../common/config/schema.js";
import { METRICS } from "../../common/conventions.js";
import {
  compileFleet,
  expectedRequests,
  gpuEnergyJoules,
  gpuStateAt,
  incidentWindows,
  replicaLoadAt,
  replicaRateAt,
  type Fleet,
  type SimGpu,
  type SimReplica,
} from "./fleet-model.js";
import { DAY_MS } from "../../common/units.js";
import type { Scenario } from "./scenario.js";
import { SIMULATED_DRIVER_VERSION } from "./simulated-nvml-client.js";
import { LATENCY_KINDS, LatencyTables, type LatencyKind } from "./latency-tables.js";

/** Receives one sample. Label objects are frozen and reused from step to step: keep them, never change them. */
export type MetricSink = (name: string, labels: Readonly<Record<string, string>>, value: number, atMs: number) => void;

/** Options for {@link writeHistory}. */
export interface HistoryOptions {
  /** The last step's instant, Unix ms. */
  readonly endMs: number;
  /** Days of history before `endMs`. Default 30. */
  readonly days?: number;
  /** Step between samples. Default 5 minutes. */
  readonly stepMs?: number;
  /** Anchor of the incident schedule. Default `endMs`: a live simulation started then continues the same schedule. */
  readonly originMs?: number;
  /** Bucket bounds and SLO thresholds, as the agent's `spans` settings. Default: the agent's defaults. */
  readonly spans?: Pick<SpansConfig, "buckets" | "sloThresholds">;
  /** Requests drawn per latency table (one per model, load level and incident state). Default 2,000. */
  readonly samplesPerTable?: number;
}

/** What {@link writeHistory} wrote. */
export interface HistoryStats {
  readonly steps: number;
  readonly samples: number;
  /** Requests per model over the whole history. */
  readonly requests: Readonly<Record<string, number>>;
}

const HISTOGRAM_NAMES: Record<LatencyKind, string> = {
  e2e: METRICS.llmRequestDuration.name,
  queue: METRICS.llmQueueDuration.name,
  prefill: METRICS.llmPrefillDuration.name,
  decode: METRICS.llmDecodeDuration.name,
  ttft: METRICS.llmTimeToFirstToken.name,
};

type Labels = Readonly<Record<string, string>>;

/** Label values of a GPU series, with its holder's pod labels when exactly one replica holds it (as the agent does). */
function gpuLabels(gpu: SimGpu, withHolder: boolean): Labels {
  const labels: Record<string, string> = {
    node: gpu.node,
    gpu: String(gpu.index),
    uuid: gpu.uuid,
    gpu_model: gpu.type.name,
  };
  const holder = gpu.replicas.length === 1 ? gpu.replicas[0] : undefined;
  return Object.freeze(withHolder && holder ? { ...labels, ...podLabels(holder) } : labels);
}

function podLabels(replica: SimReplica): Labels {
  return { namespace: replica.namespace, pod: replica.pod, container: replica.container, model: replica.model.name };
}

/** One replica's cumulative LLM series and their label objects. */
interface ReplicaSeries {
  readonly replica: SimReplica;
  readonly labels: Labels;
  readonly okLabels: Labels;
  readonly errorLabels: Labels;
  readonly promptLabels: Labels;
  readonly completionLabels: Labels;
  /** Per kind, per slot: the bucket's label object. */
  readonly bucketLabels: readonly (readonly Labels[])[];
  /** Per kind, per slot: Σ over steps of requests × cumulative share (the bucket's exact expected count). */
  readonly buckets: readonly Float64Array[];
  readonly sums: number[];
  count: number;
  prompt: number;
  completion: number;
  lastRequestSeconds: number;
}

function replicaSeries(replica: SimReplica, bounds: readonly number[]): ReplicaSeries {
  const labels = {
    model: replica.model.name,
    runtime: "vllm",
    namespace: replica.namespace,
    pod: replica.pod,
    node: replica.node,
    tier: replica.model.tier,
  };
  const les = [...bounds.map(String), "+Inf"];
  return {
    replica,
    labels: Object.freeze(labels),
    okLabels: Object.freeze({ ...labels, status: "ok" }),
    errorLabels: Object.freeze({ ...labels, status: "error" }),
    promptLabels: Object.freeze({ ...labels, type: "prompt" }),
    completionLabels: Object.freeze({ ...labels, type: "completion" }),
    bucketLabels: LATENCY_KINDS.map(() => les.map((le) => Object.freeze({ ...labels, le }))),
    buckets: LATENCY_KINDS.map(() => new Float64Array(les.length)),
    sums: LATENCY_KINDS.map(() => 0),
    count: 0,
    prompt: 0,
    completion: 0,
    lastRequestSeconds: 0,
  };
}

type Window = { readonly startMs: number; readonly endMs: number };

/** Share of each step inside the incident windows; steps must be asked for in time order. */
function incidentShares(windows: readonly Window[]): (fromMs: number, toMs: number) => number {
  let first = 0;
  return (fromMs, toMs) => {
    while (first < windows.length && (windows[first] as Window).endMs <= fromMs) first++;
    let inside = 0;
    for (let i = first; i < windows.length && (windows[i] as Window).startMs < toMs; i++) {
      const w = windows[i] as Window;
      inside += Math.min(toMs, w.endMs) - Math.max(fromMs, w.startMs);
    }
    return inside / (toMs - fromMs);
  };
}

/**
 * Writes `days` of history ending exactly at `endMs`, one sample per series every `stepMs`, in time
 * order: GPU utilization, memory used and total, power, temperature, energy, identity and holders
 * (`inferwatch_gpu_pod_info`, one series per replica on the GPU); per replica with traffic the LLM
 * request, queue, prefill, decode and TTFT histograms at the agent's bounds, requests by status,
 * tokens by type and the last request's time. The idle model's replicas have no LLM series.
 * Synchronous; the default scenario's month takes about a second before the sink's own cost.
 */
export function writeHistory(scenario: Scenario, options: HistoryOptions, sink: MetricSink): HistoryStats {
  const stepMs = options.stepMs ?? 5 * 60_000;
  const steps = Math.floor(((options.days ?? 30) * DAY_MS) / stepMs);
  const startMs = options.endMs - steps * stepMs;
  const fleet = compileFleet(scenario, { originMs: options.originMs ?? options.endMs });
  const spans = options.spans ?? spansConfigSchema.parse({});
  const bounds = bucketsWithThresholds(spans.buckets, spans.sloThresholds);
  const tables = new LatencyTables(bounds, options.samplesPerTable ?? 2000, scenario.seed);
  const incidentShareOf = incidentShares(incidentWindows(fleet, startMs, options.endMs));
  const gpus = fleet.gpus.map((gpu): GpuSeries => ({
    gpu,
    labels: gpuLabels(gpu, true),
    infoLabels: Object.freeze({
      ...gpuLabels(gpu, false),
      driver_version: SIMULATED_DRIVER_VERSION,
      pci_bus_id: gpu.pciBusId,
      source: "simulated",
    }),
    holderLabels: gpu.replicas.map((replica) => Object.freeze({ ...gpuLabels(gpu, false), ...podLabels(replica) })),
  }));
  const series = fleet.replicas
    .filter((replica) => replica.peakRps > 0)
    .map((replica) => replicaSeries(replica, bounds));
  let samples = 0;
  const emit: MetricSink = (name, labels, value, atMs) => {
    samples++;
    sink(name, labels, value, atMs);
  };
  for (let step = 0; step <= steps; step++) {
    const atMs = startMs + step * stepMs;
    writeGpus(fleet, gpus, atMs, emit);
    const incidentShare = step > 0 ? incidentShareOf(atMs - stepMs, atMs) : 0;
    for (const s of series) {
      if (step > 0) advance(fleet, tables, s, incidentShare, startMs, atMs - stepMs, atMs);
      writeReplica(s, atMs, emit);
    }
  }
  const requests: Record<string, number> = {};
  for (const s of series) requests[s.replica.model.name] = (requests[s.replica.model.name] ?? 0) + s.count;
  return { steps: steps + 1, samples, requests };
}

/** One GPU's label objects: value series, identity, and one per holder. */
interface GpuSeries {
  readonly gpu: SimGpu;
  readonly labels: Labels;
  readonly infoLabels: Labels;
  readonly holderLabels: readonly Labels[];
}

function writeGpus(fleet: Fleet, gpus: readonly GpuSeries[], atMs: number, emit: MetricSink): void {
  for (const { gpu, labels, infoLabels, holderLabels } of gpus) {
    const state = gpuStateAt(fleet, gpu, atMs);
    emit(METRICS.gpuInfo.name, infoLabels, 1, atMs);
    for (const holder of holderLabels) emit(METRICS.gpuPodInfo.name, holder, 1, atMs);
    // NVML's units, rounded as the simulated NVML client reports them, so the history matches a live agent.
    emit(METRICS.utilization.name, labels, Math.round(state.utilizationRatio * 100) / 100, atMs);
    emit(METRICS.memoryUsed.name, labels, state.memoryUsedBytes, atMs);
    emit(METRICS.memoryTotal.name, labels, state.memoryTotalBytes, atMs);
    emit(METRICS.power.name, labels, Math.round(state.powerWatts * 1000) / 1000, atMs);
    emit(METRICS.temperature.name, labels, Math.round(state.temperatureCelsius), atMs);
    emit(METRICS.energy.name, labels, Math.floor(gpuEnergyJoules(fleet, gpu, atMs) * 1000) / 1000, atMs);
  }
}

/** Adds the requests of (fromMs, toMs] to a replica's series; `incidentShare` of the step is inside an incident window. */
function advance(
  fleet: Fleet,
  tables: LatencyTables,
  s: ReplicaSeries,
  incidentShare: number,
  startMs: number,
  fromMs: number,
  toMs: number,
): void {
  const { replica } = s;
  // The tolerance absorbs the rounding of two large integrals' difference (an exact 2,161,440 must not floor to 2,161,439).
  const total = Math.floor(expectedRequests(fleet, replica, startMs, toMs) + 1e-6);
  const added = total - s.count;
  if (added <= 0) return;
  const incident = fleet.scenario.incident?.model === replica.model.name ? fleet.scenario.incident : null;
  const mix = tables.mix(
    replica.model,
    replicaLoadAt(fleet, replica, (fromMs + toMs) / 2),
    incident,
    incident ? incidentShare : 0,
  );
  LATENCY_KINDS.forEach((_, k) => {
    const into = s.buckets[k] as Float64Array;
    const shares = mix.cumulative[k] as Float64Array;
    for (let j = 0; j < into.length; j++) into[j] = (into[j] as number) + added * (shares[j] as number);
    s.sums[k] = (s.sums[k] as number) + added * (mix.means[k] as number);
  });
  s.count = total;
  s.prompt += added * mix.meanPromptTokens;
  s.completion += added * mix.meanCompletionTokens;
  s.lastRequestSeconds = toMs / 1000;
}

function writeReplica(s: ReplicaSeries, atMs: number, emit: MetricSink): void {
  const { count } = s;
  LATENCY_KINDS.forEach((kind, k) => {
    const name = HISTOGRAM_NAMES[kind];
    const buckets = s.buckets[k] as Float64Array;
    const labels = s.bucketLabels[k] as readonly Labels[];
    // Floors of nondecreasing exact counts: monotonic in time and in `le`; +Inf is exactly the count.
    for (let j = 0; j < buckets.length - 1; j++)
      emit(`${name}_bucket`, labels[j] as Labels, Math.min(count, Math.floor((buckets[j] as number) + 1e-7)), atMs);
    emit(`${name}_bucket`, labels[buckets.length - 1] as Labels, count, atMs);
    emit(`${name}_sum`, s.labels, s.sums[k] as number, atMs);
    emit(`${name}_count`, s.labels, count, atMs);
  });
  const errors = Math.floor(count * s.replica.model.errorRatio);
  emit(METRICS.llmRequests.name, s.okLabels, count - errors, atMs);
  emit(METRICS.llmRequests.name, s.errorLabels, errors, atMs);
  emit(METRICS.llmTokens.name, s.promptLabels, Math.floor(s.prompt), atMs);
  emit(METRICS.llmTokens.name, s.completionLabels, Math.floor(s.completion), atMs);
  if (s.lastRequestSeconds > 0) emit(METRICS.llmLastRequest.name, s.labels, s.lastRequestSeconds, atMs);
}

/**
 * The scenario's fleet at `atMs` as a fleet snapshot (analyzer/fleet/snapshot.ts): GPUs with their
 * memory and utilization then, replicas with their request rate; the idle model's replicas have
 * served nothing (`lastRequestAtMs: null`). SLO state is left to the analyzer.
 */
export function fleetSnapshotOf(
  scenario: Scenario,
  atMs: number,
  options: { readonly originMs?: number } = {},
): FleetSnapshot {
  const fleet = compileFleet(scenario, { originMs: options.originMs ?? atMs });
  const at = Math.floor(atMs);
  return {
    version: FLEET_SNAPSHOT_VERSION,
    takenAtMs: at,
    nodes: fleet.nodes.map((node) => ({
      name: node.name,
      pool: node.pool,
      labels: { "nvidia.com/gpu.product": (node.gpus[0]?.type.name ?? "").replaceAll(" ", "-"), ...node.labels },
      taints: [],
      gpus: node.gpus.map((gpu) => ({
        uuid: gpu.uuid,
        index: gpu.index,
        gpuModel: gpu.type.name,
        memoryTotalBytes: gpu.type.memoryBytes,
        memoryUsedBytes: gpu.memoryUsedBytes,
        utilizationRatio: Math.round(gpuStateAt(fleet, gpu, atMs).utilizationRatio * 100) / 100,
        nvlinkDomain: gpu.nvlinkDomain,
        isHealthy: true,
      })),
    })),
    replicas: fleet.replicas.map((replica) => ({
      id: replica.id,
      model: replica.model.name,
      namespace: replica.namespace,
      pod: replica.pod,
      node: replica.node,
      gpus: [...replica.gpuUuids],
      memoryPerGpuBytes: replica.memoryPerGpuBytes,
      tier: replica.model.tier,
      tensorParallel: replica.gpuUuids.length,
      lastRequestAtMs: replica.peakRps > 0 ? at : null,
      requestRate: replicaRateAt(fleet, replica, atMs),
      isPinned: false,
      tolerations: [],
      nodeSelector: {},
    })),
    slo: {},
  };
}
