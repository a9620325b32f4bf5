/**
 * Lower bounds on the GPUs a set of replicas needs, so every plan shows its gap to optimal.
 *
 * A replica only moves within its placement class (placement-class.ts: pool × GPU model by default,
 * every pool or every model together when the config says `any`), so the fleet splits into classes
 * packed independently, each a bin packing per resource: bins are the class's GPUs, each with its
 * own usable memory (memory × (1 − headroom)), items are what the replicas reserve on each GPU
 * (classes and items: class-items.ts). Bounds that need one capacity use the largest of the class
 * (a relaxation: every GPU made as large as the largest), so a class mixing an 80 GB and a 48 GB
 * model stays sound; the volume bound L1 uses each GPU's own capacity (`capacityBound`).
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
 * stay so when nothing moves onto them; `resourceBounds` says how the bounds stay sound then.
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
  for (let i = 0; i < n; i++) prefix[i + 1] = (prefix[i] ?? 0) + (asc[i] ?? 0);
  /** Index of the first size > x (upper bound) / ≥ x (lower bound) in the ascending array. */
  const firstAbove = (x: number): number => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((asc[mid] ?? 0) <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const firstAtLeast = (x: number): number => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((asc[mid] ?? 0) < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  // Comparisons get a little slack against rounding (utilization shares are sums of fractions):
  // an item that fits exactly must not look one ulp too big, which would overstate the bound.
  const slack = capacity * EPSILON;
  const half = capacity / 2;
  const aboveHalf = firstAbove(half + slack);
  const sum = (from: number, to: number): number => (prefix[to] ?? 0) - (prefix[from] ?? 0);
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
    const alpha = asc[i] ?? 0;
    if (i > 0 && alpha === asc[i - 1]) continue;
    best = Math.max(best, bound(alpha));
  }
  return Math.max(best, lowerBoundL1(sizes, capacity));
}

/**
 * The volume bound over GPUs of different sizes: the fewest GPUs whose capacities, largest first,
 * add up to `total`. Every GPU in use after a plan holds at most its capacity, so the GPUs in use
 * hold `total` within their summed capacities, which the largest ones bound. With equal capacities
 * C this is L1 = ⌈total / C⌉. 0 when `total` ≤ 0; all of them (and more cannot help) when even
 * every GPU together falls short, which only an inconsistent input produces.
 */
export function capacityBound(total: number, capacities: readonly number[]): number {
  if (total <= 0) return 0;
  const sorted = Float64Array.from(capacities).sort().reverse();
  const slack = EPSILON * Math.max(1, total);
  let sum = 0;
  for (let k = 0; k < sorted.length; k++) {
    sum += sorted[k] ?? 0;
    if (sum >= total - slack) return k + 1;
  }
  return sorted.length;
}

/**
 * Bounds of one resource in one class, sound when GPUs differ in size and when GPUs already over
 * their limit are kept as they are: a GPU that receives nothing may stay over its limit (the plan
 * only checks destinations), so its final load is at most max(limit_g, its load now), and a GPU
 * that cannot receive at all (unhealthy, or serving a model burning its SLO) at most its load now.
 * Hence
 * - L1 = `capacityBound` of the items' total over those per-GPU capacities (with equal limits and no
 *   GPU over them, ⌈Σ items / limit⌉), and
 * - L2 = Martello–Toth L2 with every GPU given the largest of them, max(limit_g, load_g): a
 *   relaxation of GPUs whose capacities differ. With equal limits and no GPU over them both are the
 *   textbook bounds.
 */
export function resourceBounds(
  items: readonly number[],
  loads: readonly number[],
  limits: number | readonly number[],
  canReceive?: readonly boolean[],
): { readonly l1: number; readonly l2: number; readonly overLimit: number } {
  let largest = 0;
  let overLimit = 0;
  const capacities = loads.map((load, g) => {
    const limit = typeof limits === "number" ? limits : (limits[g] ?? 0);
    if (load > limit) overLimit++;
    const capacity = canReceive?.[g] === false ? load : Math.max(limit, load);
    largest = Math.max(largest, capacity);
    return capacity;
  });
  let sum = 0;
  for (const item of items) sum += item;
  const l1 = items.length === 0 ? 0 : capacityBound(sum, capacities);
  return { l1, l2: largest > 0 ? lowerBoundL2(items, largest) : 0, overLimit };
}

/** Bounds of one placement class (`pool` or `gpuModel` is `*` when the class spans them). */
export interface ClassBound {
  readonly pool: string;
  readonly gpuModel: string;
  /** GPUs of the class that can hold replicas (healthy, not in MIG mode). */
  readonly gpus: number;
  /** Usable memory (memory × (1 − headroom)) of the largest GPU that can receive, bytes (GPUs of a class may differ). */
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
 * L1, L2 and the dual-feasible-function bounds per placement class for the replicas as they stand
 * (`resourceBounds`, on memory and on compute). GPUs in MIG mode and the replicas on them are left
 * out: they are not planned. Sorted by pool, then GPU model (`*` for a class that spans them).
 */
export function consolidationBounds(
  snapshot: FleetSnapshot,
  config: ConsolidationConfig,
  loads: FleetLoads = fleetLoads(snapshot),
): ClassBound[] {
  // A destination's compute may reach the ceiling plus the planner's rounding slack.
  const computeLimit = config.computeCeilingRatio + COMPUTE_EPSILON;
  return classItems(snapshot, config, loads).map((cls) => {
    const capacity = cls.capacityBytes;
    // L1/L2 items: every replica's memory and the non-zero baselines; compute: the non-zero shares.
    const memoryItems = cls.itemMemory.filter((bytes, i) => bytes > 0 || !cls.itemIsBaseline[i]);
    const computeItems = cls.itemCompute.filter((share) => share > 0);
    const memory = resourceBounds(memoryItems, gpuLoads(cls, cls.itemMemory), cls.gpuUsableBytes, cls.gpuCanReceive);
    const compute = resourceBounds(computeItems, gpuLoads(cls, cls.itemCompute), computeLimit, cls.gpuCanReceive);
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
