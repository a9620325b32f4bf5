/** Messages between the analyzer and its planning thread (plan-worker.ts, planner-thread.ts). */
import type { FleetSnapshot } from "../../fleet/snapshot.js";
import type { ConsolidationConfigInput } from "../constraints.js";
import type { ConsolidationPlan } from "./plan-types.js";

export interface PlanRequest {
  readonly id: number;
  readonly snapshot: FleetSnapshot;
  readonly config: ConsolidationConfigInput;
}

export type PlanResponse =
  | { readonly id: number; readonly ok: true; readonly plan: ConsolidationPlan; readonly threadId: number; readonly solverError: string | null }
  | { readonly id: number; readonly ok: false; readonly error: string };
