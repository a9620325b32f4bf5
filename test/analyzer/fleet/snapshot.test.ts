import { describe, expect, it } from "vitest";
import {
  FLEET_SNAPSHOT_VERSION,
  fleetSnapshotJsonSchema,
  fleetSnapshotSchema,
  parseFleetSnapshot,
  type FleetSnapshot,
} from "../../../analyzer/fleet/snapshot.js";
import { GIB, fleet, node, randomFleet, replica } from "../../fixtures/fleets.js";

/** Two H100 nodes; a 7B on node-0, a TP2 70B on node-1, its SLO burning at page level. */
function sample(): FleetSnapshot {
  return fleet({
    nodes: [
      node({
        name: "node-0",
        gpus: 2,
        labels: { "inferwatch.io/pool": "latency" },
        taints: [{ key: "nvidia.com/gpu", effect: "NoSchedule" }],
      }),
      node({ name: "node-1", gpus: 2 }),
    ],
    replicas: [
      replica({
        id: "r-0",
        node: "node-0",
        gpus: ["GPU-node-0-0"],
        lastRequestAtMs: 1_767_225_000_000,
        requestRate: 3.5,
        tolerations: [{ key: "nvidia.com/gpu", operator: "Exists" }],
      }),
      replica({
        id: "r-1",
        model: "llama-2-70b-awq",
        node: "node-1",
        gpus: ["GPU-node-1-0", "GPU-node-1-1"],
        memoryPerGpuBytes: 16 * GIB,
        isPinned: true,
      }),
    ],
    slo: { "llama-2-70b-awq": { isBurningPage: true, isBurningTicket: true, errorBudgetRemainingRatio: 0.42 } },
  });
}

/** Mutates a JSON copy of the sample and returns the error message of parsing it. */
function problemsOf(mutate: (doc: FleetSnapshot) => void): string {
  const doc = JSON.parse(JSON.stringify(sample())) as FleetSnapshot;
  mutate(doc);
  try {
    parseFleetSnapshot(doc, "snap.json");
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("expected the snapshot to be rejected");
}

/** Ways a snapshot goes wrong, and the path and message its rejection must name. */
const REJECTIONS: [string, (doc: FleetSnapshot) => unknown, string][] = [
  ["a negative memory size", (d) => (d.nodes[0]!.gpus[1]!.memoryTotalBytes = -1), "nodes.0.gpus.1.memoryTotalBytes: "],
  ["a utilization above 1", (d) => (d.nodes[1]!.gpus[0]!.utilizationRatio = 1.5), "nodes.1.gpus.0.utilizationRatio: "],
  [
    "more memory used than the GPU has",
    (d) => (d.nodes[0]!.gpus[0]!.memoryUsedBytes = 81 * GIB),
    "nodes.0.gpus.0.memoryUsedBytes: exceeds memoryTotalBytes",
  ],
  [
    "a replica on a GPU nobody has",
    (d) => (d.replicas[0]!.gpus[0] = "GPU-missing"),
    "replicas.0.gpus.0: unknown GPU GPU-missing",
  ],
  [
    "a replica on another node's GPU",
    (d) => (d.replicas[1]!.gpus[1] = "GPU-node-0-1"),
    "replicas.1.gpus.1: GPU GPU-node-0-1 is on node node-0, not node-1",
  ],
  [
    "a GPU count that is not the tensor-parallel degree",
    (d) => (d.replicas[1]!.tensorParallel = 4),
    "replicas.1.gpus: holds 2 GPUs but tensorParallel is 4",
  ],
  // The reproduction: a TP-4 replica listing one GPU four times was accepted and moved the bound.
  [
    "a TP-4 replica listing one GPU four times",
    (d) => Object.assign(d.replicas[1]!, { gpus: Array(4).fill("GPU-node-1-0"), tensorParallel: 4 }),
    "replicas.1.gpus.1: GPU GPU-node-1-0 is listed twice; each tensor-parallel rank holds its own GPU",
  ],
  ["a replica on an unknown node", (d) => (d.replicas[0]!.node = "node-9"), "replicas.0.node: unknown node node-9"],
  [
    "two GPUs with one uuid",
    (d) => (d.nodes[1]!.gpus[1]!.uuid = "GPU-node-0-0"),
    "nodes.1.gpus.1.uuid: duplicate GPU uuid GPU-node-0-0",
  ],
  [
    "a taint effect Kubernetes does not have",
    (d) => Object.assign(d.nodes[0]!.taints[0]!, { effect: "Sometimes" }),
    "nodes.0.taints.0.effect: ",
  ],
  ["an unknown field", (d) => Object.assign(d.nodes[0]!.gpus[0]!, { temperature: 40 }), "nodes.0.gpus.0: "],
  ["another version", (d) => Object.assign(d, { version: 2 }), "version: "],
];

describe("fleet snapshot schema", () => {
  it("a snapshot survives JSON and back unchanged", () => {
    const original = sample();
    expect(parseFleetSnapshot(JSON.parse(JSON.stringify(original)))).toEqual(original);
  });

  it("a minimal file gets its defaults: no labels, taints, tolerations, selector or SLO state", () => {
    const parsed = parseFleetSnapshot({
      version: FLEET_SNAPSHOT_VERSION,
      takenAtMs: 0,
      nodes: [
        {
          name: "n",
          pool: "batch",
          gpus: [
            {
              uuid: "GPU-1",
              index: 0,
              gpuModel: "NVIDIA L4",
              memoryTotalBytes: 24 * GIB,
              memoryUsedBytes: 0,
              utilizationRatio: 0,
              nvlinkDomain: null,
              isHealthy: true,
            },
          ],
        },
      ],
      replicas: [
        {
          id: "r",
          model: "m",
          namespace: "ns",
          pod: "p",
          node: "n",
          gpus: ["GPU-1"],
          memoryPerGpuBytes: GIB,
          tier: "batch",
          tensorParallel: 1,
          lastRequestAtMs: null,
          requestRate: 0,
          isPinned: false,
        },
      ],
    });
    expect(parsed.nodes[0]).toMatchObject({ labels: {}, taints: [] });
    expect(parsed.replicas[0]).toMatchObject({ tolerations: [], nodeSelector: {} });
    expect(parsed.slo).toEqual({});
  });

  it.each(REJECTIONS)("rejects %s, naming the path", (_name, mutate, expected) => {
    const message = problemsOf(mutate);
    expect(message).toContain("snap.json is invalid");
    expect(message).toContain(expected);
  });

  it.each([
    ["null", null, "(top level): "],
    ["nodes that are not a list", { version: 1, takenAtMs: 0, nodes: "x", replicas: [] }, "nodes: "],
  ])("rejects %s with the schema's message, never a TypeError from the reference checks", (_name, doc, expected) => {
    expect(() => parseFleetSnapshot(doc)).toThrow(expected);
  });

  it("lists every problem, not only the first", () => {
    const message = problemsOf((d) => {
      d.nodes[0]!.gpus[0]!.index = -1;
      d.replicas[0]!.requestRate = -2;
    });
    expect(message).toContain("nodes.0.gpus.0.index: ");
    expect(message).toContain("replicas.0.requestRate: ");
  });
});

describe("fleet snapshot JSON Schema", () => {
  const schema = fleetSnapshotJsonSchema();
  /** The value at a dotted path of the generated schema. */
  const at = (path: string): unknown =>
    path.split(".").reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], schema);
  const GPU = "properties.nodes.items.properties.gpus.items";

  it("is draft 2020-12 and requires what a file must hold, not what has a default", () => {
    expect(at("$schema")).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(at("required")).toEqual(["version", "takenAtMs", "nodes", "replicas"]);
    expect(at(`${GPU}.required`)).toEqual([
      "uuid",
      "index",
      "gpuModel",
      "memoryTotalBytes",
      "memoryUsedBytes",
      "utilizationRatio",
      "nvlinkDomain",
      "isHealthy",
    ]);
    expect(at(`${GPU}.additionalProperties`)).toBe(false);
    expect(at("properties.nodes.items.required")).not.toContain("labels");
  });

  it("documents the fields from the zod descriptions", () => {
    expect(at("properties.replicas.items.properties.tensorParallel.description")).toMatch(
      /one node and one NVLink domain/,
    );
    expect(at(`${GPU}.properties.nvlinkDomain.description`)).toMatch(/null when the GPU has no NVLink peer/);
  });

  it("is a fresh object on every call", () => {
    const first = fleetSnapshotJsonSchema();
    first["title"] = "changed";
    expect(fleetSnapshotJsonSchema()["title"]).toBe("inferwatch fleet snapshot");
  });
});

describe("randomFleet fixture", () => {
  it("is valid, exactly sized and the same for the same seed", () => {
    const a = randomFleet({ gpus: 203, replicas: 400, seed: 7 });
    expect(fleetSnapshotSchema.safeParse(a).success).toBe(true);
    expect(a.nodes.reduce((sum, n) => sum + n.gpus.length, 0)).toBe(203);
    expect(a.replicas).toHaveLength(400);
    expect(
      a.replicas
        .filter((r) => r.tensorParallel === 4)
        .every((r) => a.nodes.find((n) => n.name === r.node)?.gpus.every((g) => g.nvlinkDomain !== null)),
    ).toBe(true);
    expect(randomFleet({ gpus: 203, replicas: 400, seed: 7 })).toEqual(a);
    expect(randomFleet({ gpus: 203, replicas: 400, seed: 8 })).not.toEqual(a);
  });
});
