import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ShapeIndex,
  fleetFragmentation,
  memoryFragNodes,
  prepareNode,
  shapeDistribution,
  shapeFragment,
  strandedFree,
  type FragNode,
  type FreeUnit,
  type TaskShape,
} from "../../../analyzer/fleet/fragmentation.js";
import { GIB, fleet, node, replica } from "../../fixtures/fleets.js";

const units = (domain: string | null, ...free: number[]): FreeUnit[] =>
  free.map((amount) => ({ free: amount, domain }));

/**
 * The FGD toy, in GiB. Node A: four GPUs of one NVLink domain with 80, 60, 30 and 0 free.
 * Node B: two GPUs of one domain with 80 and 20 free. Shapes: one GPU × 40 (p 0.5),
 * one GPU × 70 (p 0.25), two GPUs × 50 each (p 0.25).
 */
const nodeA: FragNode = { name: "a", pool: "p", units: units("nv", 80, 60, 30, 0) };
const nodeB: FragNode = { name: "b", pool: "p", units: units("nv", 80, 20) };
const small: TaskShape = { gpus: 1, request: 40, popularity: 0.5 };
const large: TaskShape = { gpus: 1, request: 70, popularity: 0.25 };
const pair: TaskShape = { gpus: 2, request: 50, popularity: 0.25 };
const toyShapes = [small, large, pair];

describe("FGD fragment of one node for one shape (Weng et al., ATC 2023)", () => {
  it.each([
    ["a 1×40 task fits on A, which keeps the 30 and 0 leftovers", nodeA, small, 30],
    ["a 1×70 task fits on A (80), which keeps the 60 and 30 leftovers", nodeA, large, 90],
    ["a 2×50 task fits on A (80, 60), which keeps the 30 leftover", nodeA, pair, 30],
    ["a 1×40 task fits on B, which keeps the 20 leftover", nodeB, small, 20],
    ["a 1×70 task fits on B, which keeps the 20 leftover", nodeB, large, 20],
    ["a 2×50 task does not fit on B (only one GPU has 50), so all 100 free is fragment", nodeB, pair, 100],
  ])("%s", (_name, frag, shape, expected) => {
    expect(shapeFragment(prepareNode(frag), shape)).toBe(expected);
  });
});

describe("FGD expected fragmentation", () => {
  it("two nodes: A = 0.5×30 + 0.25×90 + 0.25×30 = 45, B = 0.5×20 + 0.25×20 + 0.25×100 = 40, cluster 85 of 270 free", () => {
    const index = new ShapeIndex(toyShapes);
    const a = index.nodeFragmentation(prepareNode(nodeA));
    const b = index.nodeFragmentation(prepareNode(nodeB));
    expect(a).toBeCloseTo(45, 12);
    expect(b).toBeCloseTo(40, 12);
    expect((a + b) / (170 + 100)).toBeCloseTo(85 / 270, 12);
  });

  it("a pair split across NVLink domains cannot host the 2×50 task, so A's 170 free counts for it: A = 15 + 22.5 + 42.5 = 80", () => {
    const split: FragNode = { name: "a", pool: "p", units: [...units("nv0", 80, 30), ...units("nv1", 60, 0)] };
    expect(shapeFragment(prepareNode(split), pair)).toBe(170);
    expect(new ShapeIndex(toyShapes).nodeFragmentation(prepareNode(split))).toBeCloseTo(80, 12);
  });

  it("GPUs without NVLink peers never host a multi-GPU task: two PCIe GPUs with 80 free each are all fragment for it", () => {
    const pcie: FragNode = { name: "c", pool: "p", units: units(null, 80, 80) };
    expect(shapeFragment(prepareNode(pcie), pair)).toBe(160);
    expect(shapeFragment(prepareNode(pcie), small)).toBe(0);
  });

  it("a node with nothing free has no fragmentation, and no shapes means no fragmentation", () => {
    expect(
      new ShapeIndex(toyShapes).nodeFragmentation(prepareNode({ name: "x", pool: "p", units: units("nv", 0, 0) })),
    ).toBe(0);
    expect(new ShapeIndex([]).nodeFragmentation(prepareNode(nodeA))).toBe(0);
  });

  it("works on the Alibaba trace's gpu_milli shares with GPU-type constraints (X = 100 + 175 + 675 = 950, Y = 250)", () => {
    // Node X: V100M32, four GPUs with 1000, 1000, 500, 200 milli free; node Y: T4, two GPUs with 1000 and 0.
    const x: FragNode = { name: "x", pool: "p", gpuModel: "V100M32", units: units("x", 1000, 1000, 500, 200) };
    const y: FragNode = { name: "y", pool: "p", gpuModel: "T4", units: units("y", 1000, 0) };
    // Tasks as the trace lists them: two 1-GPU × 500 milli (any type), one 2-GPU × 1000 on V100M32, one 1-GPU × 1000 on T4.
    const shapes = shapeDistribution([
      { gpus: 1, request: 500 },
      { gpus: 2, request: 1000, gpuModels: ["V100M32"] },
      { gpus: 1, request: 500 },
      { gpus: 1, request: 1000, gpuModels: ["T4"] },
    ]);
    expect(shapes.map((s) => s.popularity)).toEqual([0.5, 0.25, 0.25]);
    const index = new ShapeIndex(shapes);
    // X: 1×500 leaves 200 (×0.5 = 100); 2×1000 fits and leaves 500 + 200 (×0.25 = 175); T4-only cannot go there: 2700 × 0.25 = 675.
    expect(index.nodeFragmentation(prepareNode(x))).toBeCloseTo(950, 9);
    // Y: 1×500 leaves nothing; V100-only cannot go there: 1000 × 0.25 = 250; 1×1000 fits and leaves 0.
    expect(index.nodeFragmentation(prepareNode(y))).toBeCloseTo(250, 9);
  });
});

describe("shape distribution", () => {
  it("counts shapes, most popular first, and with coverage keeps the top shapes and renormalises (FGD typical pods)", () => {
    const repeat = (count: number, task: { gpus: number; request: number }) =>
      Array.from({ length: count }, () => task);
    const tasks = [
      ...repeat(6, { gpus: 1, request: 8 }),
      ...repeat(3, { gpus: 1, request: 14 }),
      { gpus: 4, request: 16 },
    ];
    expect(shapeDistribution(tasks).map((s) => [s.gpus, s.request, s.popularity])).toEqual([
      [1, 8, 0.6],
      [1, 14, 0.3],
      [4, 16, 0.1],
    ]);
    expect(shapeDistribution(tasks, { coverage: 0.9 }).map((s) => [s.request, s.popularity])).toEqual([
      [8, 6 / 9],
      [14, 3 / 9],
    ]);
    expect(shapeDistribution([])).toEqual([]);
  });
});

describe("stranded free capacity", () => {
  it.each([
    [
      "with 1×40, 1×70 and 2×50 shapes, the 30 on A and the 20 on B are too small for anything",
      toyShapes,
      30,
      1,
      20,
      1,
    ],
    [
      "with only a 2×50 shape, B's 80 is stranded too: its one NVLink peer has 20",
      [{ gpus: 2, request: 50, popularity: 1 }],
      30,
      1,
      100,
      2,
    ],
    ["with only a 1×90 shape, everything is stranded", [{ gpus: 1, request: 90, popularity: 1 }], 170, 3, 100, 2],
  ])("%s", (_name, shapes, strandedA, unitsA, strandedB, unitsB) => {
    const index = new ShapeIndex(shapes);
    expect(strandedFree(prepareNode(nodeA), index)).toEqual({ amount: strandedA, units: unitsA });
    expect(strandedFree(prepareNode(nodeB), index)).toEqual({ amount: strandedB, units: unitsB });
  });

  it("nothing is stranded when no replica shape has been seen", () => {
    expect(strandedFree(prepareNode(nodeA), new ShapeIndex([]))).toEqual({ amount: 0, units: 0 });
  });
});

/** The direct definitions, one shape and one unit at a time, to check the fast paths against. */
function bruteForce(frag: FragNode, shapes: readonly TaskShape[]): { fragmentation: number; stranded: number } {
  const prepared = prepareNode(frag);
  const fragmentation = shapes.reduce((sum, shape) => sum + shape.popularity * shapeFragment(prepared, shape), 0);
  const canUse = (unit: FreeUnit, shape: TaskShape): boolean => {
    if (unit.free < shape.request) return false;
    if (shape.gpus <= 1) return true;
    return (
      unit.domain !== null &&
      frag.units.filter((u) => u.domain === unit.domain && u.free >= shape.request).length >= shape.gpus
    );
  };
  const stranded =
    shapes.length === 0
      ? 0
      : frag.units.filter((u) => !shapes.some((s) => canUse(u, s))).reduce((sum, u) => sum + u.free, 0);
  return { fragmentation, stranded };
}

describe("fast paths agree with the definitions", () => {
  const unit = fc.record({ free: fc.integer({ min: 0, max: 100 }), domain: fc.constantFrom("a", "b", null) });
  const shape = fc.record({
    gpus: fc.constantFrom(1, 1, 2, 4),
    request: fc.integer({ min: 1, max: 100 }),
    weight: fc.integer({ min: 1, max: 5 }),
  });

  it("ShapeIndex.nodeFragmentation equals Σ p × fragment, and strandedFree equals the unit-by-unit rule", () => {
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 10 }), fc.array(shape, { maxLength: 8 }), (nodeUnits, raw) => {
        const total = raw.reduce((sum, s) => sum + s.weight, 0);
        const shapes = raw.map((s) => ({ gpus: s.gpus, request: s.request, popularity: s.weight / total }));
        const frag: FragNode = { name: "n", pool: "p", units: nodeUnits };
        const expected = bruteForce(frag, shapes);
        const index = new ShapeIndex(shapes);
        expect(index.nodeFragmentation(prepareNode(frag))).toBeCloseTo(expected.fragmentation, 9);
        expect(strandedFree(prepareNode(frag), index).amount).toBe(expected.stranded);
      }),
      { numRuns: 500 },
    );
  });
});

describe("fleet snapshot fragmentation, in GPU memory", () => {
  /**
   * node-0 (latency): H100s in one NVLink domain: GPU 0 holds a 7B (8 GiB) and one rank of a TP2
   * replica (30 GiB), GPU 1 the other rank: 42 and 50 GiB free; GPU 2 is unhealthy.
   * node-1 (batch): two PCIe L4s (24 GiB): GPU 0 holds a 13B (14 GiB), 10 free; GPU 1 runs a process
   * outside any replica that NVML sees using 18 GiB, 6 free.
   * Shapes: 1×8, 1×14 and 2×30 GiB, a third each.
   */
  const snapshot = fleet({
    nodes: [
      node({ name: "node-0", gpus: [{}, {}, { isHealthy: false }] }),
      node({ name: "node-1", type: "l4", gpus: [{}, { memoryUsedBytes: 18 * GIB }] }),
    ],
    replicas: [
      replica({ id: "r-7b", node: "node-0", gpus: ["GPU-node-0-0"], memoryPerGpuBytes: 8 * GIB }),
      replica({ id: "r-tp2", node: "node-0", gpus: ["GPU-node-0-0", "GPU-node-0-1"], memoryPerGpuBytes: 30 * GIB }),
      replica({ id: "r-13b", node: "node-1", gpus: ["GPU-node-1-0"], memoryPerGpuBytes: 14 * GIB, tier: "batch" }),
    ],
  });

  it("node-0 has no fragment (every shape fits and leaves nothing below its request); node-1 has (6 + 16 + 16) / 3 GiB", () => {
    const result = fleetFragmentation(snapshot);
    expect(result.shapes).toEqual([
      { tensorParallel: 1, memoryPerGpuBytes: 8 * GIB, popularity: 1 / 3 },
      { tensorParallel: 1, memoryPerGpuBytes: 14 * GIB, popularity: 1 / 3 },
      { tensorParallel: 2, memoryPerGpuBytes: 30 * GIB, popularity: 1 / 3 },
    ]);
    const [n0, n1] = result.nodes;
    expect(n0).toEqual({
      node: "node-0",
      pool: "latency",
      freeBytes: 92 * GIB,
      expectedFragmentBytes: 0,
      strandedBytes: 0,
    });
    expect(n1?.freeBytes).toBe(16 * GIB);
    expect(n1?.expectedFragmentBytes).toBeCloseTo((38 / 3) * GIB, 0);
    expect(n1?.strandedBytes).toBe(6 * GIB);
  });

  it("pools and total: batch is 79% fragmented with 6 GiB stranded; four partially used GPUs, one unhealthy", () => {
    const result = fleetFragmentation(snapshot);
    const batch = result.pools.find((p) => p.pool === "batch");
    expect(batch?.fragmentationRatio).toBeCloseTo(38 / 3 / 16, 12);
    expect(result.pools.find((p) => p.pool === "latency")?.fragmentationRatio).toBe(0);
    expect(result.total).toMatchObject({
      gpus: 4,
      unhealthyGpus: 1,
      freeBytes: 108 * GIB,
      strandedBytes: 6 * GIB,
      strandedUnits: 1,
      partiallyUsedGpus: 4,
      idleGpus: 0,
    });
    expect(result.total.fragmentationRatio).toBeCloseTo(38 / 3 / 108, 12);
  });

  it("on the allocated basis the process outside any replica is ignored: node-1 GPU 1 is idle with 24 GiB free, nothing stranded", () => {
    const result = fleetFragmentation(snapshot, { basis: "allocated" });
    expect(result.total).toMatchObject({ freeBytes: 126 * GIB, strandedBytes: 0, partiallyUsedGpus: 3, idleGpus: 1 });
    // node-1: 1×8 leaves nothing, 1×14 leaves the 10, 2×30 cannot go on PCIe GPUs: (0 + 10 + 34) / 3.
    expect(result.nodes[1]?.expectedFragmentBytes).toBeCloseTo((44 / 3) * GIB, 0);
  });

  it("with pool-scoped shapes the batch pool is judged by its own 13B replicas only: 1×14 leaves 10 and 6, 16 GiB, all stranded", () => {
    const result = fleetFragmentation(snapshot, { shapeScope: "pool" });
    const batch = result.pools.find((p) => p.pool === "batch");
    expect(batch).toMatchObject({
      freeBytes: 16 * GIB,
      expectedFragmentBytes: 16 * GIB,
      fragmentationRatio: 1,
      strandedBytes: 16 * GIB,
    });
  });

  it("a MIG device is a unit of its own: a 30 GiB replica on one 3g.40gb leaves 10 GiB there, too small for it", () => {
    const mig = fleet({
      nodes: [
        node({
          name: "node-0",
          gpus: [
            {
              mig: [
                { uuid: "MIG-a", profile: "3g.40gb", memoryTotalBytes: 40 * GIB, memoryUsedBytes: 0 },
                { uuid: "MIG-b", profile: "3g.40gb", memoryTotalBytes: 40 * GIB, memoryUsedBytes: 0 },
              ],
            },
          ],
        }),
      ],
      replicas: [replica({ node: "node-0", gpus: ["MIG-a"], memoryPerGpuBytes: 30 * GIB })],
    });
    const result = fleetFragmentation(mig);
    expect(result.total).toMatchObject({
      freeBytes: 50 * GIB,
      expectedFragmentBytes: 10 * GIB,
      strandedBytes: 10 * GIB,
      strandedUnits: 1,
      partiallyUsedGpus: 1,
    });
    expect(memoryFragNodes(mig)[0]?.units).toEqual([
      { free: 10 * GIB, domain: null },
      { free: 40 * GIB, domain: null },
    ]);
  });

  it("an empty fleet reports nothing fragmented and nothing stranded rather than dividing by zero", () => {
    const result = fleetFragmentation(fleet({ nodes: 2 }));
    expect(result.total).toMatchObject({
      gpus: 16,
      idleGpus: 16,
      expectedFragmentBytes: 0,
      fragmentationRatio: 0,
      strandedBytes: 0,
    });
  });
});
