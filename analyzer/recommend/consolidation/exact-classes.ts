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
import { buildClassMilp, type ClassMilp, type MoveBudget } from "./milp/class-model.js";
import type { MilpOutcome, MilpSolver } from "./milp/solve.js";
import { PackingState, type SearchMove } from "./packing-state.js";
import { orderMoves, sameGpus } from "./sequence.js";

/** How one class's placement was found, for the plan. */
export interface ClassMethod {
  /** `milp`: the solver's placement; `heuristic`: the drains' (the solver could not improve or prove it, or did not run); `none`: nothing in the class may move. */
  readonly method: "milp" | "heuristic" | "none";
  /** Whether the class's GPUs, then nodes, then moves are proven minimal under the plan's constraints. */
  readonly isProvenOptimal: boolean;
  /** GPUs the class needs at least, as the solver proved it (0 when it did not run or proved nothing). */
  readonly solverBound: number;
  /** The solver's status on the class (`optimal`, `feasible`, `infeasible`, `failed`), or `not run`. */
  readonly solverStatus: string;
  readonly seconds: number;
  /** Why the method is what it is, in a few words. */
  readonly note: string;
}

interface Figures {
  readonly gpus: number;
  readonly nodes: number;
  readonly moves: number;
}

const isBetter = (a: Figures, b: Figures): boolean => a.gpus < b.gpus || (a.gpus === b.gpus && (a.nodes < b.nodes || (a.nodes === b.nodes && a.moves < b.moves)));

/** GPUs and nodes of class c in use in `state`. */
function classUse(state: PackingState, c: number): { gpus: number; nodes: number } {
  let gpus = 0;
  const nodes = new Set<number>();
  for (let g = 0; g < state.gpuNode.length; g++) {
    if (state.gpuClassAll[g] !== c || !state.isInUse(g)) continue;
    gpus++;
    nodes.add(state.gpuNode[g] ?? 0);
  }
  return { gpus, nodes: nodes.size };
}

/** Class of the GPUs a move lands on. */
const classOfMove = (state: PackingState, move: { readonly to: readonly number[] }): number => state.gpuClassAll[move.to[0] ?? 0] ?? -1;

/** Moves per model and in all, of the moves in `byClass` outside class `except`. */
function spent(state: PackingState, byClass: ReadonlyMap<number, readonly SearchMove[]>, except: number): { perModel: Int32Array; total: number } {
  const perModel = new Int32Array(state.modelNames.length);
  let total = 0;
  for (const [c, moves] of byClass) {
    if (c === except) continue;
    for (const move of moves) {
      const model = state.replicaModel[move.replica] ?? 0;
      perModel[model] = (perModel[model] ?? 0) + 1;
      total++;
    }
  }
  return { perModel, total };
}

/** Moves per model and in all that a target placement makes. */
function targetMoves(state: PackingState, targets: ReadonlyMap<number, readonly number[]>): { perModel: Int32Array; total: number } {
  const perModel = new Int32Array(state.modelNames.length);
  let total = 0;
  for (const [r, to] of targets) {
    if (sameGpus(to, state.replicaGpus[r] ?? [])) continue;
    const model = state.replicaModel[r] ?? 0;
    perModel[model] = (perModel[model] ?? 0) + 1;
    total++;
  }
  return { perModel, total };
}

/**
 * The GPU count a solve proves the class needs: the optimum's, or from the dual bound D of the
 * objective Wg·GPUs + (Wn·nodes + moves) where the bracket is < Wg: GPUs > D/Wg − 1.
 */
function provenGpus(milp: ClassMilp, outcome: MilpOutcome, gpusOf: (values: Float64Array) => number): number {
  if (outcome.status === "optimal" && outcome.values !== undefined) return gpusOf(outcome.values);
  if (!Number.isFinite(outcome.dualBound)) return 0;
  return Math.max(0, Math.floor(outcome.dualBound / milp.weightGpu - 1e-6));
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
  const full: MoveBudget = { perModel: base.modelBudget, total: Number.isFinite(base.maxMoves) ? base.maxMoves : 1e9 };

  // Smallest classes first: they are the cheapest to prove.
  const candidates: { c: number; milp: ClassMilp | undefined }[] = [];
  for (let c = 0; c < base.classes.length; c++) {
    const key = base.classKeys[c] ?? "";
    const milp = buildClassMilp(base, c, full, options.classBound(key));
    candidates.push({ c, milp });
  }
  candidates.sort((a, b) => (a.milp?.model.numCols ?? Infinity) - (b.milp?.model.numCols ?? Infinity) || a.c - b.c);

  for (const { c, milp } of candidates) {
    const key = base.classKeys[c] ?? "";
    const heuristicOfClass = byClass.get(c) ?? [];
    const record = (method: ClassMethod): void => void methods.set(key, method);
    if (milp === undefined) {
      const hasMovable = base.replicaIds.some((_, r) => base.replicaClass[r] === c && base.blocker(r) === undefined);
      record({ method: hasMovable ? "heuristic" : "none", isProvenOptimal: false, solverBound: 0, solverStatus: "not run", seconds: 0, note: hasMovable ? "too many placements to enumerate" : "nothing in the class may move" });
      continue;
    }
    const secondsLeft = (options.deadlineMs - performance.now()) / 1000;
    if (secondsLeft < 0.02) {
      record({ method: "heuristic", isProvenOptimal: false, solverBound: 0, solverStatus: "not run", seconds: 0, note: "the plan's time budget was spent" });
      continue;
    }
    // The heuristic's placement of the class, as the solver's start.
    const heuristicTargets = new Map<number, number[]>();
    for (const r of milp.replicas) heuristicTargets.set(r, [...(base.replicaGpus[r] ?? [])]);
    for (const move of heuristicOfClass) heuristicTargets.set(move.replica, [...move.to]);
    const heuristicFigures = figuresOf(snapshot, config, loads, heuristicOfClass, c);
    const gpusOf = (values: Float64Array): number => milp.gpuColumns.reduce((sum, column) => sum + Math.round(values[column] ?? 0), 0);

    const first = solver.solve(milp.model, { timeLimitSeconds: secondsLeft, start: milp.startFor(heuristicTargets) });
    let seconds = first.seconds;
    const bound = provenGpus(milp, first, gpusOf);
    let outcome = first;
    let targets = first.values === undefined ? undefined : milp.decode(first.values);
    let isFullBudget = true;
    if (targets !== undefined) {
      const others = spent(base, byClass, c);
      const mine = targetMoves(base, targets);
      const fits = mine.total + others.total <= full.total && Array.from(mine.perModel).every((n, m) => n + (others.perModel[m] ?? 0) <= (full.perModel[m] ?? 0));
      if (!fits) {
        isFullBudget = false;
        const left: MoveBudget = { perModel: Int32Array.from(full.perModel, (n, m) => n - (others.perModel[m] ?? 0)), total: full.total - others.total };
        const again = buildClassMilp(base, c, left, options.classBound(key));
        const timeLeft = (options.deadlineMs - performance.now()) / 1000;
        if (again !== undefined && timeLeft > 0.02) {
          outcome = solver.solve(again.model, { timeLimitSeconds: timeLeft, start: again.startFor(heuristicTargets) });
          seconds += outcome.seconds;
          targets = outcome.values === undefined ? undefined : again.decode(outcome.values);
        } else targets = undefined;
      }
    }
    const solverBound = Math.max(bound, 0);
    if (targets === undefined) {
      record({ method: "heuristic", isProvenOptimal: false, solverBound, solverStatus: outcome.status, seconds, note: outcome.status === "infeasible" ? "the solver found no placement within the budgets left" : "the solver found no placement in time" });
      continue;
    }
    // Order the solver's placement move by move on the fleet as it stands.
    const state = new PackingState(snapshot, config, loads);
    const pending = milp.replicas.filter((r) => !sameGpus(targets.get(r) ?? [], state.replicaGpus[r] ?? [])).map((r) => ({ replica: r, to: targets.get(r) ?? [] }));
    const journal = orderMoves(state, pending);
    const isOptimal = outcome.status === "optimal" && (isFullBudget || (first.status === "optimal" && Math.abs(outcome.objective - first.objective) < 0.5));
    if (journal === undefined) {
      record({ method: "heuristic", isProvenOptimal: false, solverBound, solverStatus: outcome.status, seconds, note: "the solver's placement has no move-by-move order" });
      continue;
    }
    const use = classUse(state, c);
    const exact: Figures = { gpus: use.gpus, nodes: use.nodes, moves: journal.length };
    if (isBetter(exact, heuristicFigures)) {
      byClass.set(c, state.commit(journal, "exact packing of the class"));
      changed = true;
      record({ method: "milp", isProvenOptimal: isOptimal, solverBound, solverStatus: outcome.status, seconds, note: isOptimal ? "proven optimal" : "the solver's best placement, not proven optimal" });
    } else {
      const isSame = !isBetter(heuristicFigures, exact);
      record({ method: "heuristic", isProvenOptimal: isOptimal && isSame, solverBound, solverStatus: outcome.status, seconds, note: isSame && isOptimal ? "the heuristic's placement is optimal" : "the solver did not improve on the heuristic" });
    }
  }
  const moves: SearchMove[] = [];
  for (const c of [...byClass.keys()].sort((a, b) => a - b)) for (const move of byClass.get(c) ?? []) moves.push(move);
  return { changed, moves, methods };
}

/** GPUs, nodes and moves of class c after applying `moves` (all of that class) to the fleet. */
function figuresOf(snapshot: FleetSnapshot, config: ConsolidationConfig, loads: FleetLoads, moves: readonly SearchMove[], c: number): Figures {
  const state = new PackingState(snapshot, config, loads);
  for (const move of moves) {
    state.lift(move.replica);
    state.place(move.replica, move.to);
  }
  const use = classUse(state, c);
  return { gpus: use.gpus, nodes: use.nodes, moves: moves.length };
}
