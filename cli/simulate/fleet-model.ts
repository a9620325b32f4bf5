/**
 * The simulated fleet as pure functions of (scenario, time, seeded PRNG): GPU utilization, memory,
 * power, temperature and energy; each replica's request rate; each request's latency breakdown.
 * `compileFleet` resolves a scenario once (uuids, pod names, pids, per-GPU load); every function
 * after it is cheap, allocation-light and has no hidden state, so the simulated NVML clients, the
 * span traffic and the history writer tell one story.
 *
 * Time is Unix milliseconds. The day curve is piecewise linear between local hours, so request
 * counts and energy are exact integrals, not sums over samples.
 */
import { curveAt, curveIntegral, integrateBetween, type CurveIntegral } from "./day-curve.js";
import { createRandom, exponential, hashSeed, uniformAt, type Random } from "./random.js";
import { GPU_TYPES, type GpuTypeSpec, type Scenario, type ScenarioIncident, type ScenarioModel } from "./scenario.js";
import { DAY_MS, GIB } from "../../common/units.js";

/** How far before the origin the simulated driver loaded (the energy counter's zero). */
export const DRIVER_LOADED_BEFORE_ORIGIN_MS = 90 * DAY_MS;
/** Utilization jitter is redrawn every 5 s (NVML's own utilization sample period is 1/6 s to 1 s). */
const JITTER_SLOT_MS = 5_000;
/** Highest load used for queueing: ρ/(1−ρ) would diverge at 1. */
const MAX_LOAD = 0.95;

/** A replica resolved against the scenario. */
export interface SimReplica {
  /** Position in the scenario's replica list. */
  readonly index: number;
  /** `namespace/pod`. */
  readonly id: string;
  readonly model: ScenarioModel;
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly node: string;
  readonly gpuIndices: readonly number[];
  readonly gpuUuids: readonly string[];
  /** One process per GPU (one tensor-parallel worker per rank); stable. */
  readonly pids: readonly number[];
  readonly memoryPerGpuBytes: number;
  /** Requests per second when the day curve is at 1 (the model's peak split evenly). */
  readonly peakRps: number;
}

/** A GPU resolved against the scenario. */
export interface SimGpu {
  readonly node: string;
  readonly index: number;
  readonly uuid: string;
  readonly pciBusId: string;
  readonly type: GpuTypeSpec;
  /** NVLink domain within the node, or null for a PCIe-only GPU. */
  readonly nvlinkDomain: string | null;
  /** Replicas holding this GPU. */
  readonly replicas: readonly SimReplica[];
  readonly memoryUsedBytes: number;
  /** Σ of the holders' loads when the day curve is at 1 (utilization is min(1, this × curve)). */
  readonly peakLoad: number;
  /** Integral of the clamped utilization over local hours, for energy. */
  readonly utilizationIntegral: CurveIntegral;
  /** Seed of the utilization jitter. */
  readonly jitterSeed: number;
}

export interface SimNode {
  readonly name: string;
  readonly pool: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly gpus: readonly SimGpu[];
  readonly replicas: readonly SimReplica[];
}

/** A compiled scenario. `originMs` anchors the incident schedule; energy counts from `driverLoadedAtMs`. */
export interface Fleet {
  readonly scenario: Scenario;
  readonly originMs: number;
  readonly driverLoadedAtMs: number;
  readonly nodes: readonly SimNode[];
  readonly gpus: readonly SimGpu[];
  readonly replicas: readonly SimReplica[];
  readonly traffic: CurveIntegral;
}

/** Characters Kubernetes uses in generated names (apimachinery rand.SafeEncodeString). */
const SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

function safeName(seed: number, length: number): string {
  const random = createRandom(seed);
  let text = "";
  for (let i = 0; i < length; i++) text += SAFE_ALPHABET.charAt(Math.floor(random() * SAFE_ALPHABET.length));
  return text;
}

function gpuUuid(seed: number, node: string, index: number): string {
  const hex = (part: number, digits: number) =>
    hashSeed(seed, node, index, part).toString(16).padStart(8, "0").slice(0, digits);
  return `GPU-${hex(0, 8)}-${hex(1, 4)}-${hex(2, 4)}-${hex(3, 4)}-${hex(4, 8)}${hex(5, 4)}`;
}

/** Resolves a scenario: uuids, PCI ids, pod names and pids derived from the seed; per-GPU load. */
export function compileFleet(
  scenario: Scenario,
  options: { readonly originMs: number; readonly driverLoadedAtMs?: number },
): Fleet {
  const models = new Map(scenario.models.map((model) => [model.name, model]));
  const replicaCount = new Map<string, number>();
  for (const r of scenario.replicas) replicaCount.set(r.model, (replicaCount.get(r.model) ?? 0) + 1);
  const uuidOf = (node: string, index: number) => gpuUuid(scenario.seed, node, index);
  const ordinal = new Map<string, number>();
  const replicas: SimReplica[] = scenario.replicas.map((r, index) => {
    const model = models.get(r.model) as ScenarioModel;
    const n = ordinal.get(model.name) ?? 0;
    ordinal.set(model.name, n + 1);
    const pod =
      r.pod ??
      `${model.name}-${safeName(hashSeed(scenario.seed, model.name), 10)}-${safeName(hashSeed(scenario.seed, model.name, n), 5)}`;
    return {
      index,
      id: `${model.namespace}/${pod}`,
      model,
      namespace: model.namespace,
      pod,
      container: "vllm",
      node: r.node,
      gpuIndices: r.gpus,
      gpuUuids: r.gpus.map((g) => uuidOf(r.node, g)),
      pids: r.gpus.map((_, rank) => 4000 + index * 16 + rank),
      memoryPerGpuBytes: model.memoryPerGpuGiB * GIB,
      peakRps: model.peakRequestsPerSecond / (replicaCount.get(model.name) ?? 1),
    };
  });
  const nodes: SimNode[] = scenario.nodes.map((node) => {
    const type = GPU_TYPES[node.gpuType];
    const onNode = replicas.filter((r) => r.node === node.name);
    const gpus = Array.from({ length: node.gpus }, (_, index): SimGpu => {
      const holders = onNode.filter((r) => r.gpuIndices.includes(index));
      const peakLoad = holders.reduce((sum, r) => sum + r.peakRps / r.model.replicaCapacityRps, 0);
      return {
        node: node.name,
        index,
        uuid: uuidOf(node.name, index),
        type,
        pciBusId: `00000000:${(0x18 + 0x0e * index).toString(16).toUpperCase().padStart(2, "0")}:00.0`,
        nvlinkDomain: type.nvlinks > 0 ? "nvlink-0" : null,
        replicas: holders,
        memoryUsedBytes: holders.reduce((sum, r) => sum + r.memoryPerGpuBytes, 0),
        peakLoad,
        utilizationIntegral: curveIntegral(scenario.dayCurve, scenario.utcOffsetHours, peakLoad, true),
        jitterSeed: hashSeed(scenario.seed, "jitter", node.name, index),
      };
    });
    return { name: node.name, pool: node.pool, labels: node.labels, gpus, replicas: onNode };
  });
  return {
    scenario,
    originMs: options.originMs,
    driverLoadedAtMs: options.driverLoadedAtMs ?? options.originMs - DRIVER_LOADED_BEFORE_ORIGIN_MS,
    nodes,
    gpus: nodes.flatMap((node) => node.gpus),
    replicas,
    traffic: curveIntegral(scenario.dayCurve, scenario.utcOffsetHours, 1, false),
  };
}

/** The day curve's multiplier (0..1) at `tMs`. */
export function dayCurveAt(scenario: Scenario, tMs: number): number {
  return curveAt(scenario.dayCurve, scenario.utcOffsetHours, tMs);
}

/** Requests per second reaching `replica` at `tMs`. */
export function replicaRateAt(fleet: Fleet, replica: SimReplica, tMs: number): number {
  return replica.peakRps * dayCurveAt(fleet.scenario, tMs);
}

/** Expected requests reaching `replica` in [fromMs, toMs]: the exact integral of its rate. */
export function expectedRequests(fleet: Fleet, replica: SimReplica, fromMs: number, toMs: number): number {
  if (replica.peakRps === 0) return 0;
  return replica.peakRps * integrateBetween(fleet.traffic, fromMs, toMs);
}

/** Whether the scenario's incident is on for `model` at `tMs` (windows repeat both ways from the origin). */
export function isIncidentAt(fleet: Fleet, model: string, tMs: number): boolean {
  const incident = fleet.scenario.incident;
  if (!incident || incident.model !== model) return false;
  const since = tMs - fleet.originMs - incident.startAfter;
  if (incident.every === null) return since >= 0 && since < incident.duration;
  return ((since % incident.every) + incident.every) % incident.every < incident.duration;
}

/** The incident windows overlapping [fromMs, toMs), in order. */
export function incidentWindows(fleet: Fleet, fromMs: number, toMs: number): { startMs: number; endMs: number }[] {
  const incident = fleet.scenario.incident;
  if (!incident) return [];
  const first = fleet.originMs + incident.startAfter;
  const starts: number[] = [];
  if (incident.every === null) starts.push(first);
  else {
    const every = incident.every;
    const lastK = Math.floor((toMs - first) / every);
    for (let k = Math.floor((fromMs - incident.duration - first) / every); k <= lastK; k++)
      starts.push(first + k * every);
  }
  return starts
    .map((startMs) => ({ startMs, endMs: startMs + incident.duration }))
    .filter((w) => w.endMs > fromMs && w.startMs < toMs);
}

/** One GPU's readings, in base units (ratios 0..1, bytes, watts, °C, MHz). */
export interface GpuState {
  readonly utilizationRatio: number;
  readonly memoryUtilizationRatio: number;
  readonly memoryUsedBytes: number;
  readonly memoryTotalBytes: number;
  readonly powerWatts: number;
  readonly powerLimitWatts: number;
  readonly temperatureCelsius: number;
  readonly smClockMhz: number;
  readonly memoryClockMhz: number;
}

/**
 * A GPU at `tMs`. Utilization is the holders' load, min(1, Σ rate ÷ capacity), with ±6 % jitter
 * redrawn every 5 s; power is linear in utilization between the type's idle draw and its TDP;
 * temperature follows power (no thermal inertia).
 */
export function gpuStateAt(fleet: Fleet, gpu: SimGpu, tMs: number): GpuState {
  const base = Math.min(1, gpu.peakLoad * dayCurveAt(fleet.scenario, tMs));
  const jitter = 0.94 + 0.12 * uniformAt(gpu.jitterSeed, Math.floor(tMs / JITTER_SLOT_MS));
  const utilization = Math.min(1, base * jitter);
  const { type } = gpu;
  const power = type.idleWatts + (type.tdpWatts - type.idleWatts) * utilization;
  return {
    utilizationRatio: utilization,
    memoryUtilizationRatio: 0.6 * utilization,
    memoryUsedBytes: gpu.memoryUsedBytes,
    memoryTotalBytes: type.memoryBytes,
    powerWatts: power,
    powerLimitWatts: type.tdpWatts,
    temperatureCelsius: 28 + (52 * power) / type.tdpWatts,
    smClockMhz: utilization > 0 ? type.smClockMhz : 210,
    memoryClockMhz: type.memoryClockMhz,
  };
}

/**
 * Energy since the simulated driver loaded, joules: the exact integral of the jitter-free power
 * (the jitter averages out), so the counter only grows and its increase over a window matches the
 * mean power.
 */
export function gpuEnergyJoules(fleet: Fleet, gpu: SimGpu, atMs: number): number {
  const from = fleet.driverLoadedAtMs;
  if (atMs <= from) return 0;
  const busySeconds = integrateBetween(gpu.utilizationIntegral, from, atMs);
  return (gpu.type.idleWatts * (atMs - from)) / 1000 + (gpu.type.tdpWatts - gpu.type.idleWatts) * busySeconds;
}

/** One simulated request, in seconds and tokens (the vLLM span's measurements). */
export interface SimRequest {
  readonly queueSeconds: number;
  readonly prefillSeconds: number;
  readonly decodeSeconds: number;
  readonly ttftSeconds: number;
  readonly e2eSeconds: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly isError: boolean;
  /** True when the incident pushed this request past its threshold. */
  readonly isSlowedByIncident: boolean;
}

/** A log-normal token count from a standard normal draw `z`, capped (μ = ln mean − σ²/2 keeps the mean). */
function tokenCount(z: number, spec: ScenarioModel["latency"]["promptTokens"]): number {
  const value = Math.exp(Math.log(spec.mean) - (spec.sigma * spec.sigma) / 2 + spec.sigma * z);
  return Math.min(spec.max, Math.max(1, Math.round(value)));
}

/** Multiplicative noise, uniform in [0.85, 1.15) (mean 1). */
function noise(random: Random): number {
  return 0.85 + 0.3 * random();
}

/** A replica's load ρ at `tMs`: its request rate over its capacity, capped at 0.95 (ρ/(1−ρ) diverges at 1). */
export function replicaLoadAt(fleet: Fleet, replica: SimReplica, tMs: number): number {
  return Math.min(MAX_LOAD, replicaRateAt(fleet, replica, tMs) / replica.model.replicaCapacityRps);
}

/** Draws one request of `replica` arriving at `tMs` (see {@link drawRequestAtLoad}). */
export function drawRequest(fleet: Fleet, replica: SimReplica, tMs: number, random: Random): SimRequest {
  const { incident } = fleet.scenario;
  const isIncident = incident !== null && isIncidentAt(fleet, replica.model.name, tMs);
  return drawRequestAtLoad(replica.model, replicaLoadAt(fleet, replica, tMs), isIncident ? incident : null, random);
}

/**
 * Draws one request of `model` at load ρ. Tokens are log-normal; prefill is linear in prompt
 * tokens, decode in completion tokens with a time per token that grows 30 % from no load to full
 * load (both with ±15 % noise); queue wait is exponential with the M/M/1 mean scaled as ρ/(1−ρ)
 * (Kleinrock, Queueing Systems vol. 1, §3.2). Under an `incident` (pass it only while it is on) a
 * `slowShare` of requests wait until past its threshold plus an exponential tail: a KV-cache stall,
 * requests preempted and requeued while the GPU stays as busy as before. Uses 7 uniform draws.
 */
export function drawRequestAtLoad(
  model: ScenarioModel,
  load: number,
  incident: ScenarioIncident | null,
  random: Random,
): SimRequest {
  const { latency, errorRatio } = model;
  const rho = Math.min(MAX_LOAD, Math.max(0, load));
  // Box–Muller gives two independent standard normals: one for each token count.
  const radius = Math.sqrt(-2 * Math.log(1 - random()));
  const angle = 2 * Math.PI * random();
  const promptTokens = tokenCount(radius * Math.cos(angle), latency.promptTokens);
  const completionTokens = tokenCount(radius * Math.sin(angle), latency.completionTokens);
  const prefillSeconds = promptTokens * latency.prefillSecondsPerToken * noise(random);
  const tpot = latency.timePerOutputTokenSeconds * (1 + 0.3 * rho) * noise(random);
  const decodeSeconds = (completionTokens - 1) * tpot;
  let queueSeconds = exponential(random, latency.queueSeconds * (rho / (1 - rho)));
  const slowDraw = random();
  const isError = random() < errorRatio;
  const isSlowedByIncident = incident !== null && slowDraw < incident.slowShare;
  if (isSlowedByIncident) {
    const gap = Math.max(0, incident.thresholdSeconds - (queueSeconds + prefillSeconds + decodeSeconds));
    // Reuse the slow draw, rescaled to [0, 1), for the tail: one fewer draw per request.
    queueSeconds += gap + 1e-3 - Math.log(1 - slowDraw / incident.slowShare) * 0.25 * incident.thresholdSeconds;
  }
  const ttftSeconds = queueSeconds + prefillSeconds;
  return {
    queueSeconds,
    prefillSeconds,
    decodeSeconds,
    ttftSeconds,
    e2eSeconds: ttftSeconds + decodeSeconds,
    promptTokens,
    completionTokens,
    isError,
    isSlowedByIncident,
  };
}
