/**
 * The synthetic fleet of the scale benchmark: N GPUs on nodes of 8, two pools, ~50 models (7B/8B,
 * 13B/14B and 70B classes, and models without an SLO), replicas packed onto the nodes with tensor
 * parallelism, pods that roll out every two days (new pod names, new series), idle models, and a
 * latency incident on one 13B model in the last two hours. Everything is a pure function of the GPU
 * count and time, so a chunk of history can be written without the ones before it.
 *
 * Traffic per replica follows a diurnal curve; a counter's value at t is the closed-form integral
 * of its rate since its pod started (monotone, reset at each rollout as a new series).
 */
import { createRandom, hashSeed } from "../../../cli/simulate/random.js";
import { GIB } from "../../../common/units.js";

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
/** The end of the history: the analyzer evaluates at (and just before) it. A multiple of 5 minutes. */
export const END_MS = Date.UTC(2026, 0, 8, 10, 0);
export const HISTORY_DAYS = 7;
const ROLLOUT_MS = 2 * DAY_MS;
const GPUS_PER_NODE = 8;

export interface ScaleModel {
  readonly name: string;
  readonly tensorParallel: number;
  /** Requests per second of the whole model at the diurnal mean. */
  readonly rate: number;
  /** Share of requests over 1.2 s, 2 s and 4 s in normal operation. */
  readonly over: readonly [number, number, number];
  readonly errorShare: number;
  /** Traffic stops this long before the end (an idle model). */
  readonly idleForMs: number;
  readonly hasIncident: boolean;
  readonly rollsOut: boolean;
}

export interface ScaleGpu {
  readonly uuid: string;
  readonly index: number;
  readonly model: string;
  readonly memoryBytes: number;
  readonly nvlinks: number;
}

export interface ScaleNode {
  readonly name: string;
  readonly pool: string;
  readonly gpus: readonly ScaleGpu[];
}

export interface ScaleReplica {
  readonly id: number;
  readonly model: ScaleModel;
  readonly node: ScaleNode;
  readonly gpus: readonly ScaleGpu[];
  readonly tier: string;
  /** This replica's share of its model's traffic. */
  readonly share: number;
  /** Rollout phase offset, ms. */
  readonly offsetMs: number;
}

export interface ScaleFleet {
  readonly gpus: number;
  readonly nodes: readonly ScaleNode[];
  readonly models: readonly ScaleModel[];
  readonly replicas: readonly ScaleReplica[];
}

const GPU_TYPES = [
  { model: "NVIDIA H100 80GB HBM3", memoryBytes: 80 * GIB, nvlinks: 18 },
  { model: "NVIDIA A100-SXM4-80GB", memoryBytes: 80 * GIB, nvlinks: 12 },
  { model: "NVIDIA L40S", memoryBytes: 48 * GIB, nvlinks: 0 },
] as const;

function hex(random: () => number, digits: number): string {
  let text = "";
  for (let i = 0; i < digits; i++) text += Math.floor(random() * 16).toString(16);
  return text;
}

/** 50 models: 25 of the 7b class, 12 of 13b, 7 of 70b, 6 without an SLO class (32B). */
function models(): ScaleModel[] {
  const families = ["llama", "mistral", "qwen", "gemma", "phi", "granite"];
  const list: ScaleModel[] = [];
  const add = (size: string, count: number, tensorParallel: number, rate: number) => {
    for (let i = 0; i < count; i++) {
      const index = list.length;
      const random = createRandom(hashSeed("model", index));
      list.push({
        name: `${families[index % families.length] as string}-${size}b-v${String(index).padStart(2, "0")}`,
        tensorParallel: tensorParallel === 1 && size === "14" && i % 2 === 0 ? 2 : tensorParallel,
        rate: rate * (0.3 + 1.4 * random()),
        over:
          size === "70" ? [0.4, 0.2, 0.03] : size === "13" || size === "14" ? [0.2, 0.03, 0.005] : [0.02, 0.005, 0.001],
        errorShare: 0.002 + 0.006 * random(),
        idleForMs: index % 10 === 9 ? 26 * HOUR_MS : 0,
        hasIncident: index === 27,
        rollsOut: index % 4 !== 3,
      });
    }
  };
  add("8", 13, 1, 6);
  add("7", 12, 1, 6);
  add("13", 6, 1, 4);
  add("14", 6, 1, 4);
  add("70", 7, 4, 2);
  add("32", 6, 2, 3);
  return list;
}

/** The fleet of `gpus` GPUs (rounded up to whole nodes of 8). */
export function scaleFleet(gpus: number): ScaleFleet {
  const modelList = models();
  const nodeCount = Math.ceil(gpus / GPUS_PER_NODE);
  const nodes: ScaleNode[] = [];
  for (let n = 0; n < nodeCount; n++) {
    const random = createRandom(hashSeed("node", n));
    const type = GPU_TYPES[n % 10 < 6 ? 0 : n % 10 < 9 ? 1 : 2];
    const name = `gpu-node-${String(n + 1).padStart(4, "0")}`;
    nodes.push({
      name,
      pool: n % 10 < 6 ? "latency" : "batch",
      gpus: Array.from({ length: GPUS_PER_NODE }, (_, index) => ({
        uuid: `GPU-${hex(random, 8)}-${hex(random, 4)}-${hex(random, 4)}-${hex(random, 4)}-${hex(random, 12)}`,
        index,
        model: type.model,
        memoryBytes: type.memoryBytes,
        nvlinks: type.nvlinks,
      })),
    });
  }
  // Pack replicas node by node: models drawn by weight, tensor-parallel groups on free GPUs of one node,
  // about one GPU in eight left free (fragmentation), so replicas ≈ 0.66 per GPU.
  const replicas: ScaleReplica[] = [];
  const random = createRandom(hashSeed("placement", gpus));
  for (const node of nodes) {
    let free = GPUS_PER_NODE;
    while (free > 0) {
      if (random() < 0.13) {
        free--;
        continue;
      }
      const candidates = modelList.filter(
        (m) => m.tensorParallel <= free && (node.pool === "batch" || m.tensorParallel <= 4),
      );
      const model = candidates[Math.floor(random() * candidates.length)];
      if (model === undefined) break;
      const first = GPUS_PER_NODE - free;
      replicas.push({
        id: replicas.length,
        model,
        node,
        gpus: node.gpus.slice(first, first + model.tensorParallel),
        tier: node.pool,
        share: 0,
        offsetMs: Math.floor((random() * ROLLOUT_MS) / MINUTE_MS) * MINUTE_MS,
      });
      free -= model.tensorParallel;
    }
  }
  const perModel = new Map<string, number>();
  for (const r of replicas) perModel.set(r.model.name, (perModel.get(r.model.name) ?? 0) + 1);
  return {
    gpus: nodeCount * GPUS_PER_NODE,
    nodes,
    models: modelList,
    replicas: replicas.map((r) => ({ ...r, share: 1 / (perModel.get(r.model.name) ?? 1) })),
  };
}

/** The pod generation a replica is in at t, and when it started. */
export function generationAt(replica: ScaleReplica, atMs: number): { generation: number; startMs: number } {
  if (!replica.model.rollsOut) return { generation: 0, startMs: -Infinity };
  const generation = Math.floor((atMs + replica.offsetMs) / ROLLOUT_MS);
  return { generation, startMs: generation * ROLLOUT_MS - replica.offsetMs };
}

/** The pod name of a replica's generation: a Deployment-style hash suffix. */
export function podName(replica: ScaleReplica, generation: number): string {
  const random = createRandom(hashSeed("pod", replica.id, generation));
  return `${replica.model.name}-${hex(random, 10)}-${hex(random, 5)}`;
}

const DIURNAL_AMPLITUDE = 0.5;
const PHASE = (2 * Math.PI * 9) / 24;

/** ∫ of the diurnal curve 1 + a·sin(2πt/day − φ) from the epoch to t, seconds (closed form). */
function diurnalIntegral(atMs: number): number {
  const seconds = atMs / 1000;
  const period = DAY_MS / 1000;
  return seconds - ((DIURNAL_AMPLITUDE * period) / (2 * Math.PI)) * Math.cos((2 * Math.PI * seconds) / period - PHASE);
}

/** When the replica's traffic stopped (idle models), or Infinity. */
export function trafficEndMs(replica: ScaleReplica): number {
  return replica.model.idleForMs > 0 ? END_MS - replica.model.idleForMs : Infinity;
}

/** Requests the replica finished in [fromMs, toMs) (fractional: the counters floor it). */
export function requestsBetween(replica: ScaleReplica, fromMs: number, toMs: number): number {
  const end = Math.min(toMs, trafficEndMs(replica));
  if (end <= fromMs) return 0;
  return replica.model.rate * replica.share * (diurnalIntegral(end) - diurnalIntegral(fromMs));
}

/** The incident: 30% of the model's requests over 1.2 s (and 12% over 2 s) in the last two hours. */
export const INCIDENT = { fromMs: END_MS - 2 * HOUR_MS, over: [0.3, 0.12, 0.02] as const };

/** Requests over each threshold in [fromMs, toMs). */
export function slowBetween(replica: ScaleReplica, fromMs: number, toMs: number): [number, number, number] {
  const { over, hasIncident } = replica.model;
  if (!hasIncident || toMs <= INCIDENT.fromMs) {
    const n = requestsBetween(replica, fromMs, toMs);
    return [n * over[0], n * over[1], n * over[2]];
  }
  const before = requestsBetween(replica, fromMs, Math.max(fromMs, Math.min(toMs, INCIDENT.fromMs)));
  const during = requestsBetween(replica, Math.max(fromMs, INCIDENT.fromMs), toMs);
  return [0, 1, 2].map((i) => before * (over[i] as number) + during * (INCIDENT.over[i] as number)) as [
    number,
    number,
    number,
  ];
}

/** GPU utilization (0..1) of a GPU at t: its replica's load share, with minute-scale jitter; idle GPUs near 0. */
export function utilizationAt(replica: ScaleReplica | undefined, gpuIndex: number, atMs: number): number {
  const jitter = createRandom(hashSeed("util", gpuIndex, Math.floor(atMs / MINUTE_MS)))();
  if (replica === undefined || atMs >= trafficEndMs(replica)) return Math.round(jitter * 2) / 100;
  const daily = 1 + DIURNAL_AMPLITUDE * Math.sin((2 * Math.PI * (atMs / 1000)) / (DAY_MS / 1000) - PHASE);
  return Math.min(1, Math.round((0.25 + 0.35 * daily + 0.1 * jitter) * 100) / 100);
}
