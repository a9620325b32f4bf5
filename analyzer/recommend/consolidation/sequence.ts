/**
 * Turning a target placement into a plan: an order in which the replicas can move one at a time,
 * each straight to its target, each move allowed in the state the moves before it leave (the
 * checker's rule). A move is possible once its target GPUs have room, which may need other
 * replicas to leave them first; greedy passes take every move that is possible now, and when they
 * stall (a move that went early filled a GPU another one needed) a depth-first search over orders
 * backs up. A cycle of full GPUs that must swap contents has no order at all (a replica moves once
 * per plan): then there is no plan for that target.
 */
import type { PackingState, SearchMove } from "./packing-state.js";

type Step = { replica: number; from: number[]; to: number[] };

/** Whether two placements are the same set of GPUs. */
export function sameGpus(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((g) => b.includes(g));
}

/** Search steps (moves tried) the order search may spend before it gives up. */
const ORDER_STEPS = 20_000;

function canMoveNow(state: PackingState, r: number, to: readonly number[]): boolean {
  return to.every((g) => state.gpuTakes(r, g)) && state.nodeTakes(r, state.gpuNodeOf(to[0] ?? 0));
}

function undo(state: PackingState, journal: Step[], mark: number): void {
  while (journal.length > mark) {
    const step = journal.pop();
    if (step === undefined) break;
    state.lift(step.replica);
    state.place(step.replica, step.from);
  }
}

/** Applies every pending move possible now, repeatedly, in list order; the moves left. */
function greedy(
  state: PackingState,
  pending: readonly { replica: number; to: readonly number[] }[],
  journal: Step[],
): { replica: number; to: readonly number[] }[] {
  let left = [...pending];
  for (;;) {
    const next: typeof left = [];
    for (const move of left) {
      const from = state.lift(move.replica);
      if (canMoveNow(state, move.replica, move.to)) {
        state.place(move.replica, move.to);
        journal.push({ replica: move.replica, from, to: [...move.to] });
      } else {
        state.place(move.replica, from);
        next.push(move);
      }
    }
    if (next.length === 0 || next.length === left.length) return next;
    left = next;
  }
}

/**
 * Applies `pending` moves to `state` in an order where each is allowed when it runs, and returns
 * them in that order; or, when no order was found, leaves the state as it was and returns undefined.
 * `onStuck`, when given, receives the moves the greedy passes could not make (the blocked core).
 */
export function orderMoves(
  state: PackingState,
  pending: readonly { replica: number; to: readonly number[] }[],
  onStuck?: (stuck: readonly { replica: number; to: readonly number[] }[]) => void,
): Step[] | undefined {
  const journal: Step[] = [];
  const left = greedy(state, pending, journal);
  if (left.length === 0) return journal;
  onStuck?.(left);
  undo(state, journal, 0);
  // Depth first over orders: a move possible now, then the rest; states seen are not revisited.
  let steps = 0;
  const seen = new Set<string>();
  const done = new Uint8Array(pending.length);
  const search = (count: number): boolean => {
    if (count === pending.length) return true;
    const key = done.join("");
    if (seen.has(key) || steps > ORDER_STEPS) return false;
    seen.add(key);
    for (let i = 0; i < pending.length; i++) {
      if (done[i] === 1) continue;
      const move = pending[i];
      if (move === undefined) continue;
      steps++;
      const from = state.lift(move.replica);
      if (!canMoveNow(state, move.replica, move.to)) {
        state.place(move.replica, from);
        continue;
      }
      state.place(move.replica, move.to);
      journal.push({ replica: move.replica, from, to: [...move.to] });
      done[i] = 1;
      if (search(count + 1)) return true;
      done[i] = 0;
      undo(state, journal, journal.length - 1);
    }
    return false;
  };
  if (search(0)) return journal;
  undo(state, journal, 0);
  return undefined;
}

/**
 * Moves the replicas whose `target` differs from where they stand (`original`), in an order found
 * by `orderMoves`, and commits the moves when they leave fewer GPUs in use than `gpusBefore` (or as
 * many and fewer nodes). Undefined, with the state unchanged, when a budget forbids it, no order
 * works or it does not pay.
 */
export function sequenceAndCommit(
  state: PackingState,
  movable: readonly number[],
  original: ReadonlyMap<number, readonly number[]>,
  target: ReadonlyMap<number, readonly number[]>,
  gpusBefore: number,
  nodesBefore: number,
  what: string,
): SearchMove[] | undefined {
  const pending = movable
    .filter((r) => !sameGpus(original.get(r) ?? [], target.get(r) ?? []))
    .map((r) => ({ replica: r, to: target.get(r) ?? [] }));
  const perModel = new Map<number, number>();
  for (const { replica } of pending)
    perModel.set(state.modelOf(replica), (perModel.get(state.modelOf(replica)) ?? 0) + 1);
  for (const [model, count] of perModel)
    if (state.movesOfModel(model) + count > state.moveBudgetOf(model)) return undefined;
  if (state.movesMade + pending.length > state.maxMoves) return undefined;
  const journal = orderMoves(state, pending);
  if (journal === undefined) return undefined;
  if (!(state.gpusInUse < gpusBefore || (state.gpusInUse === gpusBefore && state.nodesInUse < nodesBefore))) {
    undo(state, journal, 0);
    return undefined;
  }
  return state.commit(journal, what);
}
