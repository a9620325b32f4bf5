/**
 * The consolidation of one placement class as a MILP, under the constraint set of the independent
 * checker (constraints.ts), on the final placement:
 *
 * - y(r,p) = 1 when replica r ends on placement p: where it stands, or a set of GPUs of the class
 *   that can take it (one GPU; for tensor-parallel degree t, t GPUs of one NVLink domain of one
 *   node), on a node its pool, taints, nodeSelector and KV-cache pressure admit, healthy, not
 *   serving a model that burns its SLO (with `protectBurningGpus`), with room beside what cannot
 *   move there, and no replica of another tier that cannot move (with `isolateTiers`). Replicas that
 *   may not move (pinned, SLO burning, MIG, no budget) are constants.
 * - u(g) = 1 when GPU g holds anything; v(n) = 1 when node n does.
 * - Memory and compute of a GPU that receives a replica stay within the headroom and the ceiling; a
 *   GPU already over a limit may stay over while nothing arrives (a(g) = 1 when something does).
 * - With `isolateTiers`, a GPU that receives a replica of tier k holds only tier k at the end.
 * - The spread limit holds on a node that receives a replica of the model from another node.
 * - At most the model's budget of its replicas move, and at most the plan's moves.
 *
 * Each of these is implied by any plan the checker accepts: the last arrival on a GPU (or node) met
 * the limit, and only departures follow. So the model is a relaxation of the plans (it ignores the
 * order of moves), and its optimum bounds every plan from below; a solution is turned into a plan by
 * ordering its moves one at a time (sequence.ts), which succeeds on all but rare cyclic swaps.
 *
 * Objective, lexicographic as one weighted sum: GPUs in use, then nodes in use, then moves —
 * Wg·Σu + Wn·Σv + Σ moves with Wn = movable replicas + 1 and Wg = (nodes + 1)·Wn, exact because
 * Σ moves < Wn and Wn·Σv < Wg. Every coefficient is an integer, so the objective is integral. The
 * class's lower bound (bounds.ts) is added as a valid cut Σu ≥ bound.
 */
import type { PackingState } from "../packing-state.js";
import { enumerateClass, sameSet, type ClassRestriction } from "./class-placements.js";
import { SparseMilpBuilder, type SparseMilp } from "./sparse-model.js";
import { GIB } from "../../../../common/units.js";

/** What the moves of one class may still spend: per model (indexed like the state's models) and in all. */
export interface MoveBudget {
  readonly perModel: Int32Array;
  readonly total: number;
}

/** One class's MILP and how to read its columns back. */
export interface ClassMilp {
  readonly model: SparseMilp;
  /** Replicas that may move, and per replica its placements (GPU sets) and their columns; placement 0 is where it stands. */
  readonly replicas: readonly number[];
  readonly placements: readonly (readonly (readonly number[])[])[];
  readonly placementColumns: readonly Int32Array[];
  /** GPUs of the class and their u columns; nodes and their v columns. */
  readonly gpus: readonly number[];
  readonly gpuColumns: Int32Array;
  readonly nodes: readonly number[];
  readonly nodeColumns: Int32Array;
  readonly weightGpu: number;
  readonly weightNode: number;
  /** A full start vector for a final placement of the replicas (GPU lists by replica), or undefined when one is not among the placements. */
  startFor(targets: ReadonlyMap<number, readonly number[]>): Float64Array | undefined;
  /** The final placement a solution chooses, by replica. */
  decode(values: Float64Array): Map<number, number[]>;
  /** The columns of placing each replica on the GPUs given (undefined for a placement not enumerated). */
  columnsOf(targets: ReadonlyMap<number, readonly number[]>): number[] | undefined;
}

/** Deferred terms of a per-GPU or per-node constraint, gathered while placements are enumerated. */
interface GpuTerms {
  memory: number[];
  memoryCoef: number[];
  compute: number[];
  computeCoef: number[];
}

/**
 * Builds the MILP of class `c` from `state` as it stands (the initial placement). Returns undefined
 * when nothing in the class may move, or when it would need more than MAX_PLACEMENTS placements.
 */
export function buildClassMilp(
  state: PackingState,
  c: number,
  budget: MoveBudget,
  classBound: number,
  restrict?: ClassRestriction,
): ClassMilp | undefined {
  const enumerated = enumerateClass(state, c, restrict);
  if (enumerated === undefined) return undefined;
  const {
    config,
    classGpus,
    inClass,
    classIndex,
    replicas,
    isMovable,
    fixedMemory,
    fixedLoad,
    holdsFixed,
    fixedTiers,
    placements,
    ceiling,
  } = enumerated;
  const G = state.gpuCount;
  const isolate = config.placement.isolateTiers;
  const b = new SparseMilpBuilder();
  // Nodes with GPUs of the class; a node that also has GPUs of other classes in use stays in use.
  const nodes = [...new Set(classGpus.map((g) => state.gpuNodeOf(g)))];
  const weightNode = replicas.length + 1;
  const weightGpu = (nodes.length + 1) * weightNode;
  const nodeColumn = new Map<number, number>();
  for (const n of nodes) {
    const column = b.binary(weightNode);
    nodeColumn.set(n, column);
    const isHeldElsewhere = state.gpusOfNode(n).some((g) => inClass[g] === 0 && state.isInUse(g));
    if (isHeldElsewhere) b.fix(column, 1);
  }
  const gpuColumn = new Int32Array(G).fill(-1);
  for (const g of classGpus) {
    const column = b.binary(weightGpu);
    gpuColumn[g] = column;
    if (holdsFixed[g] === 1) b.fix(column, 1);
    else if (restrict?.emptied?.has(g) === true) b.fix(column, 0);
    b.row(-Infinity, 0, [column, nodeColumn.get(state.gpuNodeOf(g)) ?? 0], [1, -1]);
  }
  // Symmetry: empty GPUs of one NVLink domain (or of one node, without NVLink) that are alike are
  // interchangeable in every solution (same node, same room, nobody stands on them), so the solver
  // may fill them in index order. Without this it proves the same infeasibility once per order.
  // (Not in a neighbourhood, whose destinations single some of them out.)
  const alike = new Map<string, number[]>();
  for (const g of classGpus) {
    if (holdsFixed[g] === 1 || state.residentsOf(g).length > 0 || state.receivingClassOf(g) !== c) continue;
    const key = `${state.gpuNodeOf(g)}/${state.domainOf(g)}/${state.usableOf(g)}/${state.servesBurningOn(g)}`;
    const list = alike.get(key) ?? [];
    list.push(g);
    alike.set(key, list);
  }
  if (restrict === undefined)
    for (const list of alike.values())
      for (let i = 1; i < list.length; i++)
        b.row(0, Infinity, [gpuColumn[list[i - 1] ?? 0] ?? 0, gpuColumn[list[i] ?? 0] ?? 0], [1, -1]);
  // Moves: Σ (1 − y(r, where it stands)).
  b.offset = replicas.length;
  const placementColumns: Int32Array[] = [];
  const terms: GpuTerms[] = classGpus.map(() => ({ memory: [], memoryCoef: [], compute: [], computeCoef: [] }));
  /** Per GPU and replica: columns of placements using the GPU, and of those that arrive (not where it stands). */
  const usesOf = new Map<number, Map<number, { all: number[]; arriving: number[] }>>();
  replicas.forEach((r, i) => {
    const list = placements[i] ?? [];
    const columns = new Int32Array(list.length);
    list.forEach((gpus, p) => {
      const column = b.binary(p === 0 ? -1 : 0);
      columns[p] = column;
      for (const g of gpus) {
        const t = terms[classIndex[g] ?? 0];
        if (t === undefined) continue;
        t.memory.push(column);
        t.memoryCoef.push(state.sizeOf(r) / GIB);
        t.compute.push(column);
        t.computeCoef.push(state.shareOf(r));
        let byReplica = usesOf.get(g);
        if (byReplica === undefined)
          usesOf.set(g, (byReplica = new Map<number, { all: number[]; arriving: number[] }>()));
        let uses = byReplica.get(r);
        if (uses === undefined) byReplica.set(r, (uses = { all: [], arriving: [] }));
        uses.all.push(column);
        if (p > 0) uses.arriving.push(column);
      }
    });
    b.row(
      1,
      1,
      [...columns],
      Array.from(columns, () => 1),
    );
    placementColumns.push(columns);
  });

  // Per GPU: each replica using it forces it in use; memory and compute limits where something arrives.
  const arrivalColumn = new Int32Array(G).fill(-1);
  classGpus.forEach((g, i) => {
    const u = gpuColumn[g] ?? 0;
    const byReplica = usesOf.get(g) ?? new Map<number, { all: number[]; arriving: number[] }>();
    for (const uses of byReplica.values()) b.row(-Infinity, 0, [...uses.all, u], [...uses.all.map(() => 1), -1]);
    const t = terms[i];
    if (t === undefined || t.memory.length === 0) return;
    const usable = state.usableOf(g) / GIB;
    const memoryNow = state.memoryOf(g) / GIB;
    const loadNow = state.loadOf(g);
    const fixedMem = (fixedMemory[g] ?? 0) / GIB;
    const fixedCmp = fixedLoad[g] ?? 0;
    const isOver = memoryNow > usable || loadNow > ceiling;
    const hasArrivals = [...byReplica.values()].some((uses) => uses.arriving.length > 0);
    if (isOver && hasArrivals) {
      const a = b.binary(0);
      arrivalColumn[g] = a;
      for (const uses of byReplica.values())
        if (uses.arriving.length > 0) b.row(-Infinity, 0, [...uses.arriving, a], [...uses.arriving.map(() => 1), -1]);
      b.row(
        -Infinity,
        Math.max(usable, memoryNow) - fixedMem,
        [...t.memory, a],
        [...t.memoryCoef, Math.max(0, memoryNow - usable)],
      );
      b.row(
        -Infinity,
        Math.max(ceiling, loadNow) - fixedCmp,
        [...t.compute, a],
        [...t.computeCoef, Math.max(0, loadNow - ceiling)],
      );
    } else if (!isOver) {
      b.row(-Infinity, 0, [...t.memory, u], [...t.memoryCoef, -(usable - fixedMem)]);
      b.row(-Infinity, 0, [...t.compute, u], [...t.computeCoef, -(ceiling - fixedCmp)]);
    }
    // Over a limit with nothing able to arrive: it keeps at most its load; nothing to constrain.
  });

  // Tier isolation: a GPU that receives tier k ends holding tier k only.
  const tierColumns = new Map<number, Map<number, number>>();
  if (isolate) {
    for (const g of classGpus) {
      const byReplica = usesOf.get(g);
      if (byReplica === undefined) continue;
      const tiers = new Set<number>(fixedTiers[classIndex[g] ?? 0]);
      for (const r of byReplica.keys()) tiers.add(state.tierOf(r));
      if (tiers.size < 2) continue;
      const perTier = new Map<number, number>();
      for (const [r, uses] of byReplica) {
        if (uses.arriving.length === 0) continue;
        const tier = state.tierOf(r);
        let column = perTier.get(tier);
        if (column === undefined) perTier.set(tier, (column = b.binary(0)));
        b.row(-Infinity, 0, [...uses.arriving, column], [...uses.arriving.map(() => 1), -1]);
      }
      for (const [r, uses] of byReplica) {
        const others = [...perTier].filter(([tier]) => tier !== state.tierOf(r)).map(([, column]) => column);
        if (others.length > 0)
          b.row(-Infinity, 1, [...uses.all, ...others], [...uses.all.map(() => 1), ...others.map(() => 1)]);
      }
      tierColumns.set(g, perTier);
    }
  }

  // Spread: a node receiving a replica of model M from another node holds at most M's limit.
  const spreadColumns = new Map<string, number>();
  const byNodeModel = new Map<
    string,
    { node: number; model: number; stays: number[]; replicas: Set<number>; arrivals: Map<number, number[]> }
  >();
  replicas.forEach((r, i) => {
    const model = state.modelOf(r);
    if (state.spreadOf(model) === Infinity) return;
    (placements[i] ?? []).forEach((gpus, p) => {
      const n = state.gpuNodeOf(gpus[0] ?? 0);
      const key = `${n}/${model}`;
      let entry = byNodeModel.get(key);
      if (entry === undefined)
        byNodeModel.set(key, (entry = { node: n, model, stays: [], replicas: new Set(), arrivals: new Map() }));
      entry.replicas.add(r);
      const column = placementColumns[i]?.[p] ?? 0;
      entry.stays.push(column);
      if (n !== state.originNodeOf(r)) {
        const list = entry.arrivals.get(r) ?? [];
        list.push(column);
        entry.arrivals.set(r, list);
      }
    });
  });
  for (const [key, entry] of byNodeModel) {
    if (entry.arrivals.size === 0) continue;
    const limit = state.spreadOf(entry.model);
    let fixed = 0;
    for (const g of state.gpusOfNode(entry.node))
      for (const r of state.residentsOf(g))
        if (isMovable[r] === 0 && state.modelOf(r) === entry.model && state.gpusOf(r)[0] === g) fixed++;
    const most = fixed + entry.replicas.size;
    if (most <= limit) continue;
    const s = b.binary(0);
    spreadColumns.set(key, s);
    for (const list of entry.arrivals.values()) b.row(-Infinity, 0, [...list, s], [...list.map(() => 1), -1]);
    const big = most - limit;
    b.row(-Infinity, most - fixed, [...entry.stays, s], [...entry.stays.map(() => 1), big]);
  }

  // Budgets: moves per model and in all.
  const perModel = new Map<number, number[]>();
  replicas.forEach((r, i) => {
    const model = state.modelOf(r);
    const list = perModel.get(model) ?? [];
    list.push(placementColumns[i]?.[0] ?? 0);
    perModel.set(model, list);
  });
  for (const [model, stays] of perModel) {
    const allowed = budget.perModel[model] ?? 0;
    if (allowed < stays.length)
      b.row(
        stays.length - allowed,
        Infinity,
        stays,
        stays.map(() => 1),
      );
  }
  if (budget.total < replicas.length) {
    const stays = placementColumns.map((columns) => columns[0] ?? 0);
    b.row(
      replicas.length - Math.max(0, budget.total),
      Infinity,
      stays,
      stays.map(() => 1),
    );
  }
  // The class's lower bound, a valid cut.
  if (classBound > 0)
    b.row(
      classBound,
      Infinity,
      classGpus.map((g) => gpuColumn[g] ?? 0),
      classGpus.map(() => 1),
    );

  const model = b.build();
  const startFor = (targets: ReadonlyMap<number, readonly number[]>): Float64Array | undefined => {
    const x = new Float64Array(model.numCols);
    const load = new Map<number, number>();
    const arrivals = new Set<number>();
    const arrivingTiers = new Map<number, Set<number>>();
    const spreadArrivals = new Set<string>();
    for (let i = 0; i < replicas.length; i++) {
      const r = replicas[i] ?? 0;
      const target = targets.get(r) ?? state.gpusOf(r);
      const list = placements[i] ?? [];
      const p = list.findIndex((gpus) => sameSet(gpus, target));
      if (p < 0) return undefined;
      x[placementColumns[i]?.[p] ?? 0] = 1;
      for (const g of target) load.set(g, (load.get(g) ?? 0) + 1);
      if (p > 0) {
        for (const g of target) {
          arrivals.add(g);
          const set = arrivingTiers.get(g) ?? new Set<number>();
          set.add(state.tierOf(r));
          arrivingTiers.set(g, set);
        }
        const n = state.gpuNodeOf(target[0] ?? 0);
        if (n !== state.originNodeOf(r)) spreadArrivals.add(`${n}/${state.modelOf(r)}`);
      }
    }
    for (const g of classGpus) {
      const isUsed = (load.get(g) ?? 0) > 0 || model.colLower[gpuColumn[g] ?? 0] === 1;
      if (isUsed) {
        x[gpuColumn[g] ?? 0] = 1;
        x[nodeColumn.get(state.gpuNodeOf(g)) ?? 0] = 1;
      }
      if ((arrivalColumn[g] ?? -1) >= 0 && arrivals.has(g)) x[arrivalColumn[g] ?? 0] = 1;
      for (const [tier, column] of tierColumns.get(g) ?? [])
        if (arrivingTiers.get(g)?.has(tier) === true) x[column] = 1;
    }
    for (const n of nodes) if (model.colLower[nodeColumn.get(n) ?? 0] === 1) x[nodeColumn.get(n) ?? 0] = 1;
    for (const [key, column] of spreadColumns) if (spreadArrivals.has(key)) x[column] = 1;
    return x;
  };
  const decode = (values: Float64Array): Map<number, number[]> => {
    const out = new Map<number, number[]>();
    replicas.forEach((r, i) => {
      const columns = placementColumns[i] ?? new Int32Array(0);
      let best = 0;
      for (let p = 1; p < columns.length; p++)
        if ((values[columns[p] ?? 0] ?? 0) > (values[columns[best] ?? 0] ?? 0)) best = p;
      out.set(r, [...(placements[i]?.[best] ?? [])]);
    });
    return out;
  };
  const columnsOf = (targets: ReadonlyMap<number, readonly number[]>): number[] | undefined => {
    const out: number[] = [];
    for (const [r, gpus] of targets) {
      const i = replicas.indexOf(r);
      const p = (placements[i] ?? []).findIndex((list) => sameSet(list, gpus));
      const column = placementColumns[i]?.[p];
      if (i < 0 || p < 0 || column === undefined) return undefined;
      out.push(column);
    }
    return out;
  };
  return {
    model,
    columnsOf,
    replicas,
    placements,
    placementColumns,
    gpus: classGpus,
    gpuColumns: Int32Array.from(classGpus, (g) => gpuColumn[g] ?? 0),
    nodes,
    nodeColumns: Int32Array.from(nodes, (n) => nodeColumn.get(n) ?? 0),
    weightGpu,
    weightNode,
    startFor,
    decode,
  };
}
