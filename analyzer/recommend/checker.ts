/**
 * The independent plan checker: replays a plan's moves, in order, on its own copy of the snapshot
 * state and checks every constraint of constraints.ts after each move. It shares the constraint
 * definitions with the planner but none of its state or search code, so a planner bug that breaks
 * a constraint is caught here. A plan with violations must not be shown to an operator.
 *
 * Loads only grow where a replica arrives, so after move i the checker verifies the destination
 * GPUs and node of move i (memory headroom, physical memory, compute ceiling, tier isolation,
 * burning neighbours, spread) plus the move's own rules (references, pinned, SLO, MIG, health,
 * pool, GPU model, taints, nodeSelector, KV-cache pressure of the destination node,
 * tensor-parallel shape, disruption budget). Every GPU and
 * node that did not receive anything is unchanged or lighter, which is what "every constraint
 * after each move" amounts to.
 */
import type { FleetGpu, FleetNode, FleetReplica, FleetSnapshot } from "../fleet/snapshot.js";
import {
  COMPUTE_EPSILON,
  gpuBaseline,
  immovableReason,
  isMigGpu,
  migDeviceUuids,
  modelMoveBudget,
  nodeAdmits,
  replicasPerModel,
  replicaUtilizationShares,
  spreadLimit,
  usableMemoryBytes,
  type ConsolidationConfig,
  type ConstraintId,
  type Violation,
} from "./constraints.js";

/** The part of a move the checker needs: which replica, from where (as the plan believes), to where. */
export interface MoveToCheck {
  readonly replicaId: string;
  readonly fromNode: string;
  readonly fromGpus: readonly string[];
  readonly toNode: string;
  readonly toGpus: readonly string[];
}

/** The checker's verdict, with the fleet it computed once every move was applied. */
export interface PlanCheck {
  readonly isValid: boolean;
  readonly violations: readonly Violation[];
  /** GPUs (physical, MIG GPUs counted once) holding a replica or memory outside replicas, before and after. */
  readonly gpusInUseBefore: number;
  readonly gpusInUseAfter: number;
  readonly nodesInUseBefore: number;
  readonly nodesInUseAfter: number;
}

interface GpuState {
  readonly node: FleetNode;
  readonly gpu: FleetGpu;
  /** The physical GPU's uuid (differs from the key for a MIG device). */
  readonly physical: string;
  readonly isMigDevice: boolean;
  /** Whether something outside the replicas uses it (memory or, unheld, compute): it never empties. */
  readonly hasBaseline: boolean;
  memoryBytes: number;
  compute: number;
  readonly residents: Set<string>;
}

interface ReplicaState {
  readonly replica: FleetReplica;
  node: string;
  gpus: readonly string[];
}

/** Builds the checker's state: every GPU and MIG device by uuid, every replica by id. */
function initialState(
  snapshot: FleetSnapshot,
  shares: ReadonlyMap<string, number>,
): { gpus: Map<string, GpuState>; replicas: Map<string, ReplicaState>; nodes: Map<string, FleetNode> } {
  const baseline = gpuBaseline(snapshot);
  const gpus = new Map<string, GpuState>();
  const nodes = new Map<string, FleetNode>();
  for (const node of snapshot.nodes) {
    nodes.set(node.name, node);
    for (const gpu of node.gpus) {
      const base = baseline.get(gpu.uuid);
      const memoryBytes = base?.memoryBytes ?? 0;
      const compute = base?.utilization ?? 0;
      gpus.set(gpu.uuid, {
        node,
        gpu,
        physical: gpu.uuid,
        isMigDevice: false,
        hasBaseline: memoryBytes > 0 || compute > 0,
        memoryBytes,
        compute,
        residents: new Set(),
      });
      for (const mig of gpu.mig ?? [])
        gpus.set(mig.uuid, {
          node,
          gpu,
          physical: gpu.uuid,
          isMigDevice: true,
          hasBaseline: false,
          memoryBytes: 0,
          compute: 0,
          residents: new Set(),
        });
    }
  }
  const replicas = new Map<string, ReplicaState>();
  for (const replica of snapshot.replicas) {
    replicas.set(replica.id, { replica, node: replica.node, gpus: replica.gpus });
    for (const uuid of replica.gpus) {
      const state = gpus.get(uuid);
      if (state === undefined) continue;
      state.memoryBytes += replica.memoryPerGpuBytes;
      state.compute += shares.get(replica.id) ?? 0;
      state.residents.add(replica.id);
    }
  }
  return { gpus, replicas, nodes };
}

function inUseCounts(gpus: ReadonlyMap<string, GpuState>): { gpus: number; nodes: number } {
  const physical = new Set<string>();
  const nodes = new Set<string>();
  for (const state of gpus.values()) {
    if (state.residents.size > 0 || state.hasBaseline) {
      physical.add(state.physical);
      nodes.add(state.node.name);
    }
  }
  return { gpus: physical.size, nodes: nodes.size };
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((x) => b.includes(x));

/**
 * Replays `moves` on `snapshot` and returns every violation (0-based move index, constraint id and a
 * sentence). A move whose references are broken is reported and not applied; the rest of the plan
 * is still checked. Pure; cost O(moves × GPUs per move × replicas per GPU) after O(snapshot) setup.
 */
export function checkPlan(
  snapshot: FleetSnapshot,
  moves: readonly MoveToCheck[],
  config: ConsolidationConfig,
): PlanCheck {
  const shares = replicaUtilizationShares(snapshot);
  const { gpus, replicas, nodes } = initialState(snapshot, shares);
  const before = inUseCounts(gpus);
  const migDevices = migDeviceUuids(snapshot);
  const perModel = replicasPerModel(snapshot);
  const burning = new Set(
    Object.entries(snapshot.slo)
      .filter(([, state]) => state.isBurningPage)
      .map(([model]) => model),
  );
  const onNode = new Map<string, number>();
  const countKey = (node: string, model: string): string => `${node}\u0000${model}`;
  for (const replica of snapshot.replicas)
    onNode.set(countKey(replica.node, replica.model), (onNode.get(countKey(replica.node, replica.model)) ?? 0) + 1);

  const violations: Violation[] = [];
  const moved = new Set<string>();
  const movedPerModel = new Map<string, number>();

  moves.forEach((move, i) => {
    const flag = (constraint: ConstraintId, message: string): void => {
      violations.push({ moveIndex: i, constraint, message: `move ${i + 1} (${move.replicaId}): ${message}` });
    };
    const state = replicas.get(move.replicaId);
    if (state === undefined) return flag("reference", `no replica ${move.replicaId}`);
    const { replica } = state;
    if (move.fromNode !== state.node || !sameSet(move.fromGpus, state.gpus)) {
      flag(
        "reference",
        `the plan moves it from ${move.fromNode} [${move.fromGpus.join(", ")}] but it is on ${state.node} [${state.gpus.join(", ")}]`,
      );
    }
    const toNode = nodes.get(move.toNode);
    if (toNode === undefined) return flag("reference", `no node ${move.toNode}`);
    const targets: GpuState[] = [];
    for (const uuid of move.toGpus) {
      const target = gpus.get(uuid);
      if (target === undefined || target.node.name !== toNode.name)
        return flag("reference", `no GPU ${uuid} on node ${toNode.name}`);
      targets.push(target);
    }

    if (moved.has(replica.id)) flag("moved-twice", "it already moved earlier in the plan");
    const stays = immovableReason(replica, snapshot, migDevices);
    if (stays !== undefined)
      flag(
        stays,
        stays === "pinned"
          ? "the replica is pinned"
          : stays === "slo-burning"
            ? `model ${replica.model} burns its SLO at page level`
            : "it runs on a MIG device",
      );
    const maxMoves = config.disruption.maxMoves;
    if (maxMoves !== null && i + 1 > maxMoves) flag("disruption-moves", `the plan has more than ${maxMoves} moves`);
    const modelMoves = (movedPerModel.get(replica.model) ?? 0) + (moved.has(replica.id) ? 0 : 1);
    const budget = modelMoveBudget(perModel.get(replica.model) ?? 0, config);
    if (modelMoves > budget)
      flag(
        "disruption-model-share",
        `${modelMoves} of ${perModel.get(replica.model) ?? 0} replicas of ${replica.model} move; the budget is ${budget}`,
      );

    const origin = nodes.get(replica.node) as FleetNode;
    const admit = nodeAdmits(replica, origin, toNode, config);
    if (admit) flag(admit.constraint, admit.message);
    const distinct = new Set(move.toGpus);
    if (distinct.size !== move.toGpus.length || move.toGpus.length !== replica.tensorParallel) {
      flag(
        "tensor-parallel",
        `it needs ${replica.tensorParallel} distinct GPUs, the move names ${move.toGpus.length} (${distinct.size} distinct)`,
      );
    }
    if (replica.tensorParallel > 1) {
      const domains = new Set(targets.map((t) => t.gpu.nvlinkDomain));
      if (domains.size !== 1 || domains.has(null))
        flag("tensor-parallel", `its GPUs span NVLink domains [${[...domains].join(", ")}]`);
    }
    const originModels = new Set(replica.gpus.map((uuid) => gpus.get(uuid)?.gpu.gpuModel));
    for (const target of targets) {
      if (target.isMigDevice || isMigGpu(target.gpu)) flag("mig", `GPU ${target.gpu.uuid} is in MIG mode`);
      if (!target.gpu.isHealthy) flag("gpu-health", `GPU ${target.gpu.uuid} is unhealthy`);
      if (config.placement.gpuModel === "same" && !originModels.has(target.gpu.gpuModel))
        flag(
          "gpu-model",
          `GPU ${target.gpu.uuid} is a ${target.gpu.gpuModel}, the replica runs on ${[...originModels].join(", ")}`,
        );
    }

    // Apply: the old pod goes first, then the new one starts.
    const share = shares.get(replica.id) ?? 0;
    for (const uuid of state.gpus) {
      const source = gpus.get(uuid);
      if (source === undefined) continue;
      source.memoryBytes -= replica.memoryPerGpuBytes;
      source.compute -= share;
      source.residents.delete(replica.id);
    }
    onNode.set(countKey(state.node, replica.model), (onNode.get(countKey(state.node, replica.model)) ?? 0) - 1);
    const fromNode = state.node;
    for (const target of targets) {
      target.memoryBytes += replica.memoryPerGpuBytes;
      target.compute += share;
      target.residents.add(replica.id);
    }
    const count = (onNode.get(countKey(toNode.name, replica.model)) ?? 0) + 1;
    onNode.set(countKey(toNode.name, replica.model), count);
    state.node = toNode.name;
    state.gpus = [...move.toGpus];
    if (!moved.has(replica.id)) movedPerModel.set(replica.model, modelMoves);
    moved.add(replica.id);

    for (const target of targets) {
      const uuid = target.gpu.uuid;
      if (target.memoryBytes > target.gpu.memoryTotalBytes)
        flag("memory", `GPU ${uuid} holds ${target.memoryBytes} bytes of ${target.gpu.memoryTotalBytes}`);
      else if (target.memoryBytes > usableMemoryBytes(target.gpu, config))
        flag(
          "memory",
          `GPU ${uuid} holds ${target.memoryBytes} bytes, over its usable ${usableMemoryBytes(target.gpu, config)} (headroom ${config.memoryHeadroomRatio})`,
        );
      if (target.compute > config.computeCeilingRatio + COMPUTE_EPSILON)
        flag(
          "compute",
          `GPU ${uuid} compute load ${target.compute.toFixed(3)} exceeds the ceiling ${config.computeCeilingRatio}`,
        );
      const residents = [...target.residents].map((id) => (replicas.get(id) as ReplicaState).replica);
      if (config.placement.isolateTiers && residents.some((r) => r.tier !== replica.tier))
        flag("tier-isolation", `GPU ${uuid} also serves tier ${residents.find((r) => r.tier !== replica.tier)?.tier}`);
      if (config.placement.protectBurningGpus && residents.some((r) => burning.has(r.model)))
        flag("burning-neighbour", `GPU ${uuid} serves a model burning its SLO at page level`);
    }
    const limit = spreadLimit(replica.model, config);
    if (fromNode !== toNode.name && count > limit)
      flag("spread", `node ${toNode.name} would hold ${count} replicas of ${replica.model}, the limit is ${limit}`);
  });

  const after = inUseCounts(gpus);
  return {
    isValid: violations.length === 0,
    violations,
    gpusInUseBefore: before.gpus,
    gpusInUseAfter: after.gpus,
    nodesInUseBefore: before.nodes,
    nodesInUseAfter: after.nodes,
  };
}
