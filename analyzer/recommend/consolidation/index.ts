/**
 * Consolidation: plans that free GPUs and nodes by moving replicas, checked by an independent
 * checker, with lower bounds beside them. This is the folder's face; everything else in it is the
 * planner's inside.
 *
 * - `planConsolidation`: one plan, in this thread (the heuristic; exact per class given a solver).
 * - `createPlannerThread`: the same on a worker thread with HiGHS loaded, so a caller's event loop
 *   stays free while a large fleet is planned (the analyzer and the CLI use it).
 * - `placementClassOf`, `classItems`, `gpuLoads`: the classes and items every lower bound sees, for
 *   bounds computed outside the planner (the benchmark's configuration LP).
 *
 * Nothing outside this folder imports its other files (their unit tests aside).
 */
export { applyMoves } from "./apply-moves.js";
export { consolidationBounds, lowerBoundL1, lowerBoundL2, resourceBounds, type ClassBound } from "./bounds.js";
export { classItems, gpuLoads, type ClassItems } from "./class-items.js";
export type { ClassMethod } from "./exact-class.js";
export { loadHighs } from "./milp/highs.js";
export { highsSolver, type MilpSolver } from "./milp/solve.js";
export { placementClassOf, type PlacementClassId } from "./placement-class.js";
export { planConsolidation, type PlanOptions } from "./plan.js";
export {
  createPlannerThread,
  DEFAULT_PLANNER_HEAP_LIMITS,
  type ConsolidationPlanner,
  type PlannerHeapLimits,
  type PlannerThreadInfo,
} from "./planner-thread.js";
export type {
  ClassConsolidation,
  ConsolidationMove,
  ConsolidationPlan,
  FragmentationChange,
  LowerBoundSum,
  PoolConsolidation,
} from "./plan-types.js";
