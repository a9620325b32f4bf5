/**
 * Lower bounds on the GPUs a set of replicas needs, so every plan shows its gap to optimal.
 *
 * Consolidation keeps a replica in its pool and on its GPU model (the default placement), so the
 * fleet splits into classes (pool × GPU model) packed independently, each a one-dimensional bin
 * packing per resource: bins are the class's GPUs with capacity = usable memory
 * (memory × (1 − headroom); the largest receiving GPU's when they differ), items are what the
 * replicas reserve on each GPU (classes and items: class-items.ts).
 *
 * Relaxation used for tensor-parallel replicas: a replica of degree t reserving m bytes per GPU is
 * t items of size m. Every feasible placement of the real problem (t distinct GPUs of one node and
 * NVLink domain) is a feasible packing of those t items, so a bound of the relaxed problem bounds
 * the real one. (Counting it as t whole GPUs would not be sound: other replicas may share its GPUs.)
 * Memory in use outside any replica is an item that cannot move; it is included as an item too.
 *
 * The same bounds on compute (items = utilization shares, capacity = the compute ceiling) also hold,
 * and so do dual-feasible-function bounds on either resource and on both together
 * (dual-feasible-bounds.ts); the class bound is the largest of them. GPUs already over a limit may
 * stay so when nothing moves onto them; `resourceBounds` says how the bounds stay sound then. With `placement.pool` or
 * `gpuModel` = `any` the per-class bounds no longer bound a plan that moves replicas across classes.
 */
import type { FleetSnapshot } from "../../fleet/snapshot.js";
import { classItems, gpuLoads } from "./class-items.js";
import { COMPUTE_EPSILON, fleetLoads, type ConsolidationConfig, type FleetLoads } from "../constraints.js";
import { dualFeasibleBound, toShares } from "./dual-feasible-bounds.js";

/** Slack for ceilings of floating point quotients (compute shares are fractions). */
const EPSILON = 1e-9;

const ceilSafe = (x: number): number => Math.ceil(x - EPSILON);

/**
 * L1 = ⌈Σ sizes / capacity⌉: the bins needed if items could be split across bins.
 * Martello & Toth, "Knapsack Problems: Algorithms and Computer Implementations", Wiley 1990, ch. 8 (bin packing), §8.3.
 */
export function lowerBoundL1(sizes: readonly number[], capacity: number): number {
  if (sizes.length === 0) return 0;
  let sum = 0;
  for (const size of sizes) sum += Math.min(size, capacity);
  return ceilSafe(sum / capacity);
}

/**
 * Martello–Toth L2 (Martello & Toth 1990, ch. 8, §8.3, lower bound L2): for 0 ≤ α ≤ C/2 let
 *   J1 = { j : s_j > C − α },  J2 = { j : C − α ≥ s_j > C/2 },  J3 = { j : C/2 ≥ s_j ≥ α };
 *   L(α) = |J1| + |J2| + max(0, ⌈(Σ_{J3} s_j − (|J2|·C − Σ_{J2} s_j)) / C⌉)
 * (no J3 item fits with a J1 item; J3 items fill at most the J2 bins' residual, the rest needs new
 * bins), and L2 = max_α L(α). L(α) changes only at item sizes, so α ranges over 0 and the distinct
 * sizes ≤ C/2: O(n log n) with sorting and prefix sums. L2 ≥ L1. Sizes above C are clamped to C.
 */
export function lowerBoundL2(sizes: readonly number[], capacity: number): number {
  const n = sizes.length;
  if (n === 0) return 0;
  const asc = Float64Array.from(sizes, (s) => Math.min(s, capacity)).sort();
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = (prefix[i] as number) + (asc[i] as number);
  /** Index of the first size > x (upper bound) / ≥ x (lower bound) in the ascending array. */
  const firstAbove = (x: number): number => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((asc[mid] as number) <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const firstAtLeast = (x: number): number => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((asc[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  // Comparisons get a little slack against rounding (utilization shares are sums of fractions):
  // an item that fits exactly must not look one ulp too big, which would overstate the bound.
  const slack = capacity * EPSILON;
  const half = capacity / 2;
  const aboveHalf = firstAbove(half + slack);
  const sum = (from: number, to: number): number => (prefix[to] as number) - (prefix[from] as number);
  const bound = (alpha: number): number => {
    const j1From = Math.max(aboveHalf, firstAbove(capacity - alpha + slack));
    const j1 = n - j1From;
    const j2 = j1From - aboveHalf;
    const j3From = firstAtLeast(alpha);
    const j3Sum = j3From < aboveHalf ? sum(j3From, aboveHalf) : 0;
    const residual = j2 * capacity - sum(aboveHalf, j1From);
    return j1 + j2 + Math.max(0, ceilSafe((j3Sum - residual) / capacity));
  };
  let best = bound(0);
  for (let i = 0; i < aboveHalf; i++) {
    const alpha = asc[i] as number;
    if (i > 0 && alpha === asc[i - 1]) continue;
    best = Math.max(best, bound(alpha));
  }
  return Math.max(best, lowerBoundL1(sizes, capacity));
}

/**
 * Bounds of one resource in one class, sound when GPUs already over their limit are kept as they
 * are: a GPU that receives nothing may stay over the limit (the plan only checks destinations), so
 * its final load is at most max(limit, its load now). Hence
 * - L1 = ⌈(Σ items − Σ_g max(0, load_g − limit)) / limit⌉ (the excess of over-full GPUs can stay), and
 * - L2 = Martello–Toth L2 with every GPU given the largest such capacity, max(limit, max_g load_g):
 *   a relaxation of GPUs whose capacities differ. With no GPU over its limit both are the textbook
 *   bounds at capacity = limit.
 */
export function resourceBounds(items: readonly number[], loads: readonly number[], limit: number): { readonly l1: number; readonly l2: number; readonly overLimit: number } {
  let excess = 0;
  let largest = limit;
  let overLimit = 0;
  for (const load of loads) {
    if (load > limit) {
      excess += load - limit;
      largest = Math.max(largest, load);
      overLimit++;
    }
  }
  let sum = 0;
  for (const item of items) sum += item;
  const l1 = items.length === 0 ? 0 : Math.max(0, ceilSafe((sum - excess) / limit));
  return { l1, l2: lowerBoundL2(items, largest), overLimit };
}

/** Bounds of one class: replicas of one pool on one GPU model. */
export interface ClassBound {
  readonly pool: string;
  readonly gpuModel: string;
  /** GPUs of the class that can hold replicas (healthy, not in MIG mode). */
  readonly gpus: number;
  /** Usable memory (memory × (1 − headroom)) of the largest GPU that can receive, bytes. */
  readonly capacityBytes: number;
  /** Items: one per replica per GPU it holds, plus memory in use outside replicas. */
  readonly items: number;
  /** GPUs already over their usable memory / over the compute ceiling (they weaken the bounds). */
  readonly gpusOverMemory: number;
  readonly gpusOverCompute: number;
  readonly memoryL1: number;
  readonly memoryL2: number;
  readonly computeL1: number;
  readonly computeL2: number;
  /** The best dual-feasible-function bound (memory, compute or both mixed) and the function that gave it. */
  readonly dualFeasible: number;
  readonly dualFeasibleFunction: string;
  /** The largest of the bounds: no plan leaves fewer GPUs of this class in use. */
  readonly bound: number;
}

/**
 * L1 and L2 per (pool, GPU model) class for the replicas as they stand (`resourceBounds`, on memory
 * and on compute). GPUs in MIG mode and the replicas on them are left out: they are not planned.
 * Sorted by pool, then GPU model.
 */
export function consolidationBounds(snapshot: FleetSnapshot, config: ConsolidationConfig, loads: FleetLoads = fleetLoads(snapshot)): ClassBound[] {
  // A destination's compute may reach the ceiling plus the planner's rounding slack.
  const computeLimit = config.computeCeilingRatio + COMPUTE_EPSILON;
  return classItems(snapshot, config, loads).map((cls) => {
    const capacity = cls.capacityBytes;
    // L1/L2 items: every replica's memory and the non-zero baselines; compute: the non-zero shares.
    const memoryItems = cls.itemMemory.filter((bytes, i) => bytes > 0 || !cls.itemIsBaseline[i]);
    const computeItems = cls.itemCompute.filter((share) => share > 0);
    const memory = resourceBounds(memoryItems, gpuLoads(cls, cls.itemMemory), capacity);
    const compute = resourceBounds(computeItems, gpuLoads(cls, cls.itemCompute), computeLimit);
    const dff = dualFeasibleBound({
      gpuOf: Int32Array.from(cls.itemGpu),
      memory: toShares(cls.itemMemory, capacity),
      compute: toShares(cls.itemCompute, computeLimit),
      gpuCount: cls.gpuUuids.length,
    });
    return {
      pool: cls.pool,
      gpuModel: cls.gpuModel,
      gpus: cls.healthyGpus,
      capacityBytes: capacity,
      items: memoryItems.length,
      gpusOverMemory: memory.overLimit,
      gpusOverCompute: compute.overLimit,
      memoryL1: memory.l1,
      memoryL2: memory.l2,
      computeL1: compute.l1,
      computeL2: compute.l2,
      dualFeasible: dff.bound,
      dualFeasibleFunction: dff.witness,
      bound: Math.max(memory.l1, memory.l2, compute.l1, compute.l2, dff.bound),
    };
  });
}
