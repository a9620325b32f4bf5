/**
 * The consolidation heuristic: empty GPUs (then whole nodes) by drains (drain.ts) that move
 * replicas into gaps on GPUs that stay in use, keeping only the drains that pay off, so that only
 * replicas on emptied GPUs move; a replica moves at most once and never wakes an empty node.
 *
 * Phases: drain single GPUs, emptiest first (by replicas, by node, or by memory); drain whole
 * nodes, emptiest first; on small fleets also drain pairs of GPUs and repack whole classes
 * (repack.ts). Phases run in rounds until a round changes nothing. The order matters (which gaps
 * the first drains fill), so the search restarts with several orders and keeps the plan with the
 * fewest GPUs in use, then nodes in use, then moves. This is Karpenter's consolidation practice
 * (simulate, and only disrupt when every pod has somewhere to go) with best-fit-decreasing
 * placement (FFD/BFD bounds: Johnson 1973; Dósa 2007) and ejection chains. Small classes are then
 * solved exactly (exact-classes.ts) from this plan.
 */
import type { FleetSnapshot } from "../../fleet/snapshot.js";
import { fleetLoads, type ConsolidationConfig, type FleetLoads } from "../constraints.js";
import { tryDrain, used } from "./drain.js";
import { repackClass } from "./repack.js";
import { PackingState, type SearchMove } from "./packing-state.js";

export interface SearchResult {
  readonly state: PackingState;
  readonly moves: readonly SearchMove[];
  /** Which order won (for benchmarks and debugging). */
  readonly variant: string;
}

type Phase = "gpus-by-replicas" | "gpus-by-node" | "gpus-by-memory" | "gpu-pairs" | "nodes" | "repack";

/** The orders tried, best kept. The first is the one used alone on large fleets. */
const VARIANTS: readonly (readonly Phase[])[] = [
  ["gpus-by-replicas", "nodes"],
  ["nodes", "gpus-by-replicas"],
  ["gpus-by-node", "nodes"],
  ["gpus-by-memory", "nodes"],
];
/** Orders with the repack neighbourhood, for small fleets. */
const REPACK_VARIANTS: readonly (readonly Phase[])[] = [
  ["gpus-by-replicas", "gpu-pairs", "nodes"],
  ["repack", "gpus-by-replicas", "gpu-pairs", "nodes"],
  ["gpus-by-replicas", "repack", "nodes"],
];
/** In-use GPUs up to which the search tries to empty two GPUs at once. */
const PAIRS_UP_TO = 64;

/** Replicas up to which every order is tried when the config does not say. */
const ALL_VARIANTS_UP_TO = 2000;
/** Replicas up to which the repacking orders are tried too. */
const REPACK_UP_TO = 200;
/** Replicas up to which the search tries ejection chains. */
const EJECTION_UP_TO = 2000;
const MAX_ROUNDS = 4;

function gpuCandidates(state: PackingState, phase: Phase): number[] {
  const list: number[] = [];
  for (let g = 0; g < state.gpuCount; g++) if (state.isInUse(g) && !state.hasBaselineOn(g)) list.push(g);
  const replicas = (g: number): number => state.residentsOf(g).length;
  const nodeLoad = (g: number): number => state.gpusInUseOnNode(state.gpuNodeOf(g));
  if (phase === "gpus-by-replicas")
    list.sort((a, b) => replicas(a) - replicas(b) || used(state, a) - used(state, b) || a - b);
  else if (phase === "gpus-by-node")
    list.sort(
      (a, b) =>
        nodeLoad(a) - nodeLoad(b) ||
        state.gpuNodeOf(a) - state.gpuNodeOf(b) ||
        used(state, a) - used(state, b) ||
        a - b,
    );
  else list.sort((a, b) => used(state, a) - used(state, b) || a - b);
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
    this.gpus = new Float64Array(state.gpuCount);
    this.nodes = new Float64Array(state.nodes.length);
  }

  private epoch(gpus: readonly number[]): number {
    let sum = 1;
    for (const g of gpus)
      for (const r of this.state.residentsOf(g)) sum += this.state.epochOf(this.state.replicaClassOf(r));
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

function runPhase(state: PackingState, phase: Phase, moves: SearchMove[], memo: FailureMemo): boolean {
  let changed = false;
  if (phase === "repack") {
    for (let c = 0; c < state.classCount; c++) {
      const made = repackClass(state, c);
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
    for (let n = 0; n < state.nodes.length; n++) {
      if (state.gpusInUseOnNode(n) === 0) continue;
      let memory = 0;
      for (const g of state.gpusOfNode(n)) memory += used(state, g);
      nodes.push({ n, gpus: state.gpusInUseOnNode(n), memory });
    }
    nodes.sort((a, b) => a.gpus - b.gpus || a.memory - b.memory || a.n - b.n);
    for (const { n } of nodes) {
      if (state.movesMade >= state.maxMoves) break;
      const live = state.gpusOfNode(n).filter((g) => state.isInUse(g));
      if (live.length > 0) attempt("node", n, live, `empties node ${state.nodes[n]?.name ?? n}`);
    }
    return changed;
  }
  if (phase === "gpu-pairs") {
    const gpus = gpuCandidates(state, "gpus-by-memory");
    if (gpus.length > PAIRS_UP_TO) return false;
    for (let i = 0; i < gpus.length; i++) {
      for (let j = i + 1; j < gpus.length; j++) {
        const a = gpus[i] ?? 0;
        const b = gpus[j] ?? 0;
        if (state.movesMade >= state.maxMoves) return changed;
        if (!state.isInUse(a) || !state.isInUse(b) || state.receivingClassOf(a) !== state.receivingClassOf(b)) continue;
        const made = tryDrain(state, [a, b], `empties GPUs ${state.gpuLabelOf(a)} and ${state.gpuLabelOf(b)}`);
        if (made === undefined) continue;
        for (const move of made) moves.push(move);
        changed = true;
      }
    }
    return changed;
  }
  for (const g of gpuCandidates(state, phase)) {
    if (state.movesMade >= state.maxMoves) break;
    if (state.isInUse(g)) attempt("gpu", g, [g], `empties GPU ${state.gpuLabelOf(g)}`);
  }
  return changed;
}

function runVariant(
  snapshot: FleetSnapshot,
  config: ConsolidationConfig,
  loads: FleetLoads,
  phases: readonly Phase[],
): SearchResult {
  const state = new PackingState(snapshot, config, loads, { canEject: snapshot.replicas.length <= EJECTION_UP_TO });
  const moves: SearchMove[] = [];
  const memo = new FailureMemo(state);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    let changed = false;
    for (const phase of phases) changed = runPhase(state, phase, moves, memo) || changed;
    if (!changed) break;
  }
  return { state, moves, variant: phases.join(" → ") };
}

const isBetter = (a: SearchResult, b: SearchResult): boolean =>
  a.state.gpusInUse < b.state.gpusInUse ||
  (a.state.gpusInUse === b.state.gpusInUse &&
    (a.state.nodesInUse < b.state.nodesInUse ||
      (a.state.nodesInUse === b.state.nodesInUse && a.moves.length < b.moves.length)));

/** The orders to try: the fixed ones, with (small fleets) the repacking ones, or as many as configured. */
function variants(replicas: number, config: ConsolidationConfig): (readonly Phase[])[] {
  const all = replicas <= REPACK_UP_TO ? [...VARIANTS, ...REPACK_VARIANTS] : [...VARIANTS];
  const count = config.search.restarts ?? (replicas <= ALL_VARIANTS_UP_TO ? all.length : 1);
  return all.slice(0, Math.max(1, Math.min(count, all.length)));
}

/** Runs the search with every configured order and returns the best plan. Deterministic. */
export function searchConsolidation(
  snapshot: FleetSnapshot,
  config: ConsolidationConfig,
  loads: FleetLoads = fleetLoads(snapshot),
): SearchResult {
  let best: SearchResult | undefined;
  for (const phases of variants(snapshot.replicas.length, config)) {
    const result = runVariant(snapshot, config, loads, phases);
    if (best === undefined || isBetter(result, best)) best = result;
  }
  if (best === undefined) throw new Error("searchConsolidation: no search order");
  return best;
}
