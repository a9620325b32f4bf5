/**
 * The planning thread. It loads HiGHS once and plans one snapshot per request, so a plan of a large
 * fleet (seconds of CPU, HiGHS solves that block the thread they run on) never blocks the
 * analyzer's event loop; the main thread talks to it through planner-thread.ts.
 */
import { parentPort, threadId } from "node:worker_threads";
import { errorMessage } from "../../../common/errors.js";
import { loadHighs } from "./milp/highs.js";
import { highsSolver, type MilpSolver } from "./milp/solve.js";
import { planConsolidation } from "./plan.js";
import type { PlanRequest, PlanResponse, SnapshotParts } from "./plan-worker-protocol.js";

let solver: MilpSolver | undefined;
let solverError: string | undefined;

/** The solver, loaded on first use and again after a solve broke the instance; undefined when HiGHS cannot load. */
async function currentSolver(): Promise<MilpSolver | undefined> {
  if (solver !== undefined && !solver.isBroken) return solver;
  try {
    solver = highsSolver(await loadHighs());
    solverError = undefined;
  } catch (err) {
    solver = undefined;
    solverError = errorMessage(err);
  }
  return solver;
}

parentPort?.on("message", (request: PlanRequest) => {
  void (async (): Promise<PlanResponse> => {
    try {
      const loaded = await currentSolver();
      // Written by planner-thread.ts from a parsed snapshot (no outside input crosses here).
      const parts = JSON.parse(request.snapshotJson) as SnapshotParts;
      const snapshot = { ...parts.head, nodes: parts.nodes, replicas: parts.replicas };
      const plan = planConsolidation(snapshot, request.config, loaded === undefined ? {} : { solver: loaded });
      return { id: request.id, ok: true, planJson: JSON.stringify(plan), threadId, solverError: solverError ?? null };
    } catch (err) {
      return { id: request.id, ok: false, error: errorMessage(err) };
    }
  })().then((response) => parentPort?.postMessage(response));
});
