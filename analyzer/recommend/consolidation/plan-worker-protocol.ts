/** Messages between the analyzer and its planning thread (plan-worker.ts, planner-thread.ts). */
import type { FleetSnapshot } from "../../fleet/snapshot.js";
import type { ConsolidationConfigInput } from "../constraints.js";

/**
 * A plan request. The snapshot travels as JSON text (`SnapshotParts`, built in slices so the caller's
 * event loop is never held for long): a structured clone of a 25,000-replica snapshot costs the
 * sending thread ~250 ms in one piece, a string's copy almost nothing.
 */
export interface PlanRequest {
  readonly id: number;
  readonly snapshotJson: string;
  readonly config: ConsolidationConfigInput;
}

/** The shape of `snapshotJson`: the snapshot without its nodes and replicas, then those. */
export interface SnapshotParts {
  readonly head: Omit<FleetSnapshot, "nodes" | "replicas">;
  readonly nodes: FleetSnapshot["nodes"];
  readonly replicas: FleetSnapshot["replicas"];
}

/** The plan comes back as JSON text too (parsing it is cheaper for the caller than a clone). */
export type PlanResponse =
  | {
      readonly id: number;
      readonly ok: true;
      readonly planJson: string;
      readonly threadId: number;
      readonly solverError: string | null;
    }
  | { readonly id: number; readonly ok: false; readonly error: string };
