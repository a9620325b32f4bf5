/**
 * The exact neighbourhood of the consolidation search, for small placement classes: pick GPUs to
 * empty (one, else two at once) and ask a depth-first branch and bound whether every movable
 * replica of the class can be placed on the class's other GPUs in use, moving as few replicas as
 * possible; then order the moves one at a time (consolidate-repack.ts `sequenceAndCommit`).
 *
 * It finds what the drains miss on tight packings: emptying a GPU may need a tensor-parallel
 * replica to shift one shard to another GPU of its NVLink domain, or a replica on a GPU that stays
 * in use to step aside (an ejection chain longer than one). Replicas are tried largest first
 * (tensor-parallel groups first), each first where it stands, then on the tightest GPUs that take
 * it, under a limit on moves raised one at a time from the replicas that must move (iterative
 * deepening), so the first placement found moves the fewest; a branch also ends when the replicas
 * left cannot fit in the memory left. Each target, and each search order as a whole, gets a budget
 * of search nodes (deterministic, unlike a time limit), so the phase stays bounded.
 */
import type { PackingState, PlacementClass, SearchMove } from "./packing-state.js";
import { movableInClass, sameGpus, sequenceAndCommit } from "./repack.js";

/** Movable replicas of a class up to which the exact phase runs. */
export const EXACT_MAX_REPLICAS = 48;
/** In-use GPUs of a class up to which pairs of GPUs are tried as targets. */
const PAIR_TARGETS_UP_TO = 16;
/** Search nodes per target. */
const NODES_PER_TARGET = 150_000;
/**
 * Search nodes per search order, shared by every round of the phase in that order and split evenly
 * among the small classes: enough for the tight benchmark fleets (the hardest took ~600k), while a
 * 150-replica fleet no longer spends ~15 s here (3M per round, four rounds, two orders did).
 */
export const EXACT_NODES_SMALL_FLEET = 1_000_000;
export const EXACT_NODES = 200_000;
/** Moves beyond those of the replicas on the emptied GPUs that the search may add (replicas stepping aside). */
const EXTRA_MOVES = 3;
/** Tensor-parallel placements tried per replica and step. */
const GROUP_OPTIONS = 12;

function combinations(items: readonly number[], k: number, visit: (subset: number[]) => void): void {
  const chosen: number[] = [];
  const pick = (start: number): void => {
    if (chosen.length === k) {
      visit([...chosen]);
      return;
    }
    for (let i = start; i <= items.length - (k - chosen.length); i++) {
      chosen.push(items[i] as number);
      pick(i + 1);
      chosen.pop();
    }
  };
  pick(0);
}

/** A class's replicas that may move (the repack neighbourhood's rule) and its GPUs in use. */
function classParts(state: PackingState, c: number): { movable: number[]; inUse: number[] } {
  const inUse: number[] = [];
  for (let g = 0; g < state.gpuClass.length; g++) if (state.gpuClass[g] === c && state.isInUse(g)) inUse.push(g);
  return { movable: movableInClass(state, c), inUse };
}

/**
 * Searches a placement of `movable` (lifted by the caller) on `open` GPUs that leaves every GPU of
 * `empty` without them; the fewest moves found within the node budget, or undefined.
 */
function search(state: PackingState, cls: PlacementClass, movable: readonly number[], original: ReadonlyMap<number, number[]>, open: ReadonlySet<number>, empty: ReadonlySet<number>, nodeBudget: { left: number }): Map<number, number[]> | undefined {
  const order = [...movable].sort((a, b) => (original.get(b) as number[]).length - (original.get(a) as number[]).length || (state.size[b] as number) - (state.size[a] as number) || a - b);
  const mustMove = order.map((r) => ((original.get(r) as number[]).some((g) => empty.has(g)) ? 1 : 0));
  const mustAfter = new Int32Array(order.length + 1);
  const demandAfter = new Float64Array(order.length + 1);
  for (let i = order.length - 1; i >= 0; i--) {
    const r = order[i] as number;
    mustAfter[i] = (mustAfter[i + 1] as number) + (mustMove[i] as number);
    demandAfter[i] = (demandAfter[i + 1] as number) + (state.size[r] as number) * (original.get(r) as number[]).length;
  }
  const openList = [...open];
  const arrivals = new Int32Array(state.gpuClass.length);
  const moving = new Map<number, number>();
  const current = new Map<number, number[]>();
  let movesNow = 0;
  let best: Map<number, number[]> | undefined;
  let bestMoves = Infinity;

  const roomLeft = (): number => {
    let room = 0;
    for (const g of openList) room += Math.max(0, state.free(g));
    return room;
  };
  const canMove = (r: number): boolean => {
    const model = state.replicaModel[r] as number;
    return (state.modelMoves[model] as number) + (moving.get(model) ?? 0) < (state.modelBudget[model] as number) && state.movesMade + movesNow < state.maxMoves;
  };
  const takes = (r: number, g: number): boolean => open.has(g) && !empty.has(g) && state.gpuTakes(r, g);

  const options = (r: number): number[][] => {
    const from = original.get(r) as number[];
    const tp = from.length;
    const out: number[][] = [];
    const n0 = state.gpuNode[from[0] as number] as number;
    // Staying needs no room check while nothing arrives on its GPUs (a GPU over a limit keeps its load).
    if (!from.some((g) => empty.has(g)) && state.nodeTakes(r, n0) && from.every((g) => state.gpuTakes(r, g) || arrivals[g] === 0)) out.push(from);
    if (!canMove(r)) return out;
    if (tp === 1) {
      const fits = openList.filter((g) => g !== from[0] && takes(r, g) && state.nodeTakes(r, state.gpuNode[g] as number));
      fits.sort((a, b) => state.free(a) - state.free(b) || a - b);
      for (const g of fits) out.push([g]);
      return out;
    }
    const groups: { gpus: number[]; left: number }[] = [];
    for (const id of cls.domains) {
      const domain = (state.domains[id] as number[]).filter((g) => takes(r, g));
      if (domain.length < tp || !state.nodeTakes(r, state.gpuNode[domain[0] as number] as number)) continue;
      combinations(domain, tp, (gpus) => {
        if (!sameGpus(gpus, from)) groups.push({ gpus, left: gpus.reduce((sum, g) => sum + state.free(g), 0) });
      });
    }
    groups.sort((a, b) => a.left - b.left);
    for (const group of groups.slice(0, GROUP_OPTIONS)) out.push(group.gpus);
    return out;
  };

  let limit = 0;
  const visit = (i: number): void => {
    if (nodeBudget.left <= 0) return;
    nodeBudget.left--;
    if (movesNow + (mustAfter[i] as number) > limit) return;
    if (i === order.length) {
      best = new Map(current);
      bestMoves = movesNow;
      return;
    }
    if ((demandAfter[i] as number) > roomLeft() + 1) return;
    const r = order[i] as number;
    const from = original.get(r) as number[];
    for (const to of options(r)) {
      const isMove = !sameGpus(to, from);
      const model = state.replicaModel[r] as number;
      state.place(r, to);
      current.set(r, to);
      if (isMove) {
        for (const g of to) arrivals[g] = (arrivals[g] as number) + 1;
        moving.set(model, (moving.get(model) ?? 0) + 1);
        movesNow++;
      }
      visit(i + 1);
      if (isMove) {
        for (const g of to) arrivals[g] = (arrivals[g] as number) - 1;
        moving.set(model, (moving.get(model) ?? 0) - 1);
        movesNow--;
      }
      current.delete(r);
      state.lift(r);
      if (nodeBudget.left <= 0 || best !== undefined) return;
    }
  };
  // Iterative deepening on the number of moves: the replicas that must move, then one more, …, so
  // the first placement found moves the fewest replicas, and replicas that may stay are only moved
  // when the moves left allow it (which keeps the tree small).
  for (limit = mustAfter[0] as number; limit <= (mustAfter[0] as number) + EXTRA_MOVES && best === undefined && nodeBudget.left > 0; limit++) visit(0);
  return bestMoves === Infinity ? undefined : best;
}

/**
 * Empties one more GPU (else two) of class `c` if the exact search finds a placement that can be
 * ordered move by move; the committed moves, or undefined with the state unchanged.
 */
function improveClass(state: PackingState, c: number, budget: { left: number }): SearchMove[] | undefined {
  const cls = state.classes[c] as PlacementClass;
  const { movable, inUse } = classParts(state, c);
  if (movable.length === 0 || movable.length > EXACT_MAX_REPLICAS) return undefined;
  const movableSet = new Set(movable);
  const candidates = inUse.filter((g) => !state.hasBaseline[g] && (state.residents[g] as number[]).every((r) => movableSet.has(r)));
  candidates.sort((a, b) => (state.residents[a] as number[]).length - (state.residents[b] as number[]).length || (state.memory[a] as number) - (state.memory[b] as number) || a - b);
  // Two GPUs at once first (on small classes): emptying one GPU alone may lock replicas (each moves
  // once) that emptying a second GPU needed.
  const targets: number[][] = [];
  if (inUse.length <= PAIR_TARGETS_UP_TO) for (let i = 0; i < candidates.length; i++) for (let j = i + 1; j < candidates.length; j++) targets.push([candidates[i] as number, candidates[j] as number]);
  for (const g of candidates) targets.push([g]);

  const gpusBefore = state.gpusInUse;
  const nodesBefore = state.nodesInUse;
  const original = new Map(movable.map((r) => [r, [...(state.replicaGpus[r] as number[])]]));
  for (const target of targets) {
    if (budget.left <= 0) return undefined;
    const empty = new Set(target);
    const open = new Set(inUse.filter((g) => !empty.has(g)));
    for (const r of movable) state.lift(r);
    const allowed = Math.min(NODES_PER_TARGET, budget.left);
    const nodeBudget = { left: allowed };
    const found = search(state, cls, movable, original, open, empty, nodeBudget);
    budget.left -= allowed - nodeBudget.left;
    for (const r of movable) if ((state.replicaGpus[r] as number[]).length === 0) state.place(r, original.get(r) as number[]);
    if (found === undefined) continue;
    const made = sequenceAndCommit(state, movable, original, found, gpusBefore, nodesBefore, target.length === 1 ? `empties GPU ${state.gpuLabel[target[0] as number]}` : `empties GPUs ${target.map((g) => state.gpuLabel[g]).join(" and ")}`);
    if (made !== undefined) return made;
  }
  return undefined;
}

/**
 * Runs the exact neighbourhood on every small class until it frees nothing more, spending search
 * nodes from `budget` (the caller's, shared across rounds; what is left stays in it).
 */
export function exactPhase(state: PackingState, moves: SearchMove[], budget: { left: number }): boolean {
  let changed = false;
  // Each small class gets an equal share of what is left (plus what earlier classes did not use),
  // so the first classes cannot starve the later ones.
  const small: number[] = [];
  for (let c = 0; c < state.classes.length; c++) {
    const movable = movableInClass(state, c).length;
    if (movable > 0 && movable <= EXACT_MAX_REPLICAS) small.push(c);
  }
  for (let i = 0; i < small.length; i++) {
    const share = { left: Math.floor(budget.left / (small.length - i)) };
    const granted = share.left;
    for (;;) {
      if (state.movesMade >= state.maxMoves) break;
      const made = improveClass(state, small[i] as number, share);
      if (made === undefined) break;
      for (const move of made) moves.push(move);
      changed = true;
    }
    budget.left -= granted - share.left;
    if (state.movesMade >= state.maxMoves) break;
  }
  return changed;
}
