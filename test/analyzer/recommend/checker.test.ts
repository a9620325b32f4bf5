import { describe, expect, it } from "vitest";
import { checkPlan, type MoveToCheck } from "../../../analyzer/recommend/checker.js";
import {
  parseConsolidationConfig,
  type ConsolidationConfigInput,
  type ConstraintId,
} from "../../../analyzer/recommend/constraints.js";
import type { FleetSnapshot } from "../../../analyzer/fleet/snapshot.js";
import { GIB, fleet, node, replica } from "../../fixtures/fleets.js";
import { pairFleet, type PairOptions } from "../../fixtures/consolidation-fleets.js";

/** x moves from a onto b's GPU. */
const xToB: MoveToCheck = { replicaId: "x", fromNode: "a", fromGpus: ["GPU-a-0"], toNode: "b", toGpus: ["GPU-b-0"] };
const permissive: ConsolidationConfigInput = { disruption: { canMoveSingleReplica: true } };

/** Two nodes of two GPUs: a four-GPU-wide tensor-parallel replica cannot fit, a pair can. */
function tpFleet(domains: [string | null, string | null]): FleetSnapshot {
  return fleet({
    nodes: [
      node({ name: "a", gpus: [{ nvlinkDomain: "nv" }, { nvlinkDomain: "nv" }] }),
      node({ name: "b", gpus: [{ nvlinkDomain: domains[0] }, { nvlinkDomain: domains[1] }] }),
    ],
    replicas: [
      replica({ id: "t", model: "t", node: "a", gpus: ["GPU-a-0", "GPU-a-1"], memoryPerGpuBytes: 20 * GIB }),
      replica({ id: "t2", model: "t", node: "a", gpus: ["GPU-a-0", "GPU-a-1"], memoryPerGpuBytes: 20 * GIB }),
    ],
  });
}

interface Case {
  readonly name: string;
  readonly snapshot: FleetSnapshot;
  readonly moves: readonly MoveToCheck[];
  readonly config?: ConsolidationConfigInput;
  readonly expected: ConstraintId;
  readonly at?: number;
}

const pair = (options: PairOptions = {}): FleetSnapshot => pairFleet(options);

const cases: Case[] = [
  {
    name: "a replica that does not exist",
    snapshot: pair(),
    moves: [{ ...xToB, replicaId: "ghost" }],
    expected: "reference",
  },
  {
    name: "a move from where the replica is not",
    snapshot: pair(),
    moves: [{ ...xToB, fromNode: "b", fromGpus: ["GPU-b-0"] }],
    expected: "reference",
  },
  {
    name: "a GPU that does not exist",
    snapshot: pair(),
    moves: [{ ...xToB, toGpus: ["GPU-b-7"] }],
    expected: "reference",
  },
  {
    name: "a GPU on another node than the move names",
    snapshot: pair(),
    moves: [{ ...xToB, toGpus: ["GPU-a-0"] }],
    expected: "reference",
  },
  { name: "a pinned replica", snapshot: pair({ x: { isPinned: true } }), moves: [xToB], expected: "pinned" },
  {
    name: "a model burning its SLO at page level",
    snapshot: pair({ slo: { m: { isBurningPage: true, isBurningTicket: false } } }),
    moves: [xToB],
    expected: "slo-burning",
  },
  {
    name: "a destination over its memory headroom (30 + 45 GiB > 72)",
    snapshot: pair({ y: { memoryPerGpuBytes: 45 * GIB } }),
    moves: [xToB],
    expected: "memory",
  },
  {
    name: "a destination over the compute ceiling (0.5 + 0.5 > 0.8)",
    snapshot: pair({ a: { gpus: [{ utilizationRatio: 0.5 }] }, b: { gpus: [{ utilizationRatio: 0.5 }] } }),
    moves: [xToB],
    expected: "compute",
  },
  {
    name: "a taint the replica does not tolerate",
    snapshot: pair({ b: { taints: [{ key: "gpu", value: "reserved", effect: "NoSchedule" }] } }),
    moves: [xToB],
    expected: "taints",
  },
  {
    name: "a node without the replica's nodeSelector label",
    snapshot: pair({ x: { nodeSelector: { zone: "a" } } }),
    moves: [xToB],
    expected: "node-selector",
  },
  { name: "another pool", snapshot: pair({ b: { pool: "batch" } }), moves: [xToB], expected: "pool" },
  {
    name: "another GPU model",
    snapshot: pair({ b: { type: "a100", pool: "latency" } }),
    moves: [xToB],
    expected: "gpu-model",
  },
  {
    name: "an unhealthy GPU",
    snapshot: pair({ b: { gpus: [{ isHealthy: false }] } }),
    moves: [xToB],
    expected: "gpu-health",
  },
  {
    name: "a GPU serving another tier",
    snapshot: pair({ y: { tier: "batch" } }),
    moves: [xToB],
    expected: "tier-isolation",
  },
  {
    name: "a GPU serving a model that burns its SLO",
    snapshot: pair({ y: { model: "hot" }, slo: { hot: { isBurningPage: true, isBurningTicket: false } } }),
    moves: [xToB],
    expected: "burning-neighbour",
  },
  {
    name: "a second replica of the model on a node limited to one",
    snapshot: pair(),
    moves: [xToB],
    config: { placement: { maxReplicasPerModelPerNode: 1 } },
    expected: "spread",
  },
  {
    name: "more moves than the plan may make",
    snapshot: pair(),
    moves: [xToB],
    config: { disruption: { maxMoves: 0 } },
    expected: "disruption-moves",
  },
  {
    name: "more of a model's replicas than its budget (1 of 2)",
    snapshot: pair(),
    moves: [xToB, { replicaId: "y", fromNode: "b", fromGpus: ["GPU-b-0"], toNode: "a", toGpus: ["GPU-a-0"] }],
    expected: "disruption-model-share",
    at: 1,
  },
  {
    name: "a replica moving twice",
    snapshot: pair(),
    moves: [xToB, { replicaId: "x", fromNode: "b", fromGpus: ["GPU-b-0"], toNode: "a", toGpus: ["GPU-a-0"] }],
    config: { disruption: { canMoveSingleReplica: true, maxModelShareMoving: 1 } },
    expected: "moved-twice",
    at: 1,
  },
  {
    name: "a tensor-parallel replica split over two NVLink domains",
    snapshot: tpFleet(["nv0", "nv1"]),
    moves: [
      { replicaId: "t", fromNode: "a", fromGpus: ["GPU-a-0", "GPU-a-1"], toNode: "b", toGpus: ["GPU-b-0", "GPU-b-1"] },
    ],
    expected: "tensor-parallel",
  },
  {
    name: "a tensor-parallel replica on PCIe-only GPUs",
    snapshot: tpFleet([null, null]),
    moves: [
      { replicaId: "t", fromNode: "a", fromGpus: ["GPU-a-0", "GPU-a-1"], toNode: "b", toGpus: ["GPU-b-0", "GPU-b-1"] },
    ],
    expected: "tensor-parallel",
  },
  {
    name: "a tensor-parallel replica given too few GPUs",
    snapshot: tpFleet(["nv", "nv"]),
    moves: [{ replicaId: "t", fromNode: "a", fromGpus: ["GPU-a-0", "GPU-a-1"], toNode: "b", toGpus: ["GPU-b-0"] }],
    expected: "tensor-parallel",
  },
];

describe("the independent plan checker catches hand-broken plans", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const result = checkPlan(c.snapshot, c.moves, parseConsolidationConfig(c.config ?? permissive));
    expect(result.isValid).toBe(false);
    expect(result.violations.map((v) => v.constraint)).toContain(c.expected);
    expect(result.violations.find((v) => v.constraint === c.expected)?.moveIndex).toBe(c.at ?? 0);
  });
});

describe("the checker accepts sound plans", () => {
  it("x beside y frees a GPU and a node: no violation, in-use counts from its own replay", () => {
    const result = checkPlan(pairFleet(), [xToB], parseConsolidationConfig({}));
    expect(result.violations).toEqual([]);
    expect(result).toMatchObject({
      isValid: true,
      gpusInUseBefore: 2,
      gpusInUseAfter: 1,
      nodesInUseBefore: 2,
      nodesInUseAfter: 1,
    });
  });

  it("a tensor-parallel pair moves onto two GPUs of one NVLink domain", () => {
    const move: MoveToCheck = {
      replicaId: "t",
      fromNode: "a",
      fromGpus: ["GPU-a-0", "GPU-a-1"],
      toNode: "b",
      toGpus: ["GPU-b-1", "GPU-b-0"],
    };
    expect(checkPlan(tpFleet(["nv", "nv"]), [move], parseConsolidationConfig({})).violations).toEqual([]);
  });

  it("a destination already over its headroom is no violation while nothing moves onto it", () => {
    const snapshot = pairFleet({ a: { gpus: [{ utilizationRatio: 0.2 }, {}] }, y: { memoryPerGpuBytes: 76 * GIB } });
    const xAlongside: MoveToCheck = { ...xToB, toNode: "a", toGpus: ["GPU-a-1"] };
    expect(checkPlan(snapshot, [xAlongside], parseConsolidationConfig({})).violations).toEqual([]);
    expect(checkPlan(snapshot, [xToB], parseConsolidationConfig({})).violations.map((v) => v.constraint)).toEqual([
      "memory",
    ]);
  });
});
