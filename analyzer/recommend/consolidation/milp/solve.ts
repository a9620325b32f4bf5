/**
 * Runs one MILP with HiGHS under a time limit, optionally from a known solution (a MIP start: the
 * solver then only has to beat it or prove it optimal), and reads back what the solver proved.
 */
import type { Highs } from "highs";
import type { SparseMilp } from "./sparse-model.js";

/** What a solve established. `values` is absent when no feasible solution was found. */
export interface MilpOutcome {
  /** `optimal`: proven; `feasible`: a solution, not proven optimal (time limit); `infeasible`; `failed`: no answer (limit before any solution, or a solver error). */
  readonly status: "optimal" | "feasible" | "infeasible" | "failed";
  readonly values: Float64Array | undefined;
  /** Objective of `values` (offset included), or Infinity. */
  readonly objective: number;
  /** The best proven lower bound on the objective (offset included), or -Infinity. */
  readonly dualBound: number;
  readonly seconds: number;
  /** The solver's own words when it failed or stopped early. */
  readonly detail: string;
}

/** A MILP solver bound to one loaded HiGHS instance. `solve` never throws: a solver error is a `failed` outcome. */
export interface MilpSolver {
  solve(
    model: SparseMilp,
    options: { readonly timeLimitSeconds: number; readonly start?: Float64Array | undefined },
  ): MilpOutcome;
  /** Whether a solve hit a solver error (the instance should be reloaded before more use). */
  readonly isBroken: boolean;
}

function numberOf(value: number | bigint): number {
  return typeof value === "bigint" ? Number(value) : value;
}

/**
 * A solver on `highs`. The objective must be integral (every coefficient an integer), so an
 * absolute gap below 1 is optimality: the solver stops as soon as it proves it.
 */
export function highsSolver(highs: Highs): MilpSolver {
  const status = highs.constants.modelStatus;
  let isBroken = false;
  const solve: MilpSolver["solve"] = (model, options) => {
    const started = performance.now();
    try {
      return run(model, options, started);
    } catch (err) {
      isBroken = true;
      return {
        status: "failed",
        values: undefined,
        objective: Infinity,
        dualBound: -Infinity,
        seconds: (performance.now() - started) / 1000,
        detail: `solver error: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
  };
  const run = (model: SparseMilp, options: Parameters<MilpSolver["solve"]>[1], started: number): MilpOutcome => {
    const instance = highs.createModel({
      numCols: model.numCols,
      numRows: model.numRows,
      offset: model.offset,
      colCost: model.colCost,
      colLower: model.colLower,
      colUpper: model.colUpper,
      rowLower: model.rowLower,
      rowUpper: model.rowUpper,
      integrality: model.integrality,
      matrix: {
        format: "csr",
        numRows: model.numRows,
        numCols: model.numCols,
        starts: model.starts,
        indices: model.indices,
        values: model.values,
      },
    });
    try {
      instance.options.set({
        output_flag: false,
        time_limit: Math.max(0.01, options.timeLimitSeconds),
        mip_rel_gap: 0,
        mip_abs_gap: 0.5,
      });
      if (options.start !== undefined) instance.setSolution({ colValue: options.start });
      const code = instance.run().modelStatus;
      const seconds = (performance.now() - started) / 1000;
      if (code === status.infeasible)
        return {
          status: "infeasible",
          values: undefined,
          objective: Infinity,
          dualBound: Infinity,
          seconds,
          detail: "infeasible",
        };
      // primal_solution_status 2: a feasible solution is held (HiGHS kSolutionStatusFeasible).
      const hasSolution = numberOf(instance.info.get("primal_solution_status")) === 2;
      const dual = numberOf(instance.info.get("mip_dual_bound"));
      const dualBound = Number.isFinite(dual) ? dual : -Infinity;
      if (!hasSolution)
        return {
          status: "failed",
          values: undefined,
          objective: Infinity,
          dualBound,
          seconds,
          detail: `model status ${code}, no feasible solution`,
        };
      const values = instance.getSolution().colValue;
      const objective = instance.getObjectiveValue();
      const isOptimal = code === status.optimal;
      return {
        status: isOptimal ? "optimal" : "feasible",
        values,
        objective,
        dualBound: isOptimal ? objective : dualBound,
        seconds,
        detail: isOptimal ? "optimal" : `model status ${code}`,
      };
    } finally {
      instance.dispose();
    }
  };
  return {
    solve,
    get isBroken() {
      return isBroken;
    },
  };
}
