import { describe, expect, it } from "vitest";
import {
  consolidationConfigSchema,
  gpuBaseline,
  missingSelectorLabel,
  modelMoveBudget,
  nodeAdmits,
  parseConsolidationConfig,
  replicaUtilizationShares,
  tolerates,
  untoleratedTaint,
  usableMemoryBytes,
} from "../../../analyzer/recommend/constraints.js";
import type { Taint, Toleration } from "../../../analyzer/fleet/snapshot.js";
import { GIB, fleet, node, replica } from "../../fixtures/fleets.js";

describe("consolidation config", () => {
  it("an empty config gets every default: 10% memory headroom, 0.8 compute ceiling, KV watermark 0.9 and no preemptions, same pool and GPU model, 100 moves, half a model", () => {
    const config = parseConsolidationConfig({});
    expect(config).toEqual({
      memoryHeadroomRatio: 0.1,
      computeCeilingRatio: 0.8,
      kvCacheWatermarkRatio: 0.9,
      maxPreemptionRate: 0,
      placement: {
        pool: "same",
        gpuModel: "same",
        isolateTiers: true,
        protectBurningGpus: true,
        maxReplicasPerModelPerNode: null,
        maxReplicasPerModelPerNodeByModel: {},
      },
      disruption: { maxMoves: 100, maxModelShareMoving: 0.5, canMoveSingleReplica: false },
      search: { restarts: null, exactSeconds: 2 },
    });
    expect(consolidationConfigSchema.parse({})).toEqual(config);
  });

  it.each([
    ["a headroom above 90%", { memoryHeadroomRatio: 0.95 }, "memoryHeadroomRatio"],
    ["a compute ceiling of 0", { computeCeilingRatio: 0 }, "computeCeilingRatio"],
    ["a fractional move limit", { disruption: { maxMoves: 1.5 } }, "disruption.maxMoves"],
    ["an unknown field", { placement: { zone: "any" } }, "placement"],
  ])("rejects %s, naming the field", (_name, input, path) => {
    expect(() => parseConsolidationConfig(input)).toThrow(path);
  });
});

describe("Kubernetes taints and tolerations", () => {
  const taint: Taint = { key: "gpu", value: "reserved", effect: "NoSchedule" };
  it.each<[string, Toleration, boolean]>([
    [
      "Equal with the same key, value and effect tolerates",
      { key: "gpu", operator: "Equal", value: "reserved", effect: "NoSchedule" },
      true,
    ],
    [
      "Equal with another value does not",
      { key: "gpu", operator: "Equal", value: "shared", effect: "NoSchedule" },
      false,
    ],
    ["Exists on the key tolerates any value", { key: "gpu", operator: "Exists" }, true],
    ["an empty key with Exists tolerates every taint", { operator: "Exists" }, true],
    ["another effect does not", { key: "gpu", operator: "Exists", effect: "NoExecute" }, false],
    ["another key does not", { key: "zone", operator: "Exists" }, false],
  ])("%s", (_name, toleration, expected) => {
    expect(tolerates(toleration, taint)).toBe(expected);
  });

  it("PreferNoSchedule is a preference, not a barrier", () => {
    expect(untoleratedTaint([], [{ key: "gpu", effect: "PreferNoSchedule" }])).toBeUndefined();
    expect(untoleratedTaint([], [taint])).toEqual(taint);
  });

  it("a nodeSelector needs every label with its value", () => {
    expect(missingSelectorLabel({ zone: "a", gpu: "h100" }, { zone: "a", gpu: "h100", extra: "x" })).toBeUndefined();
    expect(missingSelectorLabel({ zone: "a" }, { zone: "b" })).toBe("zone=a");
  });

  it("node admission reports pool, then taint, then selector", () => {
    const config = parseConsolidationConfig({});
    const r = replica({ id: "r", node: "a", nodeSelector: { zone: "z1" } });
    const from = node({ name: "a", pool: "latency" });
    expect(nodeAdmits(r, from, node({ name: "b", pool: "batch" }), config)?.constraint).toBe("pool");
    expect(
      nodeAdmits(r, from, node({ name: "b", pool: "latency", taints: [{ key: "t", effect: "NoExecute" }] }), config)
        ?.constraint,
    ).toBe("taints");
    expect(nodeAdmits(r, from, node({ name: "b", pool: "latency", labels: { zone: "z2" } }), config)?.constraint).toBe(
      "node-selector",
    );
    expect(nodeAdmits(r, from, node({ name: "b", pool: "latency", labels: { zone: "z1" } }), config)).toBeUndefined();
    expect(
      nodeAdmits(
        r,
        from,
        node({ name: "b", pool: "batch", labels: { zone: "z1" } }),
        parseConsolidationConfig({ placement: { pool: "any" } }),
      ),
    ).toBeUndefined();
  });
});

describe("disruption budget per model", () => {
  const config = parseConsolidationConfig({});
  it.each([
    [0, 0],
    [1, 0],
    [2, 1],
    [3, 1],
    [4, 2],
    [5, 2],
    [10, 5],
  ])("a model with %i replicas may move %i of them at 50%", (replicas, budget) => {
    expect(modelMoveBudget(replicas, config)).toBe(budget);
  });

  it("at a share that rounds to nothing, a model with two or more replicas still moves one; a lone replica moves only when allowed", () => {
    const tiny = parseConsolidationConfig({ disruption: { maxModelShareMoving: 0.1 } });
    expect(modelMoveBudget(3, tiny)).toBe(1);
    expect(modelMoveBudget(1, parseConsolidationConfig({ disruption: { canMoveSingleReplica: true } }))).toBe(1);
  });
});

describe("loads a replica brings to a GPU", () => {
  it("usable memory is the GPU's memory less the headroom", () => {
    expect(usableMemoryBytes({ memoryTotalBytes: 80 * GIB }, parseConsolidationConfig({}))).toBe(Math.floor(72 * GIB));
  });

  it("a GPU's utilization is split by request rate among its replicas, equally when none serves requests; a tensor-parallel replica takes the mean of its GPUs", () => {
    const snapshot = fleet({
      nodes: [
        node({ name: "n", gpus: [{ utilizationRatio: 0.6 }, { utilizationRatio: 0.2 }, { utilizationRatio: 0.4 }] }),
      ],
      replicas: [
        replica({ id: "busy", node: "n", gpus: ["GPU-n-0"], requestRate: 3 }),
        replica({ id: "quiet", node: "n", gpus: ["GPU-n-0"], requestRate: 1 }),
        replica({ id: "idle-a", node: "n", gpus: ["GPU-n-1"], requestRate: 0 }),
        replica({ id: "idle-b", node: "n", gpus: ["GPU-n-1"], requestRate: 0 }),
        replica({ id: "tp", node: "n", gpus: ["GPU-n-2", "GPU-n-0"], requestRate: 0 }),
      ],
    });
    const shares = replicaUtilizationShares(snapshot);
    // GPU 0 (0.6) has rates 3, 1, 0: busy 0.45, quiet 0.15, tp 0; GPU 2 (0.4) is tp's alone.
    expect(shares.get("busy")).toBeCloseTo(0.45, 12);
    expect(shares.get("quiet")).toBeCloseTo(0.15, 12);
    expect(shares.get("idle-a")).toBeCloseTo(0.1, 12);
    expect(shares.get("idle-b")).toBeCloseTo(0.1, 12);
    expect(shares.get("tp")).toBeCloseTo(0.2, 12);
  });

  it("memory beyond the replicas' reservations, and utilization of a GPU nobody holds, stay when replicas leave", () => {
    const snapshot = fleet({
      nodes: [
        node({
          name: "n",
          gpus: [
            { memoryUsedBytes: 20 * GIB, utilizationRatio: 0.5 },
            { memoryUsedBytes: 4 * GIB, utilizationRatio: 0.3 },
          ],
        }),
      ],
      replicas: [replica({ id: "r", node: "n", gpus: ["GPU-n-0"], memoryPerGpuBytes: 8 * GIB })],
    });
    const baseline = gpuBaseline(snapshot);
    expect(baseline.get("GPU-n-0")).toEqual({ memoryBytes: 12 * GIB, utilization: 0 });
    expect(baseline.get("GPU-n-1")).toEqual({ memoryBytes: 4 * GIB, utilization: 0.3 });
  });
});
