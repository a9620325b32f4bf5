/**
 * The constraint model of consolidation, as data and pure checks.
 *
 * A plan is an ordered list of moves; each move deletes one replica and starts it again on other
 * GPUs (its old GPUs are free before the new pod starts). A move is allowed when, in the state left
 * by the moves before it:
 *
 * - the replica may move at all: not pinned, its model's SLO is not burning at page level
 *   (`snapshot.slo[model].isBurningPage`), it does not sit on a MIG device (MIG partitions are not
 *   planned), and it has not moved earlier in the plan;
 * - the destination node is in the replica's pool (unless `placement.pool` is `any`), its
 *   NoSchedule/NoExecute taints are tolerated and it carries every nodeSelector label;
 * - a destination node other than the replica's own is not under KV-cache pressure: its runtimes'
 *   highest KV-cache usage is below `kvCacheWatermarkRatio` and they preempt at most
 *   `maxPreemptionRate` requests per second (a replica near its KV watermark is not a good
 *   neighbour: a newcomer's load pushes it into preemption and recomputation);
 * - the destination GPUs are healthy, not in MIG mode, of the source GPUs' model (unless
 *   `placement.gpuModel` is `any`), `tensorParallel` distinct GPUs of one node and, for
 *   tensor-parallel degree > 1, of one NVLink domain;
 * - on each destination GPU, memory after the move stays within `1 − memoryHeadroomRatio` of the
 *   GPU's memory, and compute load (the sum of its replicas' utilization shares, see
 *   `replicaUtilizationShares`) within `computeCeilingRatio`;
 * - with `placement.isolateTiers`, a destination GPU holds no replica of another tier; with
 *   `placement.protectBurningGpus`, no replica of a model burning at page level;
 * - the destination node holds at most the spread limit of replicas of the replica's model
 *   (a same-node move does not change the count);
 * - the disruption budget holds: at most `disruption.maxMoves` moves in the plan, and at most
 *   `modelMoveBudget(n)` of a model's n replicas move in one plan (see there).
 *
 * Loads only ever grow on a destination, so these are checked where a replica arrives; a GPU that
 * was already over a limit before the plan is not a violation until something moves onto it.
 * The planner (consolidation/) and the independent checker (checker.ts) both read this module for
 * the definitions; each keeps its own state and its own feasibility code.
 */
import type { ConsolidationConfig } from "../../common/config/consolidation-config.js";
import {
  plannedUtilization,
  type FleetGpu,
  type FleetNode,
  type FleetReplica,
  type FleetSnapshot,
  type Taint,
  type Toleration,
} from "../fleet/snapshot.js";

export {
  consolidationConfigSchema,
  disruptionConfigSchema,
  parseConsolidationConfig,
  placementConfigSchema,
  searchConfigSchema,
  type ConsolidationConfig,
  type ConsolidationConfigInput,
} from "../../common/config/consolidation-config.js";

/** Every constraint, by id, with the sentence a violation report uses. */
export const CONSTRAINTS = {
  reference: "a move names a replica, its current node and GPUs, and existing destination GPUs",
  "moved-twice": "a replica moves at most once per plan",
  pinned: "pinned replicas stay",
  "slo-burning": "no move for a model whose SLO burns at page level",
  mig: "replicas on MIG devices stay and nothing moves onto a MIG GPU",
  "gpu-health": "nothing moves onto an unhealthy GPU",
  pool: "a replica stays in its node pool",
  "gpu-model": "a replica stays on its GPU model",
  taints: "the destination's NoSchedule/NoExecute taints are tolerated",
  "node-selector": "the destination carries every nodeSelector label",
  "kv-pressure": "nothing moves onto a node whose runtimes are at their KV-cache watermark or preempting requests",
  "tensor-parallel":
    "a replica holds tensorParallel distinct GPUs of one node, of one NVLink domain when more than one",
  memory: "a destination GPU keeps its memory headroom",
  compute: "a destination GPU's summed replica utilization stays under the ceiling",
  "tier-isolation": "a destination GPU serves one tier",
  "burning-neighbour": "nothing moves onto a GPU serving a model whose SLO burns at page level",
  spread: "a node holds at most the spread limit of one model's replicas",
  "disruption-moves": "at most maxMoves moves per plan",
  "disruption-model-share": "at most the model's move budget of its replicas move per plan",
} as const;

export type ConstraintId = keyof typeof CONSTRAINTS;

/** One broken constraint; `moveIndex` is 0-based into the plan's moves. */
export interface Violation {
  readonly moveIndex: number;
  readonly constraint: ConstraintId;
  readonly message: string;
}

/** Why a replica may not move at all, or undefined when it may (budget aside). */
export function immovableReason(
  replica: FleetReplica,
  snapshot: FleetSnapshot,
  migDevices: ReadonlySet<string>,
): ConstraintId | undefined {
  if (replica.isPinned) return "pinned";
  if (snapshot.slo[replica.model]?.isBurningPage === true) return "slo-burning";
  if (replica.gpus.some((uuid) => migDevices.has(uuid))) return "mig";
  return undefined;
}

/** UUIDs of every MIG device in the snapshot. */
export function migDeviceUuids(snapshot: FleetSnapshot): Set<string> {
  const uuids = new Set<string>();
  for (const node of snapshot.nodes) for (const gpu of node.gpus) for (const mig of gpu.mig ?? []) uuids.add(mig.uuid);
  return uuids;
}

/** True when the GPU is in MIG mode (it has MIG devices). */
export function isMigGpu(gpu: FleetGpu): boolean {
  return gpu.mig !== undefined && gpu.mig.length > 0;
}

/**
 * How many of a model's `replicaCount` replicas may move in one plan:
 * floor(maxModelShareMoving × n), but at least 1 when n ≥ 2; a single replica moves only with
 * `canMoveSingleReplica` (its traffic is down while it restarts). Like a PodDisruptionBudget with
 * maxUnavailable = share, applied to the whole plan rather than to one instant, so it also holds
 * when the operator runs every step at once.
 */
export function modelMoveBudget(replicaCount: number, config: ConsolidationConfig): number {
  if (replicaCount <= 0) return 0;
  if (replicaCount === 1) return config.disruption.canMoveSingleReplica ? 1 : 0;
  return Math.max(1, Math.floor(config.disruption.maxModelShareMoving * replicaCount));
}

/** Replicas per model in the snapshot (the base of each model's move budget). */
export function replicasPerModel(snapshot: FleetSnapshot): Map<string, number> {
  const counts = new Map<string, number>();
  for (const replica of snapshot.replicas) counts.set(replica.model, (counts.get(replica.model) ?? 0) + 1);
  return counts;
}

/** The spread limit of one model, or Infinity when there is none. */
export function spreadLimit(model: string, config: ConsolidationConfig): number {
  return (
    config.placement.maxReplicasPerModelPerNodeByModel[model] ?? config.placement.maxReplicasPerModelPerNode ?? Infinity
  );
}

/** Memory a destination GPU may hold after a move, bytes: its memory less the headroom. */
export function usableMemoryBytes(gpu: Pick<FleetGpu, "memoryTotalBytes">, config: ConsolidationConfig): number {
  return Math.floor(gpu.memoryTotalBytes * (1 - config.memoryHeadroomRatio));
}

/**
 * Whether one toleration tolerates one taint (Kubernetes core/v1 semantics): an empty key with
 * `Exists` tolerates everything; otherwise keys match, `Exists` ignores the value, `Equal` compares it
 * (absent = ""), and an absent effect matches every effect.
 */
export function tolerates(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect !== undefined && toleration.effect !== taint.effect) return false;
  if (toleration.key === undefined || toleration.key === "") return toleration.operator === "Exists";
  if (toleration.key !== taint.key) return false;
  return toleration.operator === "Exists" || (toleration.value ?? "") === (taint.value ?? "");
}

/** The first NoSchedule/NoExecute taint no toleration tolerates (PreferNoSchedule is only a preference). */
export function untoleratedTaint(tolerations: readonly Toleration[], taints: readonly Taint[]): Taint | undefined {
  return taints.find((taint) => taint.effect !== "PreferNoSchedule" && !tolerations.some((t) => tolerates(t, taint)));
}

/** The first nodeSelector label the node lacks, as `key=value`, or undefined when all match. */
export function missingSelectorLabel(
  selector: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
): string | undefined {
  for (const [key, value] of Object.entries(selector)) if (labels[key] !== value) return `${key}=${value}`;
  return undefined;
}

/**
 * Why a node is under KV-cache pressure (its runtimes at or past the watermark, or preempting
 * more than allowed), or undefined when it is not or its runtimes are not scraped.
 */
export function kvPressure(
  node: Pick<FleetNode, "name" | "kvCacheUsage" | "preemptionRate">,
  config: ConsolidationConfig,
): string | undefined {
  const watermark = config.kvCacheWatermarkRatio;
  if (watermark !== null && node.kvCacheUsage !== undefined && node.kvCacheUsage >= watermark) {
    return `node ${node.name} runs a replica with its KV cache ${(node.kvCacheUsage * 100).toFixed(1)}% full, at or past the ${(watermark * 100).toFixed(1)}% watermark`;
  }
  const maxRate = config.maxPreemptionRate;
  if (maxRate !== null && node.preemptionRate !== undefined && node.preemptionRate > maxRate) {
    return `node ${node.name}'s runtimes preempt ${node.preemptionRate.toFixed(3)} requests/s, over ${maxRate}`;
  }
  return undefined;
}

/**
 * The node-level rules a destination node must meet whatever its GPUs hold: pool, taints,
 * nodeSelector and, for a node other than the replica's own, KV-cache pressure. Returns the first
 * broken one with a message, or undefined.
 */
export function nodeAdmits(
  replica: FleetReplica,
  from: FleetNode,
  to: FleetNode,
  config: ConsolidationConfig,
): { constraint: ConstraintId; message: string } | undefined {
  if (config.placement.pool === "same" && to.pool !== from.pool)
    return { constraint: "pool", message: `node ${to.name} is in pool ${to.pool}, the replica in ${from.pool}` };
  const taint = untoleratedTaint(replica.tolerations, to.taints);
  if (taint)
    return {
      constraint: "taints",
      message: `node ${to.name} has taint ${taint.key}${taint.value === undefined ? "" : `=${taint.value}`}:${taint.effect} that the replica does not tolerate`,
    };
  const label = missingSelectorLabel(replica.nodeSelector, to.labels);
  if (label) return { constraint: "node-selector", message: `node ${to.name} lacks nodeSelector label ${label}` };
  const pressure = to.name === from.name ? undefined : kvPressure(to, config);
  if (pressure) return { constraint: "kv-pressure", message: pressure };
  return undefined;
}

/**
 * Each replica's share of GPU compute: a GPU's utilization is split among the replicas holding it
 * in proportion to their request rates (equally when none of them serves requests), and a
 * replica's share is the mean over its GPUs (tensor-parallel ranks run in lockstep, so each rank
 * loads its GPU alike). A replica brings this share to every GPU it moves onto. Utilization of a
 * GPU nobody holds belongs to something outside the replicas and stays (`gpuBaseline`).
 */
export function replicaUtilizationShares(snapshot: FleetSnapshot): Map<string, number> {
  const util = new Map<string, number>();
  for (const node of snapshot.nodes) {
    for (const gpu of node.gpus) {
      util.set(gpu.uuid, plannedUtilization(gpu));
      for (const mig of gpu.mig ?? []) util.set(mig.uuid, plannedUtilization(gpu));
    }
  }
  const holders = new Map<string, { rate: number; count: number }>();
  for (const replica of snapshot.replicas) {
    for (const uuid of replica.gpus) {
      const entry = holders.get(uuid) ?? { rate: 0, count: 0 };
      entry.rate += replica.requestRate;
      entry.count += 1;
      holders.set(uuid, entry);
    }
  }
  const shares = new Map<string, number>();
  for (const replica of snapshot.replicas) {
    let sum = 0;
    for (const uuid of replica.gpus) {
      const entry = holders.get(uuid) as { rate: number; count: number };
      const weight = entry.rate > 0 ? replica.requestRate / entry.rate : 1 / entry.count;
      sum += (util.get(uuid) ?? 0) * weight;
    }
    shares.set(replica.id, sum / replica.gpus.length);
  }
  return shares;
}

/**
 * What stays on a GPU when every replica leaves it: memory in use beyond what the replicas
 * reserved (a process outside any replica), and utilization when no replica holds the GPU.
 */
export function gpuBaseline(
  snapshot: FleetSnapshot,
): Map<string, { readonly memoryBytes: number; readonly utilization: number }> {
  const reserved = new Map<string, number>();
  for (const replica of snapshot.replicas)
    for (const uuid of replica.gpus) reserved.set(uuid, (reserved.get(uuid) ?? 0) + replica.memoryPerGpuBytes);
  const baseline = new Map<string, { memoryBytes: number; utilization: number }>();
  for (const node of snapshot.nodes) {
    for (const gpu of node.gpus) {
      const devices = isMigGpu(gpu) ? (gpu.mig ?? []) : [];
      const held = reserved.has(gpu.uuid) || devices.some((d) => reserved.has(d.uuid));
      const memory =
        devices.length > 0
          ? devices.reduce((sum, d) => sum + Math.max(0, d.memoryUsedBytes - (reserved.get(d.uuid) ?? 0)), 0)
          : Math.max(0, gpu.memoryUsedBytes - (reserved.get(gpu.uuid) ?? 0));
      baseline.set(gpu.uuid, { memoryBytes: memory, utilization: held ? 0 : plannedUtilization(gpu) });
    }
  }
  return baseline;
}

/** What replicas bring to a GPU and what stays there without them; derived once per snapshot. */
export interface FleetLoads {
  readonly shares: ReadonlyMap<string, number>;
  readonly baseline: ReadonlyMap<string, { readonly memoryBytes: number; readonly utilization: number }>;
}

/** `replicaUtilizationShares` and `gpuBaseline` together. */
export function fleetLoads(snapshot: FleetSnapshot): FleetLoads {
  return { shares: replicaUtilizationShares(snapshot), baseline: gpuBaseline(snapshot) };
}

/** Tolerance for comparing summed utilization shares (floating point sums in different orders). */
export const COMPUTE_EPSILON = 1e-9;
