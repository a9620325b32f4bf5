/**
 * Consolidation planning off the caller's event loop: a worker thread (plan-worker.ts) with HiGHS
 * loaded plans one snapshot at a time; requests queue. The thread starts on the first plan, is
 * replaced when it dies, and never holds the process open. The analyzer's API and /metrics keep
 * answering while a 10,000-GPU fleet is planned; only the snapshot's structured clone (tens of
 * milliseconds at that size) runs on the caller's thread.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { FleetSnapshot } from "../../fleet/snapshot.js";
import type { ConsolidationConfigInput } from "../constraints.js";
import type { ConsolidationPlan } from "./plan-types.js";
import type { PlanRequest, PlanResponse } from "./plan-worker-protocol.js";

/** Plans consolidations. `shutdown` is idempotent; a plan requested after it fails. */
export interface ConsolidationPlanner {
  plan(snapshot: FleetSnapshot, config: ConsolidationConfigInput): Promise<ConsolidationPlan>;
  shutdown(): Promise<void>;
}

/** What the last plan reported about its thread (for tests and the log). */
export interface PlannerThreadInfo {
  readonly threadId: number | undefined;
  /** Why HiGHS did not load in the thread (plans then come from the heuristic alone), or null. */
  readonly solverError: string | null;
}

/**
 * The compiled worker script. Tests run the TypeScript sources, whose sibling `.js` does not exist;
 * they use the build in dist/ (npm test compiles first).
 */
function workerScript(): URL {
  const sibling = new URL("./plan-worker.js", import.meta.url);
  if (existsSync(fileURLToPath(sibling))) return sibling;
  return new URL("../../../dist/analyzer/recommend/consolidation/plan-worker.js", import.meta.url);
}

type Pending = { resolve: (plan: ConsolidationPlan) => void; reject: (err: Error) => void };

/** A planner on a worker thread. */
export class PlannerThread implements ConsolidationPlanner {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private isShutDown = false;
  private last: PlannerThreadInfo = { threadId: undefined, solverError: null };

  /** The thread that made the last plan and whether HiGHS loaded there. */
  get info(): PlannerThreadInfo {
    return this.last;
  }

  plan(snapshot: FleetSnapshot, config: ConsolidationConfigInput): Promise<ConsolidationPlan> {
    if (this.isShutDown) return Promise.reject(new Error("consolidation planner: shut down"));
    const worker = this.worker ?? this.spawn();
    const id = this.nextId++;
    return new Promise<ConsolidationPlan>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      const request: PlanRequest = { id, snapshot, config };
      worker.postMessage(request);
    });
  }

  async shutdown(): Promise<void> {
    this.isShutDown = true;
    const worker = this.worker;
    this.worker = undefined;
    this.failAll(new Error("consolidation planner: shut down"));
    if (worker !== undefined) await worker.terminate();
  }

  private spawn(): Worker {
    const worker = new Worker(workerScript());
    worker.unref();
    worker.on("message", (response: PlanResponse) => {
      const pending = this.pending.get(response.id);
      if (pending === undefined) return;
      this.pending.delete(response.id);
      if (this.pending.size === 0) worker.unref();
      if (response.ok) {
        this.last = { threadId: response.threadId, solverError: response.solverError };
        pending.resolve(response.plan);
      } else pending.reject(new Error(`consolidation planner: ${response.error}`));
    });
    worker.on("error", (err) => {
      if (this.worker === worker) this.worker = undefined;
      this.failAll(new Error("consolidation planner: the planning thread failed", { cause: err }));
    });
    worker.on("exit", (code) => {
      if (this.worker === worker) this.worker = undefined;
      this.failAll(new Error(`consolidation planner: the planning thread exited (code ${code})`));
    });
    this.worker = worker;
    return worker;
  }

  private failAll(err: Error): void {
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      pending.reject(err);
    }
  }
}

/** A planner on its own worker thread (started on the first plan). */
export function createPlannerThread(): PlannerThread {
  return new PlannerThread();
}
