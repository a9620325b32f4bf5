/**
 * Consolidation plans: which replicas to move, in which order, to free whole GPUs and then whole
 * nodes without breaking a constraint (constraints.ts), with the lower bounds beside the result so
 * the gap to optimal is visible (bounds.ts). Nothing is applied: the plan is data, and
 * `kubernetesSteps` renders it as commands for an operator to review.
 *
 * The heuristic search (search.ts) plans the whole fleet; then, given a solver, every placement
 * class small enough is solved exactly within the time budget (exact-classes.ts) and its moves are
 * replaced where the solver does better. Every plan is replayed by the independent checker
 * (checker.ts) before it is returned; a plan the checker rejects is a planner bug and
 * `planConsolidation` throws rather than emit it.
 */
import { fleetFragmentation } from "../../fleet/fragmentation.js";
import type { FleetSnapshot } from "../../fleet/snapshot.js";
import { checkPlan } from "../checker.js";
import {
  fleetLoads,
  isMigGpu,
  parseConsolidationConfig,
  type ConsolidationConfig,
  type ConsolidationConfigInput,
} from "../constraints.js";
import { applyMoves } from "./apply-moves.js";
import { consolidationBounds, type ClassBound } from "./bounds.js";
import type { ClassMethod } from "./exact-class.js";
import { solveExactClasses } from "./exact-classes.js";
import type { MilpSolver } from "./milp/solve.js";
import { PackingState, type SearchMove } from "./packing-state.js";
import { placementClassOf } from "./placement-class.js";
import type {
  ClassConsolidation,
  ConsolidationMove,
  ConsolidationPlan,
  LowerBoundSum,
  PoolConsolidation,
} from "./plan-types.js";
import { searchConsolidation } from "./search.js";

/** What the planner may use beyond the snapshot and the config. */
export interface PlanOptions {
  /** The exact solver; without it every class keeps the heuristic's placement. */
  readonly solver?: MilpSolver;
}

function toMoves(snapshot: FleetSnapshot, state: PackingState, moves: readonly SearchMove[]): ConsolidationMove[] {
  const gpuIndex = new Map<string, number>();
  for (const node of snapshot.nodes) for (const gpu of node.gpus) gpuIndex.set(gpu.uuid, gpu.index);
  const uuid = (g: number): string => state.gpuUuidOf(g);
  const nodeName = (g: number): string => state.nodes[state.gpuNodeOf(g)]?.name ?? "";
  return moves.flatMap((move, i) => {
    const replica = snapshot.replicas[move.replica];
    if (replica === undefined) return [];
    return [
      {
        step: i + 1,
        replicaId: replica.id,
        model: replica.model,
        namespace: replica.namespace,
        pod: replica.pod,
        tensorParallel: replica.tensorParallel,
        memoryPerGpuBytes: replica.memoryPerGpuBytes,
        fromNode: nodeName(move.from[0] ?? 0),
        fromGpus: move.from.map(uuid),
        fromGpuIndexes: move.from.map((g) => gpuIndex.get(uuid(g)) ?? -1),
        toNode: nodeName(move.to[0] ?? 0),
        toGpus: move.to.map(uuid),
        toGpuIndexes: move.to.map((g) => gpuIndex.get(uuid(g)) ?? -1),
        reason: move.reason,
      },
    ];
  });
}

/** GPUs and nodes in use per pool, and GPUs (not in MIG mode) per class key. */
function usage(
  snapshot: FleetSnapshot,
  config: ConsolidationConfig,
  isInUse: (g: number) => boolean,
): { pools: Map<string, { gpus: number; nodes: number }>; classes: Map<string, number> } {
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
        if (!isMigGpu(gpu)) {
          const key = placementClassOf(node.pool, gpu.gpuModel, config).key;
          classes.set(key, (classes.get(key) ?? 0) + 1);
        }
      }
      g++;
    }
    if (isNodeInUse) entry.nodes++;
    pools.set(node.pool, entry);
  }
  return { pools, classes };
}

const sumBounds = (classes: readonly ClassBound[]): LowerBoundSum => ({
  memoryL1: classes.reduce((s, c) => s + c.memoryL1, 0),
  memoryL2: classes.reduce((s, c) => s + c.memoryL2, 0),
  dualFeasible: classes.reduce((s, c) => s + c.dualFeasible, 0),
  bound: classes.reduce((s, c) => s + c.bound, 0),
});

/** The search's moves applied to a fresh state, for the counts after the plan. */
function replay(
  snapshot: FleetSnapshot,
  config: ConsolidationConfig,
  loads: ReturnType<typeof fleetLoads>,
  moves: readonly SearchMove[],
): PackingState {
  const state = new PackingState(snapshot, config, loads);
  for (const move of moves) {
    state.lift(move.replica);
    state.place(move.replica, move.to);
  }
  return state;
}

const heuristicOnly = (state: PackingState, key: string, note: string): ClassMethod => {
  let hasMovable = false;
  // Movable in the fleet as it stood (the state may be after the plan, where moved replicas are spent).
  for (let r = 0; r < state.replicaCount && !hasMovable; r++) {
    if (
      state.classKeyOf(state.replicaClassOf(r)) === key &&
      state.staysReasonOf(r) === undefined &&
      state.moveBudgetOf(state.modelOf(r)) > 0
    )
      hasMovable = true;
  }
  return {
    method: hasMovable ? "heuristic" : "none",
    isProvenOptimal: false,
    solverBound: 0,
    solverStatus: "not run",
    seconds: 0,
    note,
  };
};

/**
 * Plans a consolidation of `snapshot` under `config` (parsed with defaults when given as input).
 * Pure apart from the clock, which bounds the exact solver (`search.exactSeconds`); without a solver
 * deterministic. Throws when the independent checker rejects the plan (a planner bug).
 */
export function planConsolidation(
  snapshot: FleetSnapshot,
  configInput: ConsolidationConfigInput = {},
  options: PlanOptions = {},
): ConsolidationPlan {
  const started = performance.now();
  const config = parseConsolidationConfig(configInput);
  const loads = fleetLoads(snapshot);
  const heuristic = searchConsolidation(snapshot, config, loads);
  const bounds = consolidationBounds(snapshot, config, loads);
  const boundOf = new Map(bounds.map((b) => [placementClassOf(b.pool, b.gpuModel, config).key, b]));

  let searchMoves: readonly SearchMove[] = heuristic.moves;
  let methods: ReadonlyMap<string, ClassMethod> = new Map();
  let exactMs = 0;
  if (options.solver !== undefined && config.search.exactSeconds > 0) {
    const exactStarted = performance.now();
    // The budget covers the whole plan: what the heuristic took is spent, and the checks and the
    // fragmentation after the solver keep 15% of it.
    const budgetMs = config.search.exactSeconds * 1000;
    const exact = solveExactClasses(snapshot, config, loads, heuristic.moves, options.solver, {
      deadlineMs: started + budgetMs - Math.max(100, budgetMs * 0.15),
      classBound: (key) => boundOf.get(key)?.bound ?? 0,
    });
    exactMs = performance.now() - exactStarted;
    methods = exact.methods;
    if (exact.changed) {
      const candidate = toMoves(snapshot, heuristic.state, exact.moves);
      // Classes share nodes only through spread limits and share budgets: the whole plan is checked
      // before it replaces the heuristic's (which the final check below covers as well).
      if (checkPlan(snapshot, candidate, config).isValid) searchMoves = exact.moves;
      else
        methods = new Map(
          [...methods].map(([key, m]) => [
            key,
            {
              ...m,
              method: m.method === "milp" ? "heuristic" : m.method,
              isProvenOptimal: false,
              note: "the exact classes together broke a plan-wide rule; the heuristic's plan stands",
            },
          ]),
        );
    }
  }
  // The heuristic's own state is the fleet after its moves; only a plan the solver changed is replayed.
  const state = searchMoves === heuristic.moves ? heuristic.state : replay(snapshot, config, loads, searchMoves);
  const moves = toMoves(snapshot, state, searchMoves);

  const check = checkPlan(snapshot, moves, config);
  if (!check.isValid) {
    throw new Error(
      `planConsolidation: the checker rejected the plan (a planner bug):\n  ${check.violations
        .slice(0, 20)
        .map((v) => v.message)
        .join("\n  ")}`,
      { cause: check.violations },
    );
  }
  if (check.gpusInUseAfter !== state.gpusInUse || check.nodesInUseAfter !== state.nodesInUse) {
    throw new Error(
      `planConsolidation: the checker counts ${check.gpusInUseAfter} GPUs / ${check.nodesInUseAfter} nodes in use after the plan, the planner ${state.gpusInUse} / ${state.nodesInUse} (a planner bug)`,
    );
  }

  const useBefore = usage(snapshot, config, (g) => state.wasInUseInitially(g));
  const useAfter = usage(snapshot, config, (g) => state.isInUse(g));
  const movesPerClass = new Map<string, number>();
  const poolOfNode = new Map(snapshot.nodes.map((n) => [n.name, n.pool]));
  const movesPerPool = new Map<string, number>();
  for (const move of searchMoves) {
    const key = state.classKeyOf(state.gpuClassOf(move.to[0] ?? 0));
    movesPerClass.set(key, (movesPerClass.get(key) ?? 0) + 1);
  }
  for (const move of moves) {
    const pool = poolOfNode.get(move.fromNode) ?? "";
    movesPerPool.set(pool, (movesPerPool.get(pool) ?? 0) + 1);
  }
  const classes: ClassConsolidation[] = bounds.map((b) => {
    const key = placementClassOf(b.pool, b.gpuModel, config).key;
    const solve =
      methods.get(key) ??
      heuristicOnly(
        state,
        key,
        options.solver === undefined || config.search.exactSeconds === 0 ? "exact solver off" : "not solved",
      );
    const bound = Math.max(b.bound, solve.solverBound);
    const after = useAfter.classes.get(key) ?? 0;
    return {
      ...b,
      bound,
      gpusInUseBefore: useBefore.classes.get(key) ?? 0,
      gpusInUseAfter: after,
      gapGpus: after - bound,
      moves: movesPerClass.get(key) ?? 0,
      solve,
    };
  });
  const spansPools = config.placement.pool === "any";
  const pools: PoolConsolidation[] = [...useBefore.pools.keys()].sort().map((pool) => {
    const b = useBefore.pools.get(pool) ?? { gpus: 0, nodes: 0 };
    const a = useAfter.pools.get(pool) ?? { gpus: 0, nodes: 0 };
    const own = spansPools ? [] : classes.filter((c) => c.pool === pool);
    return {
      pool,
      gpusInUseBefore: b.gpus,
      gpusInUseAfter: a.gpus,
      gpusFreed: b.gpus - a.gpus,
      nodesInUseBefore: b.nodes,
      nodesInUseAfter: a.nodes,
      nodesFreed: b.nodes - a.nodes,
      moves: movesPerPool.get(pool) ?? 0,
      lowerBound: spansPools ? null : sumBounds(own),
      gapGpus: spansPools ? null : own.reduce((s, c) => s + c.gapGpus, 0),
      classes: own,
    };
  });

  const freedGpus: ConsolidationPlan["freedGpus"][number][] = [];
  const freedNodes: string[] = [];
  let g = 0;
  snapshot.nodes.forEach((node, n) => {
    for (const gpu of node.gpus) {
      if (state.wasInUseInitially(g) && !state.isInUse(g))
        freedGpus.push({ node: node.name, uuid: gpu.uuid, index: gpu.index });
      g++;
    }
    if (state.initialGpusInUseOnNode(n) > 0 && state.gpusInUseOnNode(n) === 0) freedNodes.push(node.name);
  });

  const fragBefore = fleetFragmentation(snapshot);
  const fragAfter = moves.length === 0 ? fragBefore : fleetFragmentation(applyMoves(snapshot, moves, loads.shares));
  const immovable: Record<string, number> = {};
  for (let r = 0; r < state.replicaCount; r++) {
    const reason = state.staysReasonOf(r);
    if (reason !== undefined) immovable[reason] = (immovable[reason] ?? 0) + 1;
  }
  const lowerBound = sumBounds(classes);

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
    classes,
    lowerBound,
    gapGpus: classes.reduce((s, c) => s + c.gapGpus, 0),
    fragmentation: {
      before: fragBefore.total,
      after: fragAfter.total,
      pools: fragBefore.pools.map((p) => ({
        pool: p.pool,
        before: p,
        after: fragAfter.pools.find((q) => q.pool === p.pool) ?? p,
      })),
    },
    immovable,
    check: { isValid: check.isValid, movesChecked: moves.length },
    searchVariant: heuristic.variant,
    planMs: performance.now() - started,
    exactMs,
  };
}
