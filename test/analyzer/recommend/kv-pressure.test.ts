/**
 * KV-cache pressure and preemptions of a destination node in consolidation: the snapshot carries
 * them (assembled from the runtime gauges), the shared node rule refuses such a destination, the
 * independent checker reports it and the planner does not plan it.
 */
import { describe, expect, it } from "vitest";
import { assembleFleetSnapshot } from "../../../analyzer/fleet/assemble.js";
import { parseFleetSnapshot } from "../../../analyzer/fleet/snapshot.js";
import { checkPlan, type MoveToCheck } from "../../../analyzer/recommend/checker.js";
import { planConsolidation } from "../../../analyzer/recommend/consolidation/index.js";
import {
  kvPressure,
  parseConsolidationConfig,
  type ConsolidationConfigInput,
} from "../../../analyzer/recommend/constraints.js";
import { MemoryStore } from "../../../analyzer/stores/memory-store.js";
import { METRICS } from "../../../common/conventions.js";
import { pairFleet } from "../../fixtures/consolidation-fleets.js";

const xToB: MoveToCheck = { replicaId: "x", fromNode: "a", fromGpus: ["GPU-a-0"], toNode: "b", toGpus: ["GPU-b-0"] };
const permissive: ConsolidationConfigInput = { disruption: { canMoveSingleReplica: true } };

describe("KV-cache pressure of a destination node", () => {
  it.each([
    ["KV cache at the 0.9 watermark", { kvCacheUsage: 0.9 }, {}, "kv-pressure"],
    ["KV cache past a configured 0.8 watermark", { kvCacheUsage: 0.85 }, { kvCacheWatermarkRatio: 0.8 }, "kv-pressure"],
    ["runtimes preempting requests", { kvCacheUsage: 0.5, preemptionRate: 0.02 }, {}, "kv-pressure"],
    ["preemptions over a configured rate", { preemptionRate: 0.5 }, { maxPreemptionRate: 0.1 }, "kv-pressure"],
  ] as const)("the checker refuses a move onto a node with %s", (_, b, config, expected) => {
    const check = checkPlan(pairFleet({ b }), [xToB], parseConsolidationConfig({ ...permissive, ...config }));
    expect(check.violations.map((v) => v.constraint)).toEqual([expected]);
    expect(check.violations[0]?.message).toContain("node b");
  });

  it.each([
    ["KV cache below the watermark", { kvCacheUsage: 0.89 }, {}],
    ["no runtime figures at all", {}, {}],
    ["KV usage not considered", { kvCacheUsage: 0.99 }, { kvCacheWatermarkRatio: null }],
    ["preemptions not considered", { preemptionRate: 3 }, { maxPreemptionRate: null }],
    ["preemptions within a configured rate", { preemptionRate: 0.05 }, { maxPreemptionRate: 0.1 }],
  ] as const)("the checker allows a move onto a node with %s", (_, b, config) => {
    expect(
      checkPlan(pairFleet({ b }), [xToB], parseConsolidationConfig({ ...permissive, ...config })).violations,
    ).toEqual([]);
  });

  it("does not hold a replica's own node against a move within it", () => {
    expect(kvPressure({ name: "a", kvCacheUsage: 0.95 }, parseConsolidationConfig())).toContain("95.0%");
    const withinA: MoveToCheck = {
      replicaId: "x",
      fromNode: "a",
      fromGpus: ["GPU-a-0"],
      toNode: "a",
      toGpus: ["GPU-a-0"],
    };
    expect(
      checkPlan(pairFleet({ a: { kvCacheUsage: 0.95 } }), [withinA], parseConsolidationConfig(permissive)).violations,
    ).toEqual([]);
  });

  it("makes the planner empty the pressured node instead of filling it", () => {
    const free = planConsolidation(pairFleet(), permissive);
    expect(free.movesCount).toBe(1);
    const plan = planConsolidation(pairFleet({ b: { kvCacheUsage: 0.95 } }), permissive);
    expect(plan.moves.map((m) => [m.replicaId, m.toNode])).toEqual([["y", "a"]]);
    expect(plan.freedNodes).toEqual(["b"]);
  });

  it("makes the planner leave two pressured nodes alone", () => {
    const plan = planConsolidation(pairFleet({ a: { preemptionRate: 1 }, b: { kvCacheUsage: 0.97 } }), permissive);
    expect(plan.movesCount).toBe(0);
    expect(plan.check.isValid).toBe(true);
  });

  it("is validated in a snapshot file: a ratio above 1 or a negative rate is refused by path", () => {
    const snapshot = pairFleet();
    const bad = {
      ...snapshot,
      nodes: snapshot.nodes.map((n, i) => (i === 0 ? { ...n, kvCacheUsage: 1.5 } : { ...n, preemptionRate: -1 })),
    };
    expect(() => parseFleetSnapshot(bad)).toThrow(/nodes\.0\.kvCacheUsage[\s\S]*nodes\.1\.preemptionRate/);
    const good = { ...snapshot, nodes: snapshot.nodes.map((n) => ({ ...n, kvCacheUsage: 0.5, preemptionRate: 0.1 })) };
    expect(parseFleetSnapshot(good).nodes[0]?.kvCacheUsage).toBe(0.5);
  });
});

describe("fleet snapshot assembly", () => {
  it("gives each node the highest KV usage of its runtimes and their preemptions per second over five minutes", async () => {
    const store = new MemoryStore();
    const at = 1_700_000_000_000;
    for (const node of ["a", "b", "c"]) {
      store.ingest(
        METRICS.gpuInfo.name,
        { node, gpu: "0", uuid: `GPU-${node}-0`, gpu_model: "NVIDIA H100 80GB HBM3" },
        1,
        at - 1_000,
      );
    }
    const labels = (node: string, model: string) => ({
      node,
      model,
      runtime: "vllm",
      namespace: "serving",
      pod: `${model}-0`,
      tier: "default",
    });
    store.ingest(METRICS.llmKvCacheUsage.name, labels("a", "m1"), 0.4, at - 1_000);
    store.ingest(METRICS.llmKvCacheUsage.name, labels("a", "m2"), 0.93, at - 1_000);
    store.ingest(METRICS.llmKvCacheUsage.name, labels("b", "m3"), 0.2, at - 1_000);
    store.ingest(METRICS.llmPreemptions.name, labels("b", "m3"), 10, at - 300_000);
    store.ingest(METRICS.llmPreemptions.name, labels("b", "m3"), 40, at);
    const snapshot = await assembleFleetSnapshot(store, at, () => "default");
    const byName = new Map(snapshot.nodes.map((n) => [n.name, n]));
    expect(byName.get("a")?.kvCacheUsage).toBe(0.93);
    expect(byName.get("a")?.preemptionRate).toBeUndefined();
    expect(byName.get("b")?.kvCacheUsage).toBe(0.2);
    expect(byName.get("b")?.preemptionRate).toBeCloseTo(30 / 300, 12);
    expect(byName.get("c")).not.toHaveProperty("kvCacheUsage");
    expect(() => parseFleetSnapshot(snapshot)).not.toThrow();
  });
});
