/**
 * One placement class solved exactly where it is cheap (the plan-wide orchestration is in
 * exact-classes.ts): neighbourhoods that empty one more GPU, the whole-class MILP
 * (milp/class-model.ts), and the move-by-move order of the best placement found (sequence.ts).
 */
import type { FleetSnapshot } from "../../fleet/snapshot.js";
import type { ConsolidationConfig, FleetLoads } from "../constraints.js";
import { buildClassMilp, type ClassMilp, type MoveBudget } from "./milp/class-model.js";
import { withRow } from "./milp/sparse-model.js";
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

const isBetter = (a: Figures, b: Figures): boolean =>
  a.gpus < b.gpus || (a.gpus === b.gpus && (a.nodes < b.nodes || (a.nodes === b.nodes && a.moves < b.moves)));

/** Moves per model and in all that a target placement makes. */
function targetMoves(
  state: PackingState,
  targets: ReadonlyMap<number, readonly number[]>,
): { perModel: Int32Array; total: number } {
  const perModel = new Int32Array(state.modelCount);
  let total = 0;
  for (const [r, to] of targets) {
    if (sameGpus(to, state.gpusOf(r))) continue;
    const model = state.modelOf(r);
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

/** Solver time below which a class is not attempted, milliseconds. */
export const MIN_SOLVE_MS = 20;
/** Re-solves with a cut after a placement that has no move-by-move order. */
const MAX_ORDER_RETRIES = 6;

export interface ClassJob {
  readonly snapshot: FleetSnapshot;
  readonly config: ConsolidationConfig;
  readonly loads: FleetLoads;
  /** The fleet as it stands (read only here). */
  readonly base: PackingState;
  readonly c: number;
  readonly milp: ClassMilp;
  readonly full: MoveBudget;
  readonly heuristicOfClass: readonly SearchMove[];
  /** Moves the other classes' current plans spend. */
  readonly others: { readonly perModel: Int32Array; readonly total: number };
  readonly solver: MilpSolver;
  readonly deadlineMs: number;
  readonly classBound: number;
}

/** A placement of the class (replica → GPUs) and its figures. */
interface Candidate {
  readonly targets: ReadonlyMap<number, readonly number[]>;
  readonly figures: Figures;
  /** Its objective proven minimal under the whole budget. */
  readonly isOptimal: boolean;
  readonly source: "solver" | "neighbourhood";
}

/** Share of a class's time the first, whole-class solve may take before the neighbourhoods run. */
const FIRST_SOLVE_SHARE = 0.4;
/** Time limit of one neighbourhood solve, seconds. */
const NEIGHBOURHOOD_SECONDS = 0.4;

/**
 * One class, within `job.deadlineMs`:
 * 1. the whole class with the whole budget, from the heuristic's placement (its optimum bounds the
 *    class from below whatever the other classes do; on small classes it is proven at once);
 * 2. when that is not proven: neighbourhoods that empty one more GPU — every replica may move, but
 *    only onto the GPUs of the best placement so far less one, fewest moves — which the solver
 *    answers in a fraction of the time the whole class takes (the bins are fixed, so the symmetry
 *    of empty GPUs and the GPU-count objective are gone), repeated while one succeeds;
 * 3. the whole class again from the best placement with the time left.
 * The best placement that can be ordered move by move wins if it beats the heuristic's; a solver
 * placement with no order is cut off (its blocked moves may not all be chosen again) and solved
 * again while time is left.
 */
export function solveClass(job: ClassJob): { method: ClassMethod; moves: SearchMove[] | undefined } {
  const { base, milp, full, others, solver } = job;
  const secondsLeft = (): number => (job.deadlineMs - performance.now()) / 1000;
  const hasTime = (): boolean => secondsLeft() * 1000 >= MIN_SOLVE_MS;
  const heuristicTargets = new Map<number, number[]>();
  for (const r of milp.replicas) heuristicTargets.set(r, [...base.gpusOf(r)]);
  for (const move of job.heuristicOfClass) heuristicTargets.set(move.replica, [...move.to]);
  const heuristicFigures = figuresOfTargets(job, heuristicTargets);
  const gpusOf = (values: Float64Array): number =>
    milp.gpuColumns.reduce((sum, column) => sum + Math.round(values[column] ?? 0), 0);
  const left: MoveBudget = {
    perModel: Int32Array.from(full.perModel, (n, m) => n - (others.perModel[m] ?? 0)),
    total: full.total - others.total,
  };
  const fitsLeft = (targets: ReadonlyMap<number, readonly number[]>): boolean => {
    const mine = targetMoves(base, targets);
    return mine.total <= left.total && Array.from(mine.perModel).every((n, m) => n <= (left.perModel[m] ?? 0));
  };
  const candidates: Candidate[] = [];
  const cutModels = new Map<ClassMilp, ClassMilp["model"]>();
  let solverStatus = "not run";
  let seconds = 0;
  const solve = (
    model: ClassMilp,
    limitSeconds: number,
    start: ReadonlyMap<number, readonly number[]> | undefined,
    modelOf: (m: ClassMilp) => ClassMilp["model"] = (m) => m.model,
  ) => {
    const outcome = solver.solve(modelOf(model), {
      timeLimitSeconds: Math.min(limitSeconds, secondsLeft()),
      start: start === undefined ? undefined : model.startFor(start),
    });
    seconds += outcome.seconds;
    return { outcome, targets: outcome.values === undefined ? undefined : model.decode(outcome.values) };
  };

  // Neighbourhoods: one GPU fewer on the best placement so far, while one succeeds and time is left.
  let current: Candidate = {
    targets: heuristicTargets,
    figures: heuristicFigures,
    isOptimal: false,
    source: "neighbourhood",
  };
  const improveByNeighbourhoods = (untilMs: number, floor: number): void => {
    for (let improved = true; improved && current.figures.gpus > floor && performance.now() < untilMs;) {
      improved = false;
      const inUse = classGpusInUse(job, current.targets);
      const room = roomOf(job, current.targets, inUse);
      const order = [...inUse]
        .filter((g) => !holdsFixed(base, g))
        .sort((a, b) => (room.get(a)?.memory ?? 0) - (room.get(b)?.memory ?? 0) || a - b);
      for (const t of order) {
        if (performance.now() >= untilMs || !hasTime()) break;
        if (!couldEmpty(room, t)) continue;
        const destinations = new Set([...inUse].filter((g) => g !== t));
        const emptied = new Set<number>();
        for (let g = 0; g < base.gpuCount; g++)
          if (base.gpuClassOf(g) === job.c && !destinations.has(g)) emptied.add(g);
        const neighbourhood = buildClassMilp(base, job.c, left, 0, { destinations, emptied });
        if (neighbourhood === undefined) continue;
        const found = solve(
          neighbourhood,
          Math.min(NEIGHBOURHOOD_SECONDS, (untilMs - performance.now()) / 1000),
          undefined,
        );
        if (found.targets === undefined) continue;
        const figures = figuresOfTargets(job, found.targets);
        if (!isBetter(figures, current.figures)) continue;
        current = { targets: found.targets, figures, isOptimal: false, source: "neighbourhood" };
        candidates.push(current);
        improved = true;
        break;
      }
    }
  };

  // 1. Above the class's bound, the neighbourhoods first (they find a GPU fewer in a fraction of the
  //    time the whole class takes), with at most half of the class's time.
  if (heuristicFigures.gpus > job.classBound)
    improveByNeighbourhoods(performance.now() + secondsLeft() * 500, job.classBound);

  // 2. The whole class, whole budget, from the best placement so far: its optimum bounds the class.
  const first = solve(milp, Math.max(MIN_SOLVE_MS / 1000, secondsLeft() * FIRST_SOLVE_SHARE), current.targets);
  solverStatus = first.outcome.status;
  // Only a solve of the whole class under the whole budget (a relaxation of every plan) proves.
  let solverBound = provenGpus(milp, first.outcome, gpusOf);
  let optimalObjective = first.outcome.status === "optimal" ? first.outcome.objective : undefined;
  let whole = milp;
  if (first.targets !== undefined) {
    if (fitsLeft(first.targets))
      candidates.push({
        targets: first.targets,
        figures: figuresOfTargets(job, first.targets),
        isOptimal: optimalObjective !== undefined,
        source: "solver",
      });
    else if (hasTime()) {
      // Overspends what the other classes leave: the class again within what is left.
      const again = buildClassMilp(base, job.c, left, job.classBound);
      if (again !== undefined) {
        whole = again;
        const second = solve(again, secondsLeft() * FIRST_SOLVE_SHARE, current.targets);
        solverStatus = second.outcome.status;
        const reaches =
          second.outcome.status === "optimal" &&
          optimalObjective !== undefined &&
          Math.abs(second.outcome.objective - optimalObjective) < 0.5;
        if (second.targets !== undefined)
          candidates.push({
            targets: second.targets,
            figures: figuresOfTargets(job, second.targets),
            isOptimal: reaches,
            source: "solver",
          });
      }
    }
  }

  // 3. Not proven: the neighbourhoods again from the best placement, then the whole class from it.
  const best = bestOf(candidates);
  if (best !== undefined && isBetter(best.figures, current.figures)) current = best;
  if (!candidates.some((c) => c.isOptimal)) {
    improveByNeighbourhoods(job.deadlineMs, Math.max(solverBound, job.classBound));
    if (hasTime()) {
      const last = solve(whole, secondsLeft(), current.targets);
      solverStatus = last.outcome.status;
      if (whole === milp) {
        solverBound = Math.max(solverBound, provenGpus(milp, last.outcome, gpusOf));
        if (last.outcome.status === "optimal") optimalObjective = last.outcome.objective;
      }
      // A whole-budget placement must still fit what the other classes leave.
      if (last.targets !== undefined && (whole !== milp || fitsLeft(last.targets))) {
        const reaches =
          last.outcome.status === "optimal" &&
          optimalObjective !== undefined &&
          Math.abs(last.outcome.objective - optimalObjective) < 0.5;
        candidates.push({
          targets: last.targets,
          figures: figuresOfTargets(job, last.targets),
          isOptimal: reaches,
          source: "solver",
        });
      }
    }
  }

  const method = (fields: Omit<ClassMethod, "solverBound" | "seconds" | "solverStatus">): ClassMethod => ({
    ...fields,
    solverBound,
    seconds,
    solverStatus,
  });
  // Best first: the first that can be ordered move by move and beats the heuristic wins. A solver
  // placement with no order is cut off (its blocked moves may not all be chosen again) and the
  // class solved again while time is left.
  const tried = new Set<Candidate>();
  for (let retries = 0; ;) {
    const candidate = [...candidates]
      .filter((c) => !tried.has(c))
      .sort((a, b) => (isBetter(a.figures, b.figures) ? -1 : isBetter(b.figures, a.figures) ? 1 : 0))[0];
    if (candidate === undefined) break;
    tried.add(candidate);
    // Figures equal to a proven optimum's are optimal too (the objective is a function of them).
    const isProvenAt = (figures: Figures): boolean =>
      candidates.some((c) => c.isOptimal && !isBetter(c.figures, figures) && !isBetter(figures, c.figures));
    if (!isBetter(candidate.figures, heuristicFigures)) {
      const isOptimal = !isBetter(heuristicFigures, candidate.figures) && isProvenAt(heuristicFigures);
      return {
        method: method({
          method: "heuristic",
          isProvenOptimal: isOptimal,
          note: isOptimal ? "the heuristic's placement is optimal" : "the solver did not improve on the heuristic",
        }),
        moves: undefined,
      };
    }
    const ordered = orderTargets(job, candidate.targets);
    if (ordered.moves !== undefined) {
      const isOptimal = isProvenAt(candidate.figures);
      const note = isOptimal
        ? "proven optimal"
        : candidate.source === "neighbourhood"
          ? "a neighbourhood of the best placement, solved exactly; not proven optimal"
          : "the solver's best placement, not proven optimal";
      return { method: method({ method: "milp", isProvenOptimal: isOptimal, note }), moves: ordered.moves };
    }
    const cut = whole.columnsOf(new Map(ordered.stuck.map((m) => [m.replica, m.to])));
    if (
      candidate.source !== "solver" ||
      cut === undefined ||
      cut.length === 0 ||
      retries >= MAX_ORDER_RETRIES ||
      !hasTime()
    )
      continue;
    retries++;
    const cutModel = withRow(
      cutModels.get(whole) ?? whole.model,
      -Infinity,
      cut.length - 1,
      cut,
      cut.map(() => 1),
    );
    cutModels.set(whole, cutModel);
    const again = solve(whole, secondsLeft(), heuristicTargets, () => cutModel);
    solverStatus = again.outcome.status;
    if (again.targets === undefined) continue;
    const reaches =
      again.outcome.status === "optimal" &&
      optimalObjective !== undefined &&
      Math.abs(again.outcome.objective - optimalObjective) < 0.5;
    candidates.push({
      targets: again.targets,
      figures: figuresOfTargets(job, again.targets),
      isOptimal: reaches,
      source: "solver",
    });
  }
  const note =
    candidates.length === 0
      ? first.outcome.status === "infeasible"
        ? "the solver found no placement within the budgets left"
        : "the solver found nothing better in time"
      : "no better placement has a move-by-move order";
  return { method: method({ method: "heuristic", isProvenOptimal: false, note }), moves: undefined };
}

function bestOf(candidates: readonly Candidate[]): Candidate | undefined {
  let best: Candidate | undefined;
  for (const c of candidates) if (best === undefined || isBetter(c.figures, best.figures)) best = c;
  return best;
}

/** Whether GPU g holds something no plan moves (a replica that may not move, or memory outside replicas). */
function holdsFixed(state: PackingState, g: number): boolean {
  return state.hasBaselineOn(g) || state.residentsOf(g).some((r) => state.blocker(r) !== undefined);
}

/** Class GPUs in use under a placement of the class (what cannot move stays). */
function classGpusInUse(job: ClassJob, targets: ReadonlyMap<number, readonly number[]>): Set<number> {
  const inUse = new Set<number>();
  for (let g = 0; g < job.base.gpuCount; g++)
    if (job.base.gpuClassOf(g) === job.c && holdsFixed(job.base, g)) inUse.add(g);
  for (const gpus of targets.values()) for (const g of gpus) inUse.add(g);
  return inUse;
}

/** Per GPU in use under a placement: what its movable replicas hold and the room left beside all it holds (memory, compute). */
function roomOf(
  job: ClassJob,
  targets: ReadonlyMap<number, readonly number[]>,
  inUse: ReadonlySet<number>,
): Map<number, { memory: number; compute: number; freeMemory: number; freeCompute: number }> {
  const { base } = job;
  const out = new Map<number, { memory: number; compute: number; freeMemory: number; freeCompute: number }>();
  for (const g of inUse) {
    // What stays whatever moves: the GPU's load as it stands less its movable replicas (baseline included).
    let fixedMemory = base.memoryOf(g);
    let fixedCompute = base.loadOf(g);
    for (const r of base.residentsOf(g)) {
      if (!targets.has(r)) continue;
      fixedMemory -= base.sizeOf(r);
      fixedCompute -= base.shareOf(r);
    }
    out.set(g, {
      memory: 0,
      compute: 0,
      freeMemory: base.usableOf(g) - fixedMemory,
      freeCompute: base.computeCeiling - fixedCompute,
    });
  }
  for (const [r, gpus] of targets) {
    for (const g of gpus) {
      const entry = out.get(g);
      if (entry === undefined) continue;
      entry.memory += base.sizeOf(r);
      entry.compute += base.shareOf(r);
      entry.freeMemory -= base.sizeOf(r);
      entry.freeCompute -= base.shareOf(r);
    }
  }
  return out;
}

/** A necessary condition for emptying GPU t onto the others: its replicas fit the others' summed room. */
function couldEmpty(
  room: ReadonlyMap<number, { memory: number; compute: number; freeMemory: number; freeCompute: number }>,
  t: number,
): boolean {
  const own = room.get(t);
  if (own === undefined) return false;
  let memory = 0;
  let compute = 0;
  for (const [g, entry] of room) {
    if (g === t) continue;
    memory += Math.max(0, entry.freeMemory);
    compute += Math.max(0, entry.freeCompute);
  }
  return own.memory <= memory && own.compute <= compute + 1e-9;
}

/** GPUs, nodes and moves of the class under a placement (the rest of the fleet as it stands). */
function figuresOfTargets(job: ClassJob, targets: ReadonlyMap<number, readonly number[]>): Figures {
  const inUse = classGpusInUse(job, targets);
  const nodes = new Set([...inUse].map((g) => job.base.gpuNodeOf(g)));
  return { gpus: inUse.size, nodes: nodes.size, moves: targetMoves(job.base, targets).total };
}

/** The class's placement as ordered moves on a fresh state; without an order, the moves that blocked. */
function orderTargets(
  job: ClassJob,
  targets: ReadonlyMap<number, readonly number[]>,
): { moves: SearchMove[] | undefined; stuck: readonly { replica: number; to: readonly number[] }[] } {
  const state = new PackingState(job.snapshot, job.config, job.loads);
  const pending = job.milp.replicas
    .filter((r) => !sameGpus(targets.get(r) ?? [], state.gpusOf(r)))
    .map((r) => ({ replica: r, to: targets.get(r) ?? [] }));
  let stuck: readonly { replica: number; to: readonly number[] }[] = [];
  const journal = orderMoves(state, pending, (blocked) => (stuck = blocked));
  return { moves: journal === undefined ? undefined : state.commit(journal, "exact packing of the class"), stuck };
}
