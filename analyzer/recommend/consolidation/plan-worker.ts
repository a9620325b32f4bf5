/**
 * The planning thread. It loads HiGHS once and plans one snapshot per request, so a plan of a large
 * fleet (seconds of CPU, HiGHS solves that block the thread they run on) never blocks the
 * analyzer's event loop; the main thread talks to it through planner-thread.ts.
 */
import { setFlagsFromString } from "node:v8";
import { parentPort, threadId } from "node:worker_threads";
import { errorMessage } from "../../../common/errors.js";
import { loadHighs } from "./milp/highs.js";
import { highsSolver, type MilpSolver } from "./milp/solve.js";
import { planConsolidation } from "./plan.js";
import type { PlanRequest, PlanResponse, SnapshotParts } from "./plan-worker-protocol.js";

/*
 * HiGHS runs on V8's baseline WebAssembly compiler (Liftoff) only. By default V8 recompiles a
 * module's hot functions with its optimising compiler (TurboFan) on background threads; for
 * HiGHS's large functions those compilations held ~55 MiB of native memory at once, which the
 * process's allocator then kept after the thread ended (at 1,000 GPUs: ~80 MiB of the analyzer's
 * peak RSS). Baseline code solves more slowly (up to ~2× in the consolidation bench's small
 * fleets: the same plans at the proven optimum, a few classes fewer proven optimal within the time
 * budget). V8 reads the flag when it compiles, so it must be set before HiGHS loads. It holds for
 * the whole process from then on: the analyzer compiles no other WebAssembly, but a process that
 * also loads HiGHS on its own thread (a test or benchmark) gets baseline code there too once a
 * planning thread has started.
 */
setFlagsFromString("--liftoff-only");

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
