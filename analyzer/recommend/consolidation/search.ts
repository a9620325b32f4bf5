/**
 * The consolidation search: empty GPUs (then whole nodes) by drains (consolidate-drain.ts) that
 * move replicas into gaps on GPUs that stay in use, keeping only the drains that pay off, so that
 * only replicas on emptied GPUs move; a replica moves at most once and never wakes an empty node.
 *
 * Phases: drain single GPUs, emptiest first (by replicas, by node, by memory, or shuffled); drain
 * whole nodes, emptiest first; on small fleets drain pairs of GPUs and repack whole classes
 * (consolidate-repack.ts). Phases run in rounds until a round changes nothing. The order matters
 * (which gaps the first drains fill), so the search restarts with several orders and keeps the plan
 * with the fewest GPUs in use, then nodes in use, then moves. On small fleets most restarts
 * explore: seeded random orders, second-best destinations and drains that free nothing, so a
 * restart can leave the greedy path. This is Karpenter's consolidation practice (simulate, and only
 * disrupt when every pod has somewhere to go) with best-fit-decreasing placement (FFD/BFD bounds:
 * Johnson 1973; Dósa 2007) and ejection chains.
 */
import type { FleetSnapshot } from "../../fleet/snapshot.js";
import { fleetLoads, type ConsolidationConfig, type FleetLoads } from "../constraints.js";
import { tryDrain, used } from "./drain.js";
import { EXACT_NODES, EXACT_NODES_SMALL_FLEET, exactPhase } from "./exact.js";
import { repackClass } from "./repack.js";
import { PackingState, type SearchMove } from "./packing-state.js";

export interface SearchResult {
  readonly state: PackingState;
  readonly moves: readonly SearchMove[];
  /** Which order won (for benchmarks and debugging). */
  readonly variant: string;
}

type Phase = "gpus-by-replicas" | "gpus-by-node" | "gpus-by-memory" | "gpus-shuffled" | "gpu-pairs" | "nodes" | "repack" | "exact";

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
/**
 * Orders with the exact neighbourhood (consolidate-exact.ts), for small fleets, tried after all the
 * others (so adding them changed no other restart's seed): from the start, and after the drains.
 */
const EXACT_VARIANTS: readonly (readonly Phase[])[] = [
  ["exact", "gpus-by-replicas", "gpu-pairs", "nodes"],
  ["gpus-by-replicas", "exact", "nodes"],
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
const EXPLORED_ORDERS = 300;
/** Replicas up to which the search tries ejection chains. */
const EJECTION_UP_TO = 2000;
const MAX_ROUNDS = 4;



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

function runPhase(state: PackingState, phase: Phase, moves: SearchMove[], memo: FailureMemo, random: () => number, exactBudget: { left: number }): boolean {
  let changed = false;
  if (phase === "exact") return exactPhase(state, moves, exactBudget);
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
  const exactBudget = { left: snapshot.replicas.length <= EXPLORED_UP_TO ? EXACT_NODES_SMALL_FLEET : EXACT_NODES };
  for (let round = 0; round < MAX_ROUNDS; round++) {
    let changed = false;
    for (const phase of phases) {
      changed = runPhase(state, phase, moves, memo, random, exactBudget) || changed;
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
  const orders = Array.from({ length: count }, (_, i) => fixed[i] ?? (exploring[(i - fixed.length) % exploring.length] as readonly Phase[]));
  return isSmall && config.search.restarts === null ? [...orders, ...EXACT_VARIANTS] : orders;
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
