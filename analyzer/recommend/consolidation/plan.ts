/**
 * Consolidation plans: which replicas to move, in which order, to free whole GPUs and then whole
 * nodes without breaking a constraint (constraints.ts), with the lower bounds beside the result so
 * the gap to optimal is visible (bounds.ts). Nothing is applied: the plan is data, and
 * `kubernetesSteps` renders it as commands for an operator to review.
 *
 * Every plan is replayed by the independent checker (checker.ts) before it is returned; a plan the
 * checker rejects is a planner bug and `planConsolidation` throws rather than emit it.
 */
import { fleetFragmentation, type FragmentationFigures } from "../../fleet/fragmentation.js";
import type { FleetSnapshot } from "../../fleet/snapshot.js";
import { consolidationBounds, type ClassBound } from "./bounds.js";
import { checkPlan } from "../checker.js";
import { fleetLoads, isMigGpu, parseConsolidationConfig, type ConsolidationConfigInput } from "../constraints.js";
import { searchConsolidation } from "./search.js";
import type { PackingState } from "./packing-state.js";

/** One step of a plan: delete the replica's pod and start it on other GPUs. */
export interface ConsolidationMove {
  /** 1-based position in the plan; steps run in this order. */
  readonly step: number;
  readonly replicaId: string;
  readonly model: string;
  readonly namespace: string;
  readonly pod: string;
  readonly tensorParallel: number;
  readonly memoryPerGpuBytes: number;
  readonly fromNode: string;
  readonly fromGpus: readonly string[];
  readonly fromGpuIndexes: readonly number[];
  readonly toNode: string;
  readonly toGpus: readonly string[];
  readonly toGpuIndexes: readonly number[];
  /** Why: the GPU or node this step helps empty, and where the replica lands. */
  readonly reason: string;
}

/** The lower bounds of one class with its GPUs in use before and after the plan. */
export interface ClassConsolidation extends ClassBound {
  readonly gpusInUseBefore: number;
  readonly gpusInUseAfter: number;
}

/** One pool's result: GPUs and nodes before and after, moves, bounds and the gap to them. */
export interface PoolConsolidation {
  readonly pool: string;
  readonly gpusInUseBefore: number;
  readonly gpusInUseAfter: number;
  readonly gpusFreed: number;
  readonly nodesInUseBefore: number;
  readonly nodesInUseAfter: number;
  readonly nodesFreed: number;
  readonly moves: number;
  /** Σ over the pool's classes: memory L1, memory L2, the dual-feasible-function bound, and the largest bound per class. */
  readonly lowerBound: { readonly memoryL1: number; readonly memoryL2: number; readonly dualFeasible: number; readonly bound: number };
  /** GPUs in use after the plan (not counting MIG GPUs) minus the bound: 0 proves the packing optimal. */
  readonly gapGpus: number;
  readonly classes: readonly ClassConsolidation[];
}

/** Fragmentation of the fleet (FGD expected fragmentation and stranded memory) before and after. */
export interface FragmentationChange {
  readonly before: FragmentationFigures;
  readonly after: FragmentationFigures;
  readonly pools: readonly { readonly pool: string; readonly before: FragmentationFigures; readonly after: FragmentationFigures }[];
}

/** A consolidation plan: ordered moves and what they free. JSON-serialisable. */
export interface ConsolidationPlan {
  readonly takenAtMs: number;
  readonly moves: readonly ConsolidationMove[];
  readonly movesCount: number;
  readonly gpusInUseBefore: number;
  readonly gpusInUseAfter: number;
  readonly gpusFreed: number;
  readonly nodesInUseBefore: number;
  readonly nodesInUseAfter: number;
  readonly nodesFreed: number;
  readonly freedGpus: readonly { readonly node: string; readonly uuid: string; readonly index: number }[];
  readonly freedNodes: readonly string[];
  readonly pools: readonly PoolConsolidation[];
  readonly fragmentation: FragmentationChange;
  /** Replicas that could not move at all, by reason (pinned, slo-burning, mig). */
  readonly immovable: Readonly<Record<string, number>>;
  /** The independent checker's verdict (always valid: an invalid plan throws). */
  readonly check: { readonly isValid: boolean; readonly movesChecked: number };
  /** The search order that produced the plan. */
  readonly searchVariant: string;
}

function toMoves(snapshot: FleetSnapshot, state: PackingState, moves: ReturnType<typeof searchConsolidation>["moves"]): ConsolidationMove[] {
  const gpuIndex = new Map<string, number>();
  for (const node of snapshot.nodes) for (const gpu of node.gpus) gpuIndex.set(gpu.uuid, gpu.index);
  const uuid = (g: number): string => state.gpuUuid[g] as string;
  const nodeName = (g: number): string => (state.nodes[state.gpuNode[g] as number] as FleetSnapshot["nodes"][number]).name;
  return moves.map((move, i) => {
    const replica = snapshot.replicas[move.replica] as FleetSnapshot["replicas"][number];
    return {
      step: i + 1,
      replicaId: replica.id,
      model: replica.model,
      namespace: replica.namespace,
      pod: replica.pod,
      tensorParallel: replica.tensorParallel,
      memoryPerGpuBytes: replica.memoryPerGpuBytes,
      fromNode: nodeName(move.from[0] as number),
      fromGpus: move.from.map(uuid),
      fromGpuIndexes: move.from.map((g) => gpuIndex.get(uuid(g)) ?? -1),
      toNode: nodeName(move.to[0] as number),
      toGpus: move.to.map(uuid),
      toGpuIndexes: move.to.map((g) => gpuIndex.get(uuid(g)) ?? -1),
      reason: move.reason,
    };
  });
}

/**
 * The snapshot as it would be after `moves`: replicas on their new nodes and GPUs, each GPU's
 * observed memory and utilization shifted by what moved (a moved replica takes its reservation and
 * its utilization share along). Pure; used for fragmentation after a plan.
 */
export function applyMoves(snapshot: FleetSnapshot, moves: readonly Pick<ConsolidationMove, "replicaId" | "toNode" | "toGpus">[], shares?: ReadonlyMap<string, number>): FleetSnapshot {
  const byId = new Map(snapshot.replicas.map((r) => [r.id, r]));
  const memoryDelta = new Map<string, number>();
  const utilDelta = new Map<string, number>();
  const placed = new Map<string, { node: string; gpus: string[] }>();
  for (const move of moves) {
    const replica = byId.get(move.replicaId);
    if (replica === undefined) throw new Error(`applyMoves: no replica ${move.replicaId}`);
    const current = placed.get(replica.id) ?? { node: replica.node, gpus: replica.gpus };
    const share = shares?.get(replica.id) ?? 0;
    for (const uuid of current.gpus) {
      memoryDelta.set(uuid, (memoryDelta.get(uuid) ?? 0) - replica.memoryPerGpuBytes);
      utilDelta.set(uuid, (utilDelta.get(uuid) ?? 0) - share);
    }
    for (const uuid of move.toGpus) {
      memoryDelta.set(uuid, (memoryDelta.get(uuid) ?? 0) + replica.memoryPerGpuBytes);
      utilDelta.set(uuid, (utilDelta.get(uuid) ?? 0) + share);
    }
    placed.set(replica.id, { node: move.toNode, gpus: [...move.toGpus] });
  }
  const clamp = (x: number, hi: number): number => Math.min(hi, Math.max(0, x));
  return {
    ...snapshot,
    nodes: snapshot.nodes.map((node) => ({
      ...node,
      gpus: node.gpus.map((gpu) =>
        memoryDelta.has(gpu.uuid)
          ? {
              ...gpu,
              memoryUsedBytes: clamp(gpu.memoryUsedBytes + (memoryDelta.get(gpu.uuid) ?? 0), gpu.memoryTotalBytes),
              utilizationRatio: clamp(gpu.utilizationRatio + (utilDelta.get(gpu.uuid) ?? 0), 1),
            }
          : gpu,
      ),
    })),
    replicas: snapshot.replicas.map((r) => {
      const to = placed.get(r.id);
      return to === undefined ? r : { ...r, node: to.node, gpus: to.gpus };
    }),
  };
}

/** GPUs and nodes in use per pool and per class, from the planner's state before or after. */
function usage(snapshot: FleetSnapshot, isInUse: (g: number) => boolean): { pools: Map<string, { gpus: number; nodes: number }>; classes: Map<string, number> } {
  const pools = new Map<string, { gpus: number; nodes: number }>();
  const classes = new Map<string, number>();
  let g = 0;
  for (const node of snapshot.nodes) {
    const entry = pools.get(node.pool) ?? { gpus: 0, nodes: 0 };
    let isNodeInUse = false;
    for (const gpu of node.gpus) {
      if (isInUse(g)) {
        entry.gpus++;
        isNodeInUse = true;
        if (!isMigGpu(gpu)) classes.set(`${node.pool}\u0000${gpu.gpuModel}`, (classes.get(`${node.pool}\u0000${gpu.gpuModel}`) ?? 0) + 1);
      }
      g++;
    }
    if (isNodeInUse) entry.nodes++;
    pools.set(node.pool, entry);
  }
  return { pools, classes };
}

/**
 * Plans a consolidation of `snapshot` under `config` (parsed with defaults when given as input).
 * Deterministic and pure. Throws when the independent checker rejects the plan (a planner bug).
 */
export function planConsolidation(snapshot: FleetSnapshot, configInput: ConsolidationConfigInput = {}): ConsolidationPlan {
  const config = parseConsolidationConfig(configInput);
  const loads = fleetLoads(snapshot);
  const result = searchConsolidation(snapshot, config, loads);
  const { state } = result;
  const moves = toMoves(snapshot, state, result.moves);

  const check = checkPlan(snapshot, moves, config);
  if (!check.isValid) {
    throw new Error(`planConsolidation: the checker rejected the plan (a planner bug):\n  ${check.violations.slice(0, 20).map((v) => v.message).join("\n  ")}`, { cause: check.violations });
  }
  if (check.gpusInUseAfter !== state.gpusInUse || check.nodesInUseAfter !== state.nodesInUse) {
    throw new Error(`planConsolidation: the checker counts ${check.gpusInUseAfter} GPUs / ${check.nodesInUseAfter} nodes in use after the plan, the planner ${state.gpusInUse} / ${state.nodesInUse} (a planner bug)`);
  }

  const useBefore = usage(snapshot, (g) => state.initialInUse[g] === 1);
  const useAfter = usage(snapshot, (g) => state.isInUse(g));
  const bounds = consolidationBounds(snapshot, config, loads);
  const poolOfNode = new Map(snapshot.nodes.map((n) => [n.name, n.pool]));
  const movesPerPool = new Map<string, number>();
  for (const move of moves) {
    const pool = poolOfNode.get(move.fromNode) ?? "";
    movesPerPool.set(pool, (movesPerPool.get(pool) ?? 0) + 1);
  }
  const pools: PoolConsolidation[] = [...useBefore.pools.keys()].sort().map((pool) => {
    const b = useBefore.pools.get(pool) ?? { gpus: 0, nodes: 0 };
    const a = useAfter.pools.get(pool) ?? { gpus: 0, nodes: 0 };
    const classes = bounds.filter((c) => c.pool === pool).map((c) => {
      const key = `${c.pool}\u0000${c.gpuModel}`;
      return { ...c, gpusInUseBefore: useBefore.classes.get(key) ?? 0, gpusInUseAfter: useAfter.classes.get(key) ?? 0 };
    });
    const sum = (f: (c: ClassConsolidation) => number): number => classes.reduce((s, c) => s + f(c), 0);
    return {
      pool,
      gpusInUseBefore: b.gpus,
      gpusInUseAfter: a.gpus,
      gpusFreed: b.gpus - a.gpus,
      nodesInUseBefore: b.nodes,
      nodesInUseAfter: a.nodes,
      nodesFreed: b.nodes - a.nodes,
      moves: movesPerPool.get(pool) ?? 0,
      lowerBound: { memoryL1: sum((c) => c.memoryL1), memoryL2: sum((c) => c.memoryL2), dualFeasible: sum((c) => c.dualFeasible), bound: sum((c) => c.bound) },
      gapGpus: sum((c) => c.gpusInUseAfter) - sum((c) => c.bound),
      classes,
    };
  });

  const freedGpus: ConsolidationPlan["freedGpus"][number][] = [];
  const freedNodes: string[] = [];
  let g = 0;
  snapshot.nodes.forEach((node, n) => {
    for (const gpu of node.gpus) {
      if (state.initialInUse[g] === 1 && !state.isInUse(g)) freedGpus.push({ node: node.name, uuid: gpu.uuid, index: gpu.index });
      g++;
    }
    if ((state.initialNodeInUse[n] as number) > 0 && (state.nodeInUse[n] as number) === 0) freedNodes.push(node.name);
  });

  const fragBefore = fleetFragmentation(snapshot);
  const fragAfter = moves.length === 0 ? fragBefore : fleetFragmentation(applyMoves(snapshot, moves, loads.shares));
  const immovable: Record<string, number> = {};
  for (const reason of state.stays) if (reason !== undefined) immovable[reason] = (immovable[reason] ?? 0) + 1;

  return {
    takenAtMs: snapshot.takenAtMs,
    moves,
    movesCount: moves.length,
    gpusInUseBefore: state.initialGpusInUse,
    gpusInUseAfter: state.gpusInUse,
    gpusFreed: state.initialGpusInUse - state.gpusInUse,
    nodesInUseBefore: state.initialNodesInUse,
    nodesInUseAfter: state.nodesInUse,
    nodesFreed: state.initialNodesInUse - state.nodesInUse,
    freedGpus,
    freedNodes,
    pools,
    fragmentation: {
      before: fragBefore.total,
      after: fragAfter.total,
      pools: fragBefore.pools.map((p) => ({ pool: p.pool, before: p, after: fragAfter.pools.find((q) => q.pool === p.pool) ?? p })),
    },
    immovable,
    check: { isValid: check.isValid, movesChecked: moves.length },
    searchVariant: result.variant,
  };
}

