/**
 * The consolidation search: empty GPUs (then whole nodes) by moving their replicas into gaps on GPUs
 * that stay in use, best fit decreasing, and keep only the drains that pay off.
 *
 * A drain takes a set of GPUs (one GPU, or every used GPU of one node), lifts every replica touching
 * them, largest first (tensor-parallel replicas first), and places each on the fullest GPU (or
 * NVLink domain) that still takes it. It is kept when it lowers the number of GPUs in use, or keeps
 * it and lowers the number of nodes in use; otherwise it is undone. Only replicas on drained GPUs
 * move, so every move frees capacity; a replica moves at most once, and the GPUs that received one
 * are never drained after. Drains never wake an empty node.
 *
 * Candidates are tried emptiest first, in rounds until a round changes nothing. The order matters
 * (which gaps the first drains fill), so the search restarts with a few orders and keeps the plan
 * with the most GPUs freed, then nodes freed, then the fewest moves. This is the descheduling
 * strategy of Karpenter's consolidation (simulate, then only disrupt when every pod has somewhere to
 * go) with best-fit-decreasing placement; FFD/BFD bounds in Johnson (1973) and Dósa (2007).
 */
import type { FleetSnapshot } from "../fleet/snapshot.js";
import { fleetLoads, type ConsolidationConfig, type FleetLoads } from "./constraints.js";
import { repackClass } from "./consolidate-repack.js";
import { PackingState, type PlacementClass, type SearchMove } from "./consolidate-state.js";


export interface SearchResult {
  readonly state: PackingState;
  readonly moves: readonly SearchMove[];
  /** Which order won (for benchmarks and debugging). */
  readonly variant: string;
}

type Phase = "gpus-by-replicas" | "gpus-by-node" | "gpus-by-memory" | "gpus-shuffled" | "gpu-pairs" | "nodes" | "repack";

/** The orders tried, best kept. The first is the one used alone on large fleets. */
const VARIANTS: readonly (readonly Phase[])[] = [
  ["gpus-by-replicas", "nodes"],
  ["nodes", "gpus-by-replicas"],
  ["gpus-by-node", "nodes"],
  ["gpus-by-memory", "nodes"],
];
/** Orders with the repack neighbourhood, for small fleets; the exploring ones are shuffled. */
const REPACK_VARIANTS: readonly (readonly Phase[])[] = [
  ["gpus-by-replicas", "gpu-pairs", "nodes"],
  ["repack", "gpus-by-replicas", "gpu-pairs", "nodes"],
  ["gpus-by-replicas", "repack", "nodes"],
];
const EXPLORING: readonly (readonly Phase[])[] = [
  ["gpus-shuffled", "gpu-pairs", "nodes"],
  ["nodes", "gpus-shuffled", "gpu-pairs"],
  ["repack", "gpus-shuffled", "gpu-pairs", "nodes"],
  ["gpus-shuffled", "repack", "nodes"],
];
/** In-use GPUs up to which the search tries to empty two GPUs at once. */
const PAIRS_UP_TO = 64;

/** Replicas up to which every order is tried when the config does not say. */
const ALL_VARIANTS_UP_TO = 2000;
/** Up to this many replicas, also this many shuffled orders (seeded, so plans stay deterministic). */
const SHUFFLED_UP_TO = 200;
const SHUFFLED_ORDERS = 24;
/** Up to this many replicas, this many exploring restarts instead. */
const EXPLORED_UP_TO = 60;
const EXPLORED_ORDERS = 96;
/** Replicas up to which the search tries ejection chains. */
const EJECTION_UP_TO = 2000;
/** GPUs tried as room for an ejection chain before giving up on a replica. */
const EJECTION_TRIES = 16;
/** Share of drains that free nothing kept by an exploring restart. */
const NEUTRAL_RATE = 0.2;
const MAX_ROUNDS = 4;


/**
 * When the search explores (shuffled restarts), it sometimes takes the second or third best
 * destination instead of the best, so restarts reach states the greedy order never does.
 */
function pickRank(state: PackingState, available: number): number {
  const random = state.explore;
  if (random === undefined || available <= 1) return 0;
  const x = random();
  return x < 0.6 ? 0 : x < 0.85 || available === 2 ? 1 : 2;
}

/** The tightest GPU for a one-GPU replica: fullest first, skipping GPUs or nodes that refuse it. */
function destinationForOne(state: PackingState, r: number, cls: PlacementClass, canWake: boolean): number[] | undefined {
  const index = cls.index;
  const wanted = state.explore === undefined ? 1 : 3;
  const found: number[] = [];
  for (let i = index.firstAtLeast(state.size[r] as number); i < index.length && found.length < wanted; i++) {
    const g = index.at(i);
    const n = state.gpuNode[g] as number;
    if ((state.nodeInUse[n] as number) === 0 || (!canWake && !state.isInUse(g))) continue;
    if (!state.gpuTakes(r, g) || !state.nodeTakes(r, n)) continue;
    found.push(g);
  }
  if (found.length === 0) return undefined;
  return [found[pickRank(state, found.length)] as number];
}

/**
 * The NVLink domain for a tensor-parallel replica: in each domain of its class on a node in use,
 * the t GPUs that take it, used GPUs before idle ones and fullest first; the domain waking the
 * fewest idle GPUs, then leaving the least memory free on them, wins.
 */
function destinationForGroup(state: PackingState, r: number, cls: PlacementClass, tp: number): number[] | undefined {
  const isExploring = state.explore !== undefined;
  const options: { gpus: number[]; woken: number; left: number }[] = [];
  let bestWoken = Infinity;
  let bestLeft = Infinity;
  const size = state.size[r] as number;
  const fits: number[] = [];
  for (const id of cls.domains) {
    const room = state.domainRoom(id, tp, size);
    if (room.count < tp || (!isExploring && bestWoken === 0 && room.left >= bestLeft)) continue;
    const domain = state.domains[id] as number[];
    const n = state.gpuNode[domain[0] as number] as number;
    if ((state.nodeInUse[n] as number) === 0 || !state.nodeTakes(r, n)) continue;
    fits.length = 0;
    for (const g of domain) if (state.gpuTakes(r, g)) fits.push(g);
    if (fits.length < tp) continue;
    fits.sort((a, b) => Number(state.isInUse(b)) - Number(state.isInUse(a)) || state.free(a) - state.free(b) || a - b);
    let woken = 0;
    let left = 0;
    for (let i = 0; i < tp; i++) {
      const g = fits[i] as number;
      if (!state.isInUse(g)) woken++;
      left += state.free(g) - size;
    }
    if (isExploring) options.push({ gpus: fits.slice(0, tp), woken, left });
    else if (woken < bestWoken || (woken === bestWoken && left < bestLeft)) {
      options[0] = { gpus: fits.slice(0, tp), woken, left };
      bestWoken = woken;
      bestLeft = left;
    }
  }
  if (options.length === 0) return undefined;
  options.sort((a, b) => a.woken - b.woken || a.left - b.left);
  return (options[pickRank(state, options.length)] as (typeof options)[number]).gpus;
}

/** Where replica r (lifted) goes: a GPU in use, or with `canWake` an idle GPU of a node in use too. */
function destination(state: PackingState, r: number, tp: number, canWake = true): number[] | undefined {
  const cls = state.classes[state.replicaClass[r] as number] as PlacementClass;
  return tp === 1 ? destinationForOne(state, r, cls, canWake) : destinationForGroup(state, r, cls, tp);
}

/**
 * One drain, applied move by move and undone as a whole unless kept: the replicas it lifted, their
 * budgets and where they went.
 */
class Transaction {
  readonly journal: { replica: number; from: number[]; to: number[] }[] = [];
  /** Moves per model in the journal, and lifted replicas not placed yet (budgets count both). */
  private readonly perModel = new Map<number, number>();
  private readonly pending = new Map<number, number>();
  private pendingTotal = 0;
  private readonly movedNow = new Set<number>();

  constructor(private readonly state: PackingState) {}

  private budgetAllows(model: number, extra: number): boolean {
    const planned = (this.state.modelMoves[model] as number) + (this.perModel.get(model) ?? 0) + (this.pending.get(model) ?? 0);
    return planned + extra <= (this.state.modelBudget[model] as number);
  }

  private movesAllow(extra: number): boolean {
    return this.state.movesMade + this.journal.length + this.pendingTotal + extra <= this.state.maxMoves;
  }

  private record(replica: number, from: number[], to: number[]): void {
    this.journal.push({ replica, from, to });
    const model = this.state.replicaModel[replica] as number;
    this.perModel.set(model, (this.perModel.get(model) ?? 0) + 1);
    this.movedNow.add(replica);
  }

  /**
   * Empties `gpus` (all replicas on them move, fullest tensor-parallel groups first, then largest)
   * or leaves the state as it was and returns false.
   */
  drain(gpus: readonly number[]): boolean {
    const { state } = this;
    const lifted: number[] = [];
    const counts = new Map<number, number>();
    for (const g of gpus) {
      if (state.hasBaseline[g]) return false;
      for (const r of state.residents[g] as number[]) {
        if (lifted.includes(r)) continue;
        if (state.blocker(r) !== undefined || this.movedNow.has(r)) return false;
        const model = state.replicaModel[r] as number;
        const count = (counts.get(model) ?? 0) + 1;
        if (!this.budgetAllows(model, count)) return false;
        counts.set(model, count);
        lifted.push(r);
      }
    }
    if (lifted.length === 0 || !this.movesAllow(lifted.length)) return false;
    const tp = (r: number): number => (state.replicaGpus[r] as number[]).length;
    // Largest first, by memory, and if that fails by the larger of the memory and compute shares
    // (two-dimensional items: either resource may be the one that does not fit).
    const byMemory = [...lifted].sort((a, b) => tp(b) - tp(a) || (state.size[b] as number) - (state.size[a] as number) || a - b);
    const weight = (r: number): number => Math.max((state.size[r] as number) / (state.usable[(state.replicaGpus[r] as number[])[0] as number] as number), (state.share[r] as number) / state.computeCeiling);
    const byEither = [...lifted].sort((a, b) => tp(b) - tp(a) || weight(b) - weight(a) || a - b);
    for (const g of gpus) state.draining[g] = 1;
    let isPlaced = this.placeAll(byMemory, counts);
    if (!isPlaced && lifted.length > 1 && byEither.some((r, i) => r !== byMemory[i])) isPlaced = this.placeAll(byEither, counts);
    for (const g of gpus) state.draining[g] = 0;
    return isPlaced;
  }

  /** Places the lifted replicas in `order`, all or none (then the state is as before). */
  private placeAll(order: readonly number[], counts: ReadonlyMap<number, number>): boolean {
    const { state } = this;
    const mark = this.journal.length;
    for (const [model, count] of counts) this.pending.set(model, (this.pending.get(model) ?? 0) + count);
    this.pendingTotal += order.length;
    let isPlaced = true;
    for (const r of order) {
      const model = state.replicaModel[r] as number;
      this.pending.set(model, (this.pending.get(model) as number) - 1);
      this.pendingTotal--;
      if (!isPlaced) continue;
      const from = state.lift(r);
      // A GPU in use first, then room made by an ejection, and only then an idle GPU (which costs one).
      const to =
        from.length === 1
          ? (destination(state, r, 1, false) ?? (state.canEject ? this.ejectFor(r, from) : undefined) ?? destination(state, r, 1, true))
          : destination(state, r, from.length);
      if (to === undefined) {
        state.place(r, from);
        isPlaced = false;
        continue;
      }
      state.place(r, to);
      this.record(r, from, to);
    }
    if (!isPlaced) this.rollback(mark);
    return isPlaced;
  }

  /**
   * Makes room for one-GPU replica r (lifted, its GPU draining): on the fullest GPU h that would
   * take r once one of its one-GPU replicas e (free to move; of another model when a spread limit
   * applies, whose count on r's old node the plan's order would change) moved elsewhere, move e
   * first (a depth-one ejection chain). Returns r's destination with e's move recorded, or
   * undefined with the state unchanged.
   */
  private ejectFor(r: number, from: readonly number[]): number[] | undefined {
    const { state } = this;
    const cls = state.classes[state.replicaClass[r] as number] as PlacementClass;
    const model = state.replicaModel[r] as number;
    if (!this.movesAllow(2)) return undefined;
    let tried = 0;
    for (let i = cls.index.firstAtLeast(0); i < cls.index.length && tried < EJECTION_TRIES; i++) {
      const h = cls.index.at(i);
      const n = state.gpuNode[h] as number;
      if (state.draining[h] || !state.isInUse(h) || from.includes(h) || !state.nodeTakes(r, n)) continue;
      tried++;
      for (const e of [...(state.residents[h] as number[])]) {
        const eModel = state.replicaModel[e] as number;
        if ((eModel === model && state.modelSpread[model] !== Infinity) || (state.replicaGpus[e] as number[]).length !== 1 || state.blocker(e) !== undefined || this.movedNow.has(e) || !this.budgetAllows(eModel, 1)) continue;
        const eFrom = state.lift(e);
        if (!state.gpuTakes(r, h)) {
          state.place(e, eFrom);
          continue;
        }
        state.draining[h] = 1;
        const eTo = destination(state, e, 1, false);
        state.draining[h] = 0;
        // Waking an idle GPU for e would cost the GPU the drain is meant to free.
        if (eTo === undefined || !eTo.every((g) => state.isInUse(g))) {
          state.place(e, eFrom);
          continue;
        }
        state.place(e, eTo);
        if (!state.gpuTakes(r, h) || !state.nodeTakes(r, n)) {
          state.lift(e);
          state.place(e, eFrom);
          continue;
        }
        this.record(e, eFrom, eTo);
        return [h];
      }
    }
    return undefined;
  }

  /** Undoes the moves from position `mark` on, newest first. */
  rollback(mark = 0): void {
    while (this.journal.length > mark) {
      const step = this.journal.pop() as (typeof this.journal)[number];
      this.state.lift(step.replica);
      this.state.place(step.replica, step.from);
      this.movedNow.delete(step.replica);
      const model = this.state.replicaModel[step.replica] as number;
      this.perModel.set(model, (this.perModel.get(model) as number) - 1);
    }
  }

  /** Keeps the moves (see PackingState.commit). */
  commit(what: string): SearchMove[] {
    return this.state.commit(this.journal, what);
  }
}

/**
 * Tries to empty `gpus`: every replica on them moves or nothing does. A tensor-parallel replica
 * that moves lightens its other GPUs too; those are then drained as well when they can be (a
 * chain a one-GPU drain could not pay for alone). The drain is kept when it lowers the GPUs in use,
 * or the nodes in use at equal GPUs; otherwise the state is restored and undefined returned.
 */
function tryDrain(state: PackingState, gpus: readonly number[], what: string): SearchMove[] | undefined {
  const gpusBefore = state.gpusInUse;
  const nodesBefore = state.nodesInUse;
  const tx = new Transaction(state);
  if (!tx.drain(gpus)) return undefined;
  const tried = new Set(gpus);
  for (let depth = 0; depth < 2; depth++) {
    const lighter = new Set<number>();
    for (const step of tx.journal) for (const g of step.from) if (!tried.has(g) && state.isInUse(g) && !state.hasBaseline[g]) lighter.add(g);
    if (lighter.size === 0) break;
    for (const g of [...lighter].sort((a, b) => used(state, a) - used(state, b) || a - b)) {
      tried.add(g);
      if (state.isInUse(g)) tx.drain([g]);
    }
  }
  const pays = state.gpusInUse < gpusBefore || (state.gpusInUse === gpusBefore && state.nodesInUse < nodesBefore);
  // Exploring restarts sometimes keep a drain that frees nothing, to leave a local optimum.
  const isDetour = state.explore !== undefined && state.gpusInUse === gpusBefore && state.nodesInUse <= nodesBefore && state.explore() < NEUTRAL_RATE;
  if (!pays && !isDetour) {
    tx.rollback();
    return undefined;
  }
  return tx.commit(what);
}

/** Memory reserved on GPU g (its replicas and baseline). */
const used = (state: PackingState, g: number): number => state.memory[g] as number;

/** A small seeded generator (splitmix-style), so shuffled orders are the same on every run. */
function seeded(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 0x1_0000_0000;
  };
}

function gpuCandidates(state: PackingState, phase: Phase, random: () => number): number[] {
  const list: number[] = [];
  for (let g = 0; g < state.gpuNode.length; g++) if (state.isInUse(g) && !state.hasBaseline[g]) list.push(g);
  const replicas = (g: number): number => (state.residents[g] as number[]).length;
  const nodeLoad = (g: number): number => state.nodeInUse[state.gpuNode[g] as number] as number;
  if (phase === "gpus-by-replicas") list.sort((a, b) => replicas(a) - replicas(b) || used(state, a) - used(state, b) || a - b);
  else if (phase === "gpus-by-node") list.sort((a, b) => nodeLoad(a) - nodeLoad(b) || (state.gpuNode[a] as number) - (state.gpuNode[b] as number) || used(state, a) - used(state, b) || a - b);
  else if (phase === "gpus-by-memory") list.sort((a, b) => used(state, a) - used(state, b) || a - b);
  else {
    const key = new Map(list.map((g) => [g, replicas(g) + 2 * random()]));
    list.sort((a, b) => (key.get(a) as number) - (key.get(b) as number) || a - b);
  }
  return list;
}

/**
 * Failed drains, remembered with the epochs of the classes involved: a drain that failed is tried
 * again only after a drain was kept in one of its replicas' classes (before that, the state it
 * would see is the same, so it would fail the same way).
 */
class FailureMemo {
  private readonly gpus: Float64Array;
  private readonly nodes: Float64Array;

  constructor(private readonly state: PackingState) {
    this.gpus = new Float64Array(state.gpuNode.length);
    this.nodes = new Float64Array(state.nodes.length);
  }

  private epoch(gpus: readonly number[]): number {
    let sum = 1;
    for (const g of gpus) for (const r of this.state.residents[g] as number[]) sum += this.state.classEpoch[this.state.replicaClass[r] as number] as number;
    return sum;
  }

  isKnownToFail(kind: "gpu" | "node", key: number, gpus: readonly number[]): boolean {
    const table = kind === "gpu" ? this.gpus : this.nodes;
    return table[key] === this.epoch(gpus);
  }

  remember(kind: "gpu" | "node", key: number, gpus: readonly number[]): void {
    (kind === "gpu" ? this.gpus : this.nodes)[key] = this.epoch(gpus);
  }
}

function runPhase(state: PackingState, phase: Phase, moves: SearchMove[], memo: FailureMemo, random: () => number): boolean {
  let changed = false;
  if (phase === "repack") {
    for (let c = 0; c < state.classes.length; c++) {
      const made = repackClass(state, c, state.explore);
      if (made === undefined) continue;
      for (const move of made) moves.push(move);
      changed = true;
    }
    return changed;
  }
  const attempt = (kind: "gpu" | "node", key: number, gpus: readonly number[], what: string): void => {
    if (memo.isKnownToFail(kind, key, gpus)) return;
    const made = tryDrain(state, gpus, what);
    if (made === undefined) {
      memo.remember(kind, key, gpus);
      return;
    }
    for (const move of made) moves.push(move);
    changed = true;
  };
  if (phase === "nodes") {
    const nodes: { n: number; gpus: number; memory: number }[] = [];
    state.nodeGpus.forEach((all, n) => {
      if ((state.nodeInUse[n] as number) === 0) return;
      let memory = 0;
      for (const g of all) memory += used(state, g);
      nodes.push({ n, gpus: state.nodeInUse[n] as number, memory });
    });
    nodes.sort((a, b) => a.gpus - b.gpus || a.memory - b.memory || a.n - b.n);
    for (const { n } of nodes) {
      if (state.movesMade >= state.maxMoves) break;
      const live = (state.nodeGpus[n] as number[]).filter((g) => state.isInUse(g));
      if (live.length > 0) attempt("node", n, live, `empties node ${(state.nodes[n] as { name: string }).name}`);
    }
    return changed;
  }
  if (phase === "gpu-pairs") {
    const gpus = gpuCandidates(state, "gpus-by-memory", random);
    if (gpus.length > PAIRS_UP_TO) return false;
    for (let i = 0; i < gpus.length; i++) {
      for (let j = i + 1; j < gpus.length; j++) {
        const a = gpus[i] as number;
        const b = gpus[j] as number;
        if (state.movesMade >= state.maxMoves) return changed;
        if (!state.isInUse(a) || !state.isInUse(b) || state.gpuClass[a] !== state.gpuClass[b]) continue;
        const made = tryDrain(state, [a, b], `empties GPUs ${state.gpuLabel[a]} and ${state.gpuLabel[b]}`);
        if (made === undefined) continue;
        for (const move of made) moves.push(move);
        changed = true;
      }
    }
    return changed;
  }
  for (const g of gpuCandidates(state, phase, random)) {
    if (state.movesMade >= state.maxMoves) break;
    if (state.isInUse(g)) attempt("gpu", g, [g], `empties GPU ${state.gpuLabel[g]}`);
  }
  return changed;
}

function runVariant(snapshot: FleetSnapshot, config: ConsolidationConfig, loads: FleetLoads, phases: readonly Phase[], seed: number): SearchResult {
  const random = seeded(seed);
  const state = new PackingState(snapshot, config, loads);
  if (phases.includes("gpus-shuffled")) state.explore = random;
  state.canEject = snapshot.replicas.length <= EJECTION_UP_TO;
  const moves: SearchMove[] = [];
  const memo = new FailureMemo(state);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    let changed = false;
    for (const phase of phases) {
      changed = runPhase(state, phase, moves, memo, random) || changed;
    }
    if (!changed) break;
  }
  return { state, moves, variant: phases.join(" → ") };
}

const isBetter = (a: SearchResult, b: SearchResult): boolean =>
  a.state.gpusInUse < b.state.gpusInUse ||
  (a.state.gpusInUse === b.state.gpusInUse && (a.state.nodesInUse < b.state.nodesInUse || (a.state.nodesInUse === b.state.nodesInUse && a.moves.length < b.moves.length)));

/** The orders to try: the fixed ones, then (small fleets) repacking and exploring ones, or as many as configured. */
function variants(replicas: number, config: ConsolidationConfig): (readonly Phase[])[] {
  const isSmall = replicas <= SHUFFLED_UP_TO;
  const fixed = isSmall ? [...VARIANTS, ...REPACK_VARIANTS] : [...VARIANTS];
  const automatic = replicas <= EXPLORED_UP_TO ? fixed.length + EXPLORED_ORDERS : isSmall ? fixed.length + SHUFFLED_ORDERS : replicas <= ALL_VARIANTS_UP_TO ? fixed.length : 1;
  const count = Math.max(1, config.search.restarts ?? automatic);
  const exploring = isSmall ? EXPLORING : EXPLORING.filter((phases) => !phases.includes("repack"));
  return Array.from({ length: count }, (_, i) => fixed[i] ?? (exploring[(i - fixed.length) % exploring.length] as readonly Phase[]));
}

/** Runs the search with every configured order and returns the best plan. Deterministic. */
export function searchConsolidation(snapshot: FleetSnapshot, config: ConsolidationConfig, loads: FleetLoads = fleetLoads(snapshot)): SearchResult {
  let best: SearchResult | undefined;
  variants(snapshot.replicas.length, config).forEach((phases, i) => {
    const result = runVariant(snapshot, config, loads, phases, i + 1);
    if (best === undefined || isBetter(result, best)) best = result;
  });
  return best as SearchResult;
}
