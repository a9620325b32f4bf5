/**
 * The consolidation plan as data: ordered moves, what they free, per placement class how the
 * placement was found and how far it can be from optimal. JSON-serialisable; nothing here runs.
 */
import type { FragmentationFigures } from "../../fleet/fragmentation.js";
import type { ClassBound } from "./bounds.js";
import type { ClassMethod } from "./exact-class.js";

/** One step of a plan: delete the replica's pod and start it on other GPUs. */
export interface ConsolidationMove {
  /** 1-based position in the plan; steps run in this order. */
  readonly step: number;
  readonly replicaId: string;
  readonly model: string;
  readonly namespace: string;
  readonly pod: string;
  readonly tensorParallel: number;
  readonly memoryPerGpuBytes: number;
  readonly fromNode: string;
  readonly fromGpus: readonly string[];
  readonly fromGpuIndexes: readonly number[];
  readonly toNode: string;
  readonly toGpus: readonly string[];
  readonly toGpuIndexes: readonly number[];
  /** Why: the GPU or node this step helps empty, and where the replica lands. */
  readonly reason: string;
}

/**
 * One placement class (pool × GPU model; `*` where the config lets replicas cross pools or models):
 * its lower bounds, GPUs in use before and after, and how its placement was found. `bound` is the
 * largest of the bounds, the solver's proof included; `gapGpus` = GPUs in use after − bound, never
 * negative, 0 proving the class's GPU count optimal.
 */
export interface ClassConsolidation extends ClassBound {
  readonly gpusInUseBefore: number;
  readonly gpusInUseAfter: number;
  readonly gapGpus: number;
  readonly moves: number;
  readonly solve: ClassMethod;
}

/** Σ over classes: memory L1, memory L2, the dual-feasible-function bound, and the largest bound per class. */
export interface LowerBoundSum {
  readonly memoryL1: number;
  readonly memoryL2: number;
  readonly dualFeasible: number;
  readonly bound: number;
}

/** One pool's result: GPUs and nodes before and after, moves, bounds and the gap to them. */
export interface PoolConsolidation {
  readonly pool: string;
  readonly gpusInUseBefore: number;
  readonly gpusInUseAfter: number;
  readonly gpusFreed: number;
  readonly nodesInUseBefore: number;
  readonly nodesInUseAfter: number;
  readonly nodesFreed: number;
  readonly moves: number;
  /**
   * Σ over the pool's classes; null when classes span pools (`placement.pool: any`): a replica may
   * then leave the pool, so no bound holds for the pool alone (see the plan's `classes`).
   */
  readonly lowerBound: LowerBoundSum | null;
  /** GPUs in use after the plan (not counting MIG GPUs) minus the bound: 0 proves the packing optimal; null with `lowerBound`. */
  readonly gapGpus: number | null;
  /** The pool's classes (empty when classes span pools). */
  readonly classes: readonly ClassConsolidation[];
}

/** Fragmentation of the fleet (FGD expected fragmentation and stranded memory) before and after. */
export interface FragmentationChange {
  readonly before: FragmentationFigures;
  readonly after: FragmentationFigures;
  readonly pools: readonly {
    readonly pool: string;
    readonly before: FragmentationFigures;
    readonly after: FragmentationFigures;
  }[];
}

/** A consolidation plan: ordered moves and what they free. JSON-serialisable. */
export interface ConsolidationPlan {
  readonly takenAtMs: number;
  readonly moves: readonly ConsolidationMove[];
  readonly movesCount: number;
  readonly gpusInUseBefore: number;
  readonly gpusInUseAfter: number;
  readonly gpusFreed: number;
  readonly nodesInUseBefore: number;
  readonly nodesInUseAfter: number;
  readonly nodesFreed: number;
  readonly freedGpus: readonly { readonly node: string; readonly uuid: string; readonly index: number }[];
  readonly freedNodes: readonly string[];
  readonly pools: readonly PoolConsolidation[];
  /** Every placement class, sorted by pool then GPU model. */
  readonly classes: readonly ClassConsolidation[];
  /** Σ of the classes' bounds: no plan leaves fewer GPUs (not counting MIG GPUs) in use. */
  readonly lowerBound: LowerBoundSum;
  /** GPUs in use after the plan (not counting MIG GPUs) minus `lowerBound.bound`; never negative. */
  readonly gapGpus: number;
  readonly fragmentation: FragmentationChange;
  /** Replicas that could not move at all, by reason (pinned, slo-burning, mig). */
  readonly immovable: Readonly<Record<string, number>>;
  /** The independent checker's verdict (always valid: an invalid plan throws). */
  readonly check: { readonly isValid: boolean; readonly movesChecked: number };
  /** The heuristic's search order that produced the moves of the classes it solved. */
  readonly searchVariant: string;
  /** Wall time of the planning, milliseconds, and of it the exact solver's. */
  readonly planMs: number;
  readonly exactMs: number;
}
