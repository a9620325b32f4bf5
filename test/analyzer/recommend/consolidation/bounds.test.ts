import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  consolidationBounds,
  lowerBoundL1,
  lowerBoundL2,
  resourceBounds,
} from "../../../../analyzer/recommend/consolidation/index.js";
import { planConsolidation } from "../../../../analyzer/recommend/consolidation/index.js";
import { parseConsolidationConfig } from "../../../../analyzer/recommend/constraints.js";
import { GIB, fleet, node, replica } from "../../../fixtures/fleets.js";

/** The fewest bins of `capacity` holding `sizes`, by exhaustive search (small instances only). */
function optimalBins(sizes: readonly number[], capacity: number): number {
  const sorted = [...sizes].sort((a, b) => b - a);
  let best = sorted.length;
  const bins: number[] = [];
  const place = (i: number): void => {
    if (bins.length >= best) return;
    if (i === sorted.length) {
      best = bins.length;
      return;
    }
    const size = sorted[i] as number;
    const tried = new Set<number>();
    for (let b = 0; b < bins.length; b++) {
      const load = bins[b] as number;
      if (load + size > capacity || tried.has(load)) continue;
      tried.add(load);
      bins[b] = load + size;
      place(i + 1);
      bins[b] = load;
    }
    bins.push(size);
    place(i + 1);
    bins.pop();
  };
  place(0);
  return best;
}

describe("bin-packing lower bounds (Martello & Toth 1990)", () => {
  it.each([
    ["three items just over half a bin: L1 = ⌈18/10⌉ = 2, but no two share a bin, L2 = 3", [6, 6, 6], 10, 2, 3, 3],
    [
      "three 8s and two 3s: L1 = 3; α = 3 puts the 8s in J1 (no 3 fits beside them) and the 3s in a fourth bin, L2 = 4",
      [8, 8, 8, 3, 3],
      10,
      3,
      4,
      4,
    ],
    ["three 7s and four 3s: L1 = ⌈33/10⌉ = 4 = L2 = OPT (7+3 thrice, then a 3)", [7, 7, 7, 3, 3, 3, 3], 10, 4, 4, 4],
    ["four 51s and four 49s pair up perfectly: L1 = L2 = OPT = 4", [51, 51, 51, 51, 49, 49, 49, 49], 100, 4, 4, 4],
    [
      "three 60s and four 30s: L1 = L2 = 3 while OPT = 4 (the bounds are not always tight)",
      [60, 60, 60, 30, 30, 30, 30],
      100,
      3,
      3,
      4,
    ],
    ["no items need no bins", [], 10, 0, 0, 0],
  ])("%s", (_name, sizes, capacity, l1, l2, opt) => {
    expect(lowerBoundL1(sizes, capacity)).toBe(l1);
    expect(lowerBoundL2(sizes, capacity)).toBe(l2);
    expect(optimalBins(sizes, capacity)).toBe(opt);
  });

  it("L1 ≤ L2 ≤ the optimum on random small instances", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 100 }), { maxLength: 9 }),
        fc.integer({ min: 100, max: 160 }),
        (sizes, capacity) => {
          const l1 = lowerBoundL1(sizes, capacity);
          const l2 = lowerBoundL2(sizes, capacity);
          expect(l1).toBeLessThanOrEqual(l2);
          expect(l2).toBeLessThanOrEqual(optimalBins(sizes, capacity));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a GPU already over its limit may keep its excess while nothing arrives: L1 subtracts the excess and L2 uses the largest load as capacity", () => {
    // Items 50 + 40 sit on one GPU of limit 72 (load 90, excess 18): one GPU can hold them as they are.
    expect(lowerBoundL1([50, 40], 72)).toBe(2);
    expect(resourceBounds([50, 40], [90, 0], 72)).toEqual({ l1: 1, l2: 1, overLimit: 1 });
  });
});

describe("bounds of a fleet snapshot", () => {
  const config = parseConsolidationConfig({});

  it("per pool and GPU model: a tensor-parallel replica counts as one item per GPU, memory outside replicas as an item too", () => {
    const snapshot = fleet({
      nodes: [
        node({ name: "h", gpus: [{}, {}, {}, { memoryUsedBytes: 10 * GIB }] }),
        node({ name: "l", type: "l4", gpus: 2 }),
      ],
      replicas: [
        replica({ id: "tp", node: "h", gpus: ["GPU-h-0", "GPU-h-1", "GPU-h-2"], memoryPerGpuBytes: 40 * GIB }),
        replica({ id: "small", node: "h", gpus: ["GPU-h-0"], memoryPerGpuBytes: 20 * GIB }),
        replica({ id: "l4-a", node: "l", gpus: ["GPU-l-0"], memoryPerGpuBytes: 8 * GIB, tier: "batch" }),
        replica({ id: "l4-b", node: "l", gpus: ["GPU-l-1"], memoryPerGpuBytes: 8 * GIB, tier: "batch" }),
      ],
    });
    const bounds = consolidationBounds(snapshot, config);
    expect(bounds.map((b) => [b.pool, b.gpuModel, b.items])).toEqual([
      ["batch", "NVIDIA L4", 2],
      ["latency", "NVIDIA H100 80GB HBM3", 5],
    ]);
    const h100 = bounds[1];
    // Items 40, 40, 40, 20, 10 GiB into 72 GiB: L1 = ⌈150/72⌉ = 3; L2 (α = 20): three 40s in J2, 20 and 10 fill their residue: 3.
    expect(h100).toMatchObject({ memoryL1: 3, memoryL2: 3, bound: 3 });
    // Two 8 GiB replicas fit one 21.6 GiB L4.
    expect(bounds[0]).toMatchObject({ memoryL1: 1, memoryL2: 1, bound: 1 });
  });

  it.each([
    ["a larger GPU in the class", { memoryTotalBytes: 26 * GIB, isHealthy: true }],
    ["a lost GPU reporting 0 bytes", { memoryTotalBytes: 0, isHealthy: false }],
  ] as const)(
    "the class capacity is its largest receiving GPU's, so %s does not overstate the bounds",
    (_name, third) => {
      // Two 10.5 GiB replicas on two L4s: a 26 GiB GPU (23.4 usable) could take both; a lost GPU can
      // take nothing but must not shrink the capacity the others use.
      const snapshot = fleet({
        nodes: [node({ name: "l", type: "l4", gpus: [{}, {}, third] })],
        replicas: [
          replica({ id: "a", node: "l", gpus: ["GPU-l-0"], memoryPerGpuBytes: 10.5 * GIB, tier: "batch" }),
          replica({ id: "b", node: "l", gpus: ["GPU-l-1"], memoryPerGpuBytes: 10.5 * GIB, tier: "batch" }),
        ],
      });
      const [l4] = consolidationBounds(snapshot, config);
      if (third.isHealthy) {
        const plan = planConsolidation(snapshot, {});
        expect(plan.gpusInUseAfter).toBe(1);
        expect(l4?.bound).toBe(1);
      } else {
        // 10.5 + 10.5 = 21 GiB fit one 21.6 GiB L4.
        expect(l4).toMatchObject({ capacityBytes: Math.floor(24 * GIB * 0.9), bound: 1 });
      }
    },
  );

  it("compute is bounded at the ceiling plus the planner's rounding slack: shares a hair over half a tiny ceiling still pair up", () => {
    const tiny = parseConsolidationConfig({ computeCeilingRatio: 1e-4 });
    const share = 5e-5 + 2.5e-10;
    const snapshot = fleet({
      nodes: [node({ name: "h", gpus: [{ utilizationRatio: share }, { utilizationRatio: share }] })],
      replicas: [
        replica({ id: "a", node: "h", gpus: ["GPU-h-0"], memoryPerGpuBytes: 1 * GIB }),
        replica({ id: "b", node: "h", gpus: ["GPU-h-1"], memoryPerGpuBytes: 1 * GIB }),
      ],
    });
    const [h100] = consolidationBounds(snapshot, tiny);
    expect(h100).toMatchObject({ computeL1: 1, computeL2: 1, dualFeasible: 1, bound: 1 });
  });
});
