/**
 * Consolidation planning off the caller's event loop: a worker thread (plan-worker.ts) with HiGHS
 * loaded plans one snapshot at a time; requests queue. The thread starts on the first plan, is
 * replaced when it dies, and never holds the process open. The analyzer's API and /metrics keep
 * answering while a 10,000-GPU fleet is planned: the snapshot goes to the thread as JSON written a
 * slice at a time between turns of the caller's event loop, and the plan comes back as JSON text.
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

/** Whether a worker's error is Node's end of a thread past its heap limit. */
function isOutOfMemory(err: unknown): boolean {
  return err instanceof Error && "code" in err && err.code === "ERR_WORKER_OUT_OF_MEMORY";
}

type Pending = { resolve: (plan: ConsolidationPlan) => void; reject: (err: Error) => void };

/** Items serialised between two turns of the event loop. */
const SLICE = 500;

/**
 * The snapshot as `SnapshotParts` JSON, written a slice of nodes or replicas at a time with a turn of
 * the event loop between slices, so other requests are answered while a large snapshot is written.
 */
async function snapshotAsJson(snapshot: FleetSnapshot): Promise<string> {
  const { nodes, replicas, ...head } = snapshot;
  const parts: string[] = [`{"head":${JSON.stringify(head)}`];
  for (const [name, items] of [
    ["nodes", nodes],
    ["replicas", replicas],
  ] as const) {
    parts.push(`,"${name}":[`);
    for (let i = 0; i < items.length; i += SLICE) {
      const slice = items
        .slice(i, i + SLICE)
        .map((item) => JSON.stringify(item))
        .join(",");
      parts.push(i === 0 ? slice : `,${slice}`);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    parts.push("]");
  }
  parts.push("}");
  return parts.join("");
}

/**
 * The planning thread's JavaScript heap, MiB (Node's `resourceLimits` of a worker). A thread's
 * default young generation is sized for throughput (up to 3 × 16 MiB of semi-spaces); the plan's
 * objects are small and short-lived, so a small one keeps the thread's memory down at little cost
 * (at 1,000 GPUs the analyzer's peak RSS fell by ~20 MiB). The old generation is a ceiling, not a
 * reservation: a plan past it ends its thread, and the plan fails saying so (the caller then plans
 * with the heuristic alone, recommendations.ts). A 10,000-GPU / 25,000-replica plan needs between
 * 48 and 96 MiB of it.
 */
export interface PlannerHeapLimits {
  readonly youngGenerationMb: number;
  readonly oldGenerationMb: number;
}

/** The default heap limits of the planning thread (see PlannerHeapLimits). */
export const DEFAULT_PLANNER_HEAP_LIMITS: PlannerHeapLimits = { youngGenerationMb: 4, oldGenerationMb: 1024 };

/** How the planning thread is kept. */
export interface PlannerThreadOptions {
  /** The thread's heap limits; default DEFAULT_PLANNER_HEAP_LIMITS. */
  readonly heapLimits?: PlannerHeapLimits;
  /**
   * End the thread once it has no plan to make, and start a fresh one for the next: HiGHS's
   * WebAssembly memory and the thread's heap grow with the exact classes solved and are never given
   * back, so a long-running analyzer planning every evaluation would keep its largest plan's memory
   * (at 1,000 GPUs the analyzer's peak RSS went from ~250 to ~380 MiB over four evaluations). A
   * fresh thread costs loading HiGHS again (tens of ms of the thread's CPU). Default false.
   */
  readonly recycle?: boolean;
}

/** A planner on a worker thread. */
export class PlannerThread implements ConsolidationPlanner {
  constructor(private readonly options: PlannerThreadOptions = {}) {}

  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private isShutDown = false;
  private last: PlannerThreadInfo = { threadId: undefined, solverError: null };

  /** The thread that made the last plan and whether HiGHS loaded there. */
  get info(): PlannerThreadInfo {
    return this.last;
  }

  async plan(snapshot: FleetSnapshot, config: ConsolidationConfigInput): Promise<ConsolidationPlan> {
    if (this.isShutDown) throw new Error("consolidation planner: shut down");
    const snapshotJson = await snapshotAsJson(snapshot);
    if (this.isShutDown) throw new Error("consolidation planner: shut down");
    const worker = this.worker ?? this.spawn();
    const id = this.nextId++;
    return new Promise<ConsolidationPlan>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      const request: PlanRequest = { id, snapshotJson, config };
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
    const limits = this.options.heapLimits ?? DEFAULT_PLANNER_HEAP_LIMITS;
    const worker = new Worker(workerScript(), {
      resourceLimits: {
        maxYoungGenerationSizeMb: limits.youngGenerationMb,
        maxOldGenerationSizeMb: limits.oldGenerationMb,
      },
    });
    worker.unref();
    worker.on("message", (response: PlanResponse) => {
      const pending = this.pending.get(response.id);
      if (pending === undefined) return;
      this.pending.delete(response.id);
      if (this.pending.size === 0) {
        worker.unref();
        if (this.options.recycle === true && this.worker === worker) {
          this.worker = undefined;
          void worker.terminate();
        }
      }
      if (response.ok) {
        this.last = { threadId: response.threadId, solverError: response.solverError };
        // Our own thread wrote it from a ConsolidationPlan (no outside input crosses here).
        pending.resolve(JSON.parse(response.planJson) as ConsolidationPlan);
      } else pending.reject(new Error(`consolidation planner: ${response.error}`));
    });
    // Only the current thread's end fails the plans waiting: a recycled thread ends with none of its
    // own, and the plans then waiting belong to its successor.
    worker.on("error", (err) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      const reason = isOutOfMemory(err)
        ? `the planning thread ran out of memory (its heap limit: ${limits.oldGenerationMb} MiB)`
        : "the planning thread failed";
      this.failAll(new Error(`consolidation planner: ${reason}`, { cause: err }));
    });
    worker.on("exit", (code) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
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

/** A planner on its own worker thread (started on the first plan; with `recycle`, on each plan after an idle spell). */
export function createPlannerThread(options: PlannerThreadOptions = {}): PlannerThread {
  return new PlannerThread(options);
}
