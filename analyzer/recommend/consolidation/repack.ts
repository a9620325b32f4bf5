/**
 * The repack neighbourhood of the consolidation search: lift every movable replica of one placement
 * class at once, pack them again best fit decreasing onto the class's GPUs, preferring GPUs that
 * hold what cannot move and then the fullest GPUs of before, and keeping a replica where it was
 * whenever that GPU is in the new packing and still takes it; then find an order in which the
 * changed replicas can move one at a time (each move only where there is room at that moment).
 * Kept when it leaves fewer GPUs in use (or as many and fewer nodes). It reaches rearrangements a
 * drain cannot (several GPUs' replicas shuffled at once), at O(replicas × GPUs) per class, so the
 * search uses it on small fleets.
 */
import type { PackingState, PlacementClass, SearchMove } from "./packing-state.js";
import { sameGpus, sequenceAndCommit } from "./sequence.js";

/**
 * The replicas of class `c` a whole-class neighbourhood (repack, exact) may move: placed on GPUs of
 * the class only, not blocked (pinned, moved, budget), and not over a limit on their own (such a
 * replica only runs where it is, grandfathered, so it stays put).
 */
function movableInClass(state: PackingState, c: number): number[] {
  const movable: number[] = [];
  for (let r = 0; r < state.replicaCount; r++) {
    const gpus = state.gpusOf(r);
    if (
      state.replicaClassOf(r) !== c ||
      gpus.length === 0 ||
      state.blocker(r) !== undefined ||
      !gpus.every((g) => state.receivingClassOf(g) === c)
    )
      continue;
    if (state.shareOf(r) > state.computeCeiling || gpus.some((g) => state.sizeOf(r) > state.usableOf(g))) continue;
    movable.push(r);
  }
  return movable;
}

/** Where replica r goes in the new packing: its old GPUs if open and taking it, else best fit among open GPUs, else a new GPU. */
function packOne(
  state: PackingState,
  r: number,
  cls: PlacementClass,
  original: readonly number[],
  isOpen: Uint8Array,
  openOrder: readonly number[],
): number[] | undefined {
  const tp = original.length;
  const takes = (g: number): boolean => state.gpuTakes(r, g) && state.nodeTakes(r, state.gpuNodeOf(g));
  if (original.every((g) => isOpen[g] && takes(g))) return [...original];
  if (tp === 1) {
    let best = -1;
    let bestLeft = Infinity;
    for (const g of openOrder) {
      if (!isOpen[g] || !takes(g)) continue;
      const left = state.free(g) - state.sizeOf(r);
      if (left < bestLeft) {
        best = g;
        bestLeft = left;
      }
    }
    if (best >= 0) return [best];
    const fresh = openOrder.find((g) => !isOpen[g] && takes(g));
    return fresh === undefined ? undefined : [fresh];
  }
  let choice: number[] | undefined;
  let choiceScore = Infinity;
  for (const id of cls.domains) {
    const domain = state.domainGpus(id);
    const fits = domain.filter(takes);
    if (fits.length < tp) continue;
    fits.sort((a, b) => (isOpen[b] ?? 0) - (isOpen[a] ?? 0) || state.free(a) - state.free(b));
    const chosen = fits.slice(0, tp);
    const opened = chosen.filter((g) => !isOpen[g]).length;
    const score = opened * 1e15 + chosen.reduce((sum, g) => sum + state.free(g), 0);
    if (score < choiceScore) {
      choice = chosen;
      choiceScore = score;
    }
  }
  return choice;
}

/** Moves every lifted replica back to its original GPUs. */
function restore(state: PackingState, replicas: readonly number[], original: ReadonlyMap<number, number[]>): void {
  for (const r of replicas) {
    if (state.gpusOf(r).length > 0) state.lift(r);
  }
  for (const r of replicas) state.place(r, original.get(r) ?? []);
}

/**
 * Repacks class `c`. Returns the committed moves, or undefined with the state unchanged when the
 * repack frees nothing, breaks a budget or cannot be ordered.
 */
export function repackClass(state: PackingState, c: number): SearchMove[] | undefined {
  const cls = state.placementClass(c);
  if (cls === undefined) return undefined;
  const movable = movableInClass(state, c);
  if (movable.length < 2) return undefined;
  const gpusBefore = state.gpusInUse;
  const nodesBefore = state.nodesInUse;
  const wasNodeInUse = Uint8Array.from(state.nodes, (_, n) => (state.gpusInUseOnNode(n) > 0 ? 1 : 0));
  const original = new Map(movable.map((r) => [r, [...state.gpusOf(r)]]));
  const load = new Map<number, number>();
  for (let g = 0; g < state.gpuCount; g++) if (state.receivingClassOf(g) === c) load.set(g, state.memoryOf(g));
  for (const r of movable) state.lift(r);

  const isOpen = new Uint8Array(state.gpuCount);
  const candidates = [...load.keys()].filter((g) => wasNodeInUse[state.gpuNodeOf(g)]);
  for (const g of candidates) if (state.isInUse(g)) isOpen[g] = 1;
  const openOrder = candidates.sort(
    (a, b) => (isOpen[b] ?? 0) - (isOpen[a] ?? 0) || (load.get(b) ?? 0) - (load.get(a) ?? 0) || a - b,
  );
  const weight = new Map(movable.map((r) => [r, state.sizeOf(r)]));
  const order = [...movable].sort(
    (a, b) =>
      (original.get(b) ?? []).length - (original.get(a) ?? []).length ||
      (weight.get(b) ?? 0) - (weight.get(a) ?? 0) ||
      a - b,
  );
  const target = new Map<number, number[]>();
  const moving = new Map<number, number>();
  let movingTotal = 0;
  for (const r of order) {
    const from = original.get(r) ?? [];
    const model = state.modelOf(r);
    const canMove =
      state.movesOfModel(model) + (moving.get(model) ?? 0) < state.moveBudgetOf(model) &&
      state.movesMade + movingTotal < state.maxMoves;
    // Out of budget: the replica stays where it was, if that GPU still takes it.
    const stays = from.every((g) => state.gpuTakes(r, g)) && state.nodeTakes(r, state.gpuNodeOf(from[0] ?? 0));
    const to = canMove ? packOne(state, r, cls, from, isOpen, openOrder) : stays ? [...from] : undefined;
    if (to !== undefined && !sameGpus(to, from)) {
      moving.set(model, (moving.get(model) ?? 0) + 1);
      movingTotal++;
    }
    if (to === undefined) {
      restore(state, movable, original);
      return undefined;
    }
    state.place(r, to);
    for (const g of to) isOpen[g] = 1;
    target.set(r, to);
  }
  const pays = state.gpusInUse < gpusBefore || (state.gpusInUse === gpusBefore && state.nodesInUse < nodesBefore);
  restore(state, movable, original);
  if (!pays) return undefined;

  return sequenceAndCommit(state, movable, original, target, gpusBefore, nodesBefore, "repacks its GPU class");
}
