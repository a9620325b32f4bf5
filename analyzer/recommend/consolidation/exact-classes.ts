/**
 * Exact where it is cheap: each placement class small enough for the MILP (milp/class-model.ts) is
 * solved by HiGHS within what is left of the plan's time budget, starting from the heuristic's
 * placement of the class (so the solver only has to beat it or prove it optimal). A better
 * placement replaces the heuristic's moves of the class once it is ordered move by move
 * (sequence.ts); a class the solver cannot finish keeps its best known placement; past the budget,
 * or when the class is too large to enumerate, the heuristic's plan stands.
 *
 * Budgets shared across classes (moves per model, moves per plan): a class is first solved with the
 * whole budget, which makes its optimum a lower bound for the class whatever the other classes do.
 * When that placement would overspend what the other classes' moves leave, the class is solved
 * again with what they leave; the result is then proven optimal only if it reaches the first
 * optimum.
 */
import type { FleetSnapshot } from "../../fleet/snapshot.js";
import type { ConsolidationConfig, FleetLoads } from "../constraints.js";
import { MIN_SOLVE_MS, solveClass, type ClassMethod } from "./exact-class.js";
import { buildClassMilp, type ClassMilp, type MoveBudget } from "./milp/class-model.js";
import type { MilpSolver } from "./milp/solve.js";
import { PackingState, type SearchMove } from "./packing-state.js";

/** Class of the GPUs a move lands on. */
const classOfMove = (state: PackingState, move: { readonly to: readonly number[] }): number =>
  state.gpuClassOf(move.to[0] ?? 0);

/** Moves per model and in all, of the moves in `byClass` outside class `except`. */
function spent(
  state: PackingState,
  byClass: ReadonlyMap<number, readonly SearchMove[]>,
  except: number,
): { perModel: Int32Array; total: number } {
  const perModel = new Int32Array(state.modelCount);
  let total = 0;
  for (const [c, moves] of byClass) {
    if (c === except) continue;
    for (const move of moves) {
      const model = state.modelOf(move.replica);
      perModel[model] = (perModel[model] ?? 0) + 1;
      total++;
    }
  }
  return { perModel, total };
}

export interface ExactClassesResult {
  /** Whether any class's moves were replaced; `moves` is then the new plan (class by class). */
  readonly changed: boolean;
  readonly moves: SearchMove[];
  readonly methods: ReadonlyMap<string, ClassMethod>;
}

/**
 * Replaces the heuristic's moves of every class the solver improves, within `deadlineMs`
 * (performance.now() time). `heuristicMoves` must be a valid plan; so is the result.
 * `classBound(key)` is the class's lower bound from bounds.ts (a valid cut for the solver).
 */
export function solveExactClasses(
  snapshot: FleetSnapshot,
  config: ConsolidationConfig,
  loads: FleetLoads,
  heuristicMoves: readonly SearchMove[],
  solver: MilpSolver,
  options: { readonly deadlineMs: number; readonly classBound: (key: string) => number },
): ExactClassesResult {
  const base = new PackingState(snapshot, config, loads);
  const byClass = new Map<number, SearchMove[]>();
  for (const move of heuristicMoves) {
    const c = classOfMove(base, move);
    const list = byClass.get(c) ?? [];
    list.push(move);
    byClass.set(c, list);
  }
  const methods = new Map<string, ClassMethod>();
  let changed = false;
  const full: MoveBudget = {
    perModel: Int32Array.from({ length: base.modelCount }, (_, m) => base.moveBudgetOf(m)),
    total: Number.isFinite(base.maxMoves) ? base.maxMoves : 1e9,
  };

  // Smallest classes first: they are the cheapest to prove.
  const candidates: { c: number; milp: ClassMilp | undefined }[] = [];
  for (let c = 0; c < base.classCount; c++) {
    const key = base.classKeyOf(c);
    const milp = buildClassMilp(base, c, full, options.classBound(key));
    candidates.push({ c, milp });
  }
  candidates.sort((a, b) => (a.milp?.model.numCols ?? Infinity) - (b.milp?.model.numCols ?? Infinity) || a.c - b.c);

  let solvable = candidates.filter((x) => x.milp !== undefined).length;
  for (const { c, milp } of candidates) {
    const key = base.classKeyOf(c);
    const heuristicOfClass = byClass.get(c) ?? [];
    if (milp === undefined) {
      let hasMovable = false;
      for (let r = 0; r < base.replicaCount && !hasMovable; r++)
        hasMovable = base.replicaClassOf(r) === c && base.blocker(r) === undefined;
      methods.set(key, {
        method: hasMovable ? "heuristic" : "none",
        isProvenOptimal: false,
        solverBound: 0,
        solverStatus: "not run",
        seconds: 0,
        note: hasMovable ? "too many placements to enumerate" : "nothing in the class may move",
      });
      continue;
    }
    if (options.deadlineMs - performance.now() < MIN_SOLVE_MS) {
      methods.set(key, {
        method: "heuristic",
        isProvenOptimal: false,
        solverBound: 0,
        solverStatus: "not run",
        seconds: 0,
        note: "the plan's time budget was spent",
      });
      continue;
    }
    // Each class gets an equal share of the time left (what an easy class leaves goes to the next).
    const now = performance.now();
    const deadlineMs = now + (options.deadlineMs - now) / Math.max(1, solvable--);
    const solved = solveClass({
      snapshot,
      config,
      loads,
      base,
      c,
      milp,
      full,
      heuristicOfClass,
      others: spent(base, byClass, c),
      solver,
      deadlineMs,
      classBound: options.classBound(key),
    });
    methods.set(key, solved.method);
    if (solved.moves !== undefined) {
      byClass.set(c, solved.moves);
      changed = true;
    }
  }
  const moves: SearchMove[] = [];
  for (const c of [...byClass.keys()].sort((a, b) => a - b)) for (const move of byClass.get(c) ?? []) moves.push(move);
  return { changed, moves, methods };
}
