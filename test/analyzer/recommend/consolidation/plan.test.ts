import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkPlan } from "../../../../analyzer/recommend/checker.js";
import { kubernetesSteps } from "../../../../analyzer/recommend/kubernetes-steps.js";
import {
  applyMoves,
  planConsolidation,
  type ConsolidationPlan,
} from "../../../../analyzer/recommend/consolidation/index.js";
import { parseConsolidationConfig, type ConsolidationConfigInput } from "../../../../analyzer/recommend/constraints.js";
import type { FleetSnapshot } from "../../../../analyzer/fleet/snapshot.js";
import { GIB, fleet, node, randomFleet, replica } from "../../../fixtures/fleets.js";
import { halfEmptyNode, pairFleet } from "../../../fixtures/consolidation-fleets.js";

/** Plans and replays the plan through the independent checker; a rejected plan fails the test. */
function plan(snapshot: FleetSnapshot, config: ConsolidationConfigInput = {}): ConsolidationPlan {
  const result = planConsolidation(snapshot, config);
  const check = checkPlan(snapshot, result.moves, parseConsolidationConfig(config));
  if (!check.isValid)
    throw new Error(`checker rejected the plan: ${check.violations.map((v) => v.message).join("; ")}`);
  return result;
}

const permissive: ConsolidationConfigInput = { disruption: { canMoveSingleReplica: true } };

describe("plans where the optimum is obvious", () => {
  it("four half-empty GPUs (30 of 72 usable GiB each): two moves free two GPUs", () => {
    const result = plan(halfEmptyNode(4, 30));
    expect(result).toMatchObject({ gpusFreed: 2, movesCount: 2, nodesFreed: 0, gpusInUseBefore: 4, gpusInUseAfter: 2 });
    expect(result.pools[0]).toMatchObject({ pool: "latency", gapGpus: 0, lowerBound: { memoryL1: 2, memoryL2: 2 } });
    expect(new Set(result.moves.map((m) => m.toGpus[0])).size).toBe(2);
    expect(result.moves.every((m) => !result.freedGpus.some((g) => g.uuid === m.toGpus[0]))).toBe(true);
  });

  it("GPUs at 40 of 72 usable GiB cannot pair up: nothing moves", () => {
    expect(plan(halfEmptyNode(4, 40))).toMatchObject({ gpusFreed: 0, movesCount: 0 });
  });

  it("two lightly used nodes: the replicas of one move beside the other's, freeing its GPUs and the node", () => {
    const snapshot = fleet({
      nodes: [node({ name: "a", gpus: 2 }), node({ name: "b", gpus: 2 })],
      replicas: [
        replica({ id: "a0", model: "m", node: "a", gpus: ["GPU-a-0"], memoryPerGpuBytes: 20 * GIB }),
        replica({ id: "a1", model: "m", node: "a", gpus: ["GPU-a-1"], memoryPerGpuBytes: 20 * GIB }),
        replica({ id: "b0", model: "m", node: "b", gpus: ["GPU-b-0"], memoryPerGpuBytes: 40 * GIB }),
        replica({ id: "b1", model: "m", node: "b", gpus: ["GPU-b-1"], memoryPerGpuBytes: 40 * GIB }),
      ],
    });
    const result = plan(snapshot);
    expect(result).toMatchObject({ gpusFreed: 2, nodesFreed: 1, movesCount: 2, freedNodes: ["a"] });
  });

  it("a tensor-parallel pair moves as one onto two GPUs of one NVLink domain, freeing both of its GPUs", () => {
    const snapshot = fleet({
      nodes: [node({ name: "a", gpus: 2 }), node({ name: "b", gpus: 2 })],
      replicas: [
        replica({ id: "tp", model: "big", node: "a", gpus: ["GPU-a-0", "GPU-a-1"], memoryPerGpuBytes: 30 * GIB }),
        replica({ id: "tp2", model: "big", node: "b", gpus: ["GPU-b-0", "GPU-b-1"], memoryPerGpuBytes: 30 * GIB }),
      ],
    });
    const result = plan(snapshot);
    expect(result).toMatchObject({ gpusFreed: 2, nodesFreed: 1, movesCount: 1 });
    expect(result.moves[0]?.toGpus).toHaveLength(2);
  });
});

/** The base pair (x and y, 30 GiB each, on one-GPU nodes a and b) with one twist each. */
const blocked: [string, FleetSnapshot, ConsolidationConfigInput][] = [
  [
    "both nodes carry a taint neither replica tolerates",
    pairFleet({
      a: { taints: [{ key: "gpu", effect: "NoSchedule" }] },
      b: { taints: [{ key: "gpu", effect: "NoSchedule" }] },
    }),
    permissive,
  ],
  ["the nodes are in different pools", pairFleet({ b: { pool: "other" } }), permissive],
  ["both replicas are pinned", pairFleet({ x: { isPinned: true }, y: { isPinned: true } }), permissive],
  [
    "each replica selects its own node's zone label",
    pairFleet({
      a: { labels: { zone: "1" } },
      b: { labels: { zone: "2" } },
      x: { nodeSelector: { zone: "1" } },
      y: { nodeSelector: { zone: "2" } },
    }),
    permissive,
  ],
  [
    "the spread limit is one replica of the model per node",
    pairFleet(),
    { ...permissive, placement: { maxReplicasPerModelPerNode: 1 } },
  ],
  [
    "the model burns its SLO at page level",
    pairFleet({ slo: { m: { isBurningPage: true, isBurningTicket: false } } }),
    permissive,
  ],
  ["the plan may make no move", pairFleet(), { disruption: { canMoveSingleReplica: true, maxMoves: 0 } }],
  [
    "each replica is its model's only one (a lone replica does not move by default)",
    pairFleet({ y: { model: "other" } }),
    {},
  ],
  [
    "both GPUs are 50% busy: together they would pass the 0.8 compute ceiling",
    pairFleet({ a: { gpus: [{ utilizationRatio: 0.5 }] }, b: { gpus: [{ utilizationRatio: 0.5 }] } }),
    permissive,
  ],
  [
    "40 + 40 GiB exceed the 72 GiB left by the 10% memory headroom",
    pairFleet({ x: { memoryPerGpuBytes: 40 * GIB }, y: { memoryPerGpuBytes: 40 * GIB } }),
    permissive,
  ],
  ["the replicas serve different tiers", pairFleet({ y: { tier: "batch" } }), permissive],
  [
    "the nodes have different GPU models",
    pairFleet({
      b: { type: "a100", pool: "latency" },
      y: { memoryPerGpuBytes: 5 * GIB },
      x: { memoryPerGpuBytes: 5 * GIB },
    }),
    permissive,
  ],
  [
    "both GPUs are unhealthy",
    pairFleet({ a: { gpus: [{ isHealthy: false }] }, b: { gpus: [{ isHealthy: false }] } }),
    permissive,
  ],
];

describe("constraints keep a replica where it is", () => {
  it("control: with nothing in the way, one move frees a GPU and a node", () => {
    expect(plan(pairFleet(), permissive)).toMatchObject({ gpusFreed: 1, nodesFreed: 1, movesCount: 1 });
  });

  it.each(blocked)("no move when %s", (_name, snapshot, config) => {
    expect(plan(snapshot, config)).toMatchObject({ gpusFreed: 0, movesCount: 0 });
  });

  it.each<[string, FleetSnapshot, ConsolidationConfigInput]>([
    [
      "memory headroom 0 lets 40 + 40 GiB share an 80 GiB GPU",
      pairFleet({ x: { memoryPerGpuBytes: 40 * GIB }, y: { memoryPerGpuBytes: 40 * GIB } }),
      { ...permissive, memoryHeadroomRatio: 0 },
    ],
    [
      "a compute ceiling of 1 lets two 50% GPUs merge",
      pairFleet({ a: { gpus: [{ utilizationRatio: 0.5 }] }, b: { gpus: [{ utilizationRatio: 0.5 }] } }),
      { ...permissive, computeCeilingRatio: 1 },
    ],
    [
      "pool `any` lets a replica change pools",
      pairFleet({ b: { pool: "other" } }),
      { ...permissive, placement: { pool: "any" } },
    ],
    [
      "GPU model `any` lets a small replica move to an A100",
      pairFleet({
        b: { type: "a100", pool: "latency" },
        y: { memoryPerGpuBytes: 5 * GIB },
        x: { memoryPerGpuBytes: 5 * GIB },
      }),
      { ...permissive, placement: { gpuModel: "any" } },
    ],
    [
      "tiers may mix when isolation is off",
      pairFleet({ y: { tier: "batch" } }),
      { ...permissive, placement: { isolateTiers: false } },
    ],
    [
      "a tolerated taint does not stop it",
      pairFleet({
        b: { taints: [{ key: "gpu", effect: "NoSchedule" }] },
        x: { tolerations: [{ key: "gpu", operator: "Exists" }] },
      }),
      permissive,
    ],
  ])("the move happens when %s", (_name, snapshot, config) => {
    expect(plan(snapshot, config)).toMatchObject({ gpusFreed: 1, movesCount: 1 });
  });

  it("a tensor-parallel replica does not move onto GPUs of two NVLink domains, and moves onto one domain", () => {
    const build = (domains: [string, string]): FleetSnapshot =>
      fleet({
        nodes: [
          node({ name: "a", gpus: 2 }),
          node({ name: "b", gpus: [{ nvlinkDomain: domains[0] }, { nvlinkDomain: domains[1] }] }),
        ],
        replicas: [
          replica({ id: "tp", model: "big", node: "a", gpus: ["GPU-a-0", "GPU-a-1"], memoryPerGpuBytes: 20 * GIB }),
          replica({ id: "s0", model: "s", node: "b", gpus: ["GPU-b-0"], memoryPerGpuBytes: 20 * GIB, isPinned: true }),
          replica({ id: "s1", model: "s", node: "b", gpus: ["GPU-b-1"], memoryPerGpuBytes: 20 * GIB, isPinned: true }),
        ],
      });
    expect(plan(build(["nv0", "nv1"]), permissive)).toMatchObject({ gpusFreed: 0, movesCount: 0 });
    expect(plan(build(["nv0", "nv0"]), permissive)).toMatchObject({ gpusFreed: 2, movesCount: 1 });
  });

  it("the disruption budget: of a model's three replicas only one moves, so a GPU holding two of them stays", () => {
    const snapshot = fleet({
      nodes: [node({ name: "n", gpus: 2 })],
      replicas: [
        replica({ id: "r0", model: "m", node: "n", gpus: ["GPU-n-0"], memoryPerGpuBytes: 10 * GIB }),
        replica({ id: "r1", model: "m", node: "n", gpus: ["GPU-n-0"], memoryPerGpuBytes: 10 * GIB }),
        replica({ id: "r2", model: "m", node: "n", gpus: ["GPU-n-1"], memoryPerGpuBytes: 40 * GIB }),
      ],
    });
    // Emptying GPU 0 takes two moves (budget 1); emptying GPU 1 one move but 40 + 20 fits: it moves.
    expect(plan(snapshot)).toMatchObject({ gpusFreed: 1, movesCount: 1, moves: [{ replicaId: "r2" }] });
    expect(plan(snapshot, { disruption: { maxModelShareMoving: 0 } })).toMatchObject({ gpusFreed: 1, movesCount: 1 });
    const pinned = {
      ...snapshot,
      replicas: snapshot.replicas.map((r) => (r.id === "r2" ? { ...r, isPinned: true } : r)),
    };
    expect(plan(pinned)).toMatchObject({ gpusFreed: 0, movesCount: 0 });
  });
});

describe("plan output", () => {
  it("reports the bound and the fragmentation before and after, and applyMoves gives the fleet the checker sees", () => {
    const snapshot = halfEmptyNode(4, 30);
    const result = plan(snapshot);
    expect(result.fragmentation.before.freeBytes).toBe(result.fragmentation.after.freeBytes);
    expect(result.fragmentation.after.idleGpus).toBe(2);
    const after = applyMoves(snapshot, result.moves);
    expect(after.replicas.filter((r) => r.gpus[0] === result.moves[0]?.toGpus[0])).toHaveLength(2);
    expect(result.check).toEqual({ isValid: true, movesChecked: 2 });
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  });

  it("reports every placement class with its bounds, its GPUs before and after and how its placement was found (without a solver: the heuristic, not proven)", () => {
    const result = plan(halfEmptyNode(4, 30));
    expect(result.classes).toEqual([
      expect.objectContaining({
        pool: "latency",
        gpuModel: "NVIDIA H100 80GB HBM3",
        gpusInUseBefore: 4,
        gpusInUseAfter: 2,
        bound: 2,
        gapGpus: 0,
        moves: 2,
        solve: expect.objectContaining({
          method: "heuristic",
          isProvenOptimal: false,
          solverStatus: "not run",
          solverBound: 0,
        }),
      }),
    ]);
    expect(result).toMatchObject({ lowerBound: { bound: 2 }, gapGpus: 0, exactMs: 0 });
  });

  it("kubernetesSteps: cordon the emptied node, then per move annotate and delete the pod, nothing run", () => {
    const snapshot = pairFleet();
    const result = plan(snapshot, permissive);
    const text = kubernetesSteps(result, snapshot);
    const emptied = result.freedNodes[0] as string;
    expect(text).toContain("REVIEW BEFORE RUNNING ANYTHING");
    expect(text).toContain(`kubectl cordon ${emptied}`);
    const move = result.moves[0];
    expect(text).toContain(
      `kubectl annotate pod -n serving ${move?.pod} --overwrite inferwatch.io/consolidation-step=1/1 inferwatch.io/consolidation-target-node=${move?.toNode}`,
    );
    expect(text).toContain(`kubectl delete pod -n serving ${move?.pod} --wait=true`);
    expect(text.indexOf("kubectl cordon")).toBeLessThan(text.indexOf("kubectl delete"));
    expect(kubernetesSteps(plan(halfEmptyNode(4, 40)), halfEmptyNode(4, 40))).toContain("Nothing to do");
  });
});

describe("every plan passes the independent checker", () => {
  it.each<[string, { gpus: number; replicas: number; seed: number }, ConsolidationConfigInput]>([
    [
      "an ejection chain counts the replica it makes room for in the model's budget (found by the stress run)",
      { gpus: 39, replicas: 58, seed: 960803 },
      {
        search: { restarts: 40 },
        placement: { isolateTiers: false, protectBurningGpus: false },
        disruption: { maxMoves: 100, maxModelShareMoving: 0, canMoveSingleReplica: true },
      },
    ],
    [
      "cross-pool, cross-model moves keep the model share budget",
      { gpus: 22, replicas: 9, seed: 651021 },
      {
        search: { restarts: 40 },
        memoryHeadroomRatio: 0,
        computeCeilingRatio: 1,
        placement: { pool: "any", gpuModel: "any", isolateTiers: false, protectBurningGpus: false },
        disruption: { maxMoves: null },
      },
    ],
  ])("%s", (_name, fleetOptions, config) => {
    expect(() => plan(randomFleet(fleetOptions), config)).not.toThrow();
  });

  it("on random small fleets and configs, the checker accepts the plan and no class ends below its lower bound", () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer({ min: 1, max: 1_000_000 }),
          gpus: fc.integer({ min: 8, max: 40 }),
          replicas: fc.integer({ min: 2, max: 40 }),
          headroom: fc.constantFrom(0, 0.1, 0.2),
          ceiling: fc.constantFrom(0.6, 0.8, 1),
          spread: fc.constantFrom(null, 1, 3),
          maxMoves: fc.constantFrom(null, 0, 3, 100),
          share: fc.constantFrom(0, 0.5, 1),
          single: fc.boolean(),
          pool: fc.constantFrom("same", "any"),
          isolateTiers: fc.boolean(),
        }),
        (p) => {
          let snapshot: FleetSnapshot;
          try {
            snapshot = randomFleet({ gpus: p.gpus, replicas: p.replicas, seed: p.seed });
          } catch {
            return;
          }
          const config: ConsolidationConfigInput = {
            memoryHeadroomRatio: p.headroom,
            computeCeilingRatio: p.ceiling,
            placement: { maxReplicasPerModelPerNode: p.spread, pool: p.pool, isolateTiers: p.isolateTiers },
            disruption: { maxMoves: p.maxMoves, maxModelShareMoving: p.share, canMoveSingleReplica: p.single },
            search: { restarts: 12 },
          };
          const result = plan(snapshot, config);
          expect(result.gpusFreed).toBeGreaterThanOrEqual(0);
          expect(result.movesCount).toBeLessThanOrEqual(p.maxMoves ?? Infinity);
          for (const c of result.classes) expect(c.gpusInUseAfter).toBeGreaterThanOrEqual(c.bound);
        },
      ),
      { numRuns: 60 },
    );
  });
});
