/**
 * The utilization basis: which metric family a GPU's figures come from (the configured one, busy
 * time where a GPU lacks it, nothing where it has neither), what an aggregate says it used, and the
 * planner's reading of a GPU without a figure (fully busy, never idle).
 */
import { describe, expect, it } from "vitest";
import { METRICS } from "../../../common/conventions.js";
import { evaluateFleet } from "../../../analyzer/fleet/evaluate.js";
import { assembleFleetSnapshot, poolResolver } from "../../../analyzer/fleet/assemble.js";
import { basisFamilies, figureBasis, pickByBasis } from "../../../analyzer/fleet/utilization-basis.js";
import { gpuBaseline, replicaUtilizationShares } from "../../../analyzer/recommend/constraints.js";
import { MemoryStore } from "../../../analyzer/stores/memory-store.js";

const T0 = Date.UTC(2024, 0, 1);
const STEP = 60_000;

function labels(gpu: number, model: string): Record<string, string> {
  return { node: "n1", gpu: String(gpu), uuid: `GPU-${gpu}`, gpu_model: model };
}

/**
 * An hour of samples: GPU 0 an H100 (SM 30 %, busy 90 %), GPU 1 an A100 (busy 60 %, no GPM), GPU 2
 * a MIG H100 (SM 30 % derived from its instances, no busy time), GPU 3 a MIG A100 (neither).
 */
function store(): MemoryStore {
  const s = new MemoryStore();
  const gpus: [number, string, number | undefined, number | undefined][] = [
    [0, "NVIDIA H100 80GB HBM3", 0.3, 0.9],
    [1, "NVIDIA A100-SXM4-80GB", undefined, 0.6],
    [2, "NVIDIA H100 80GB HBM3", 0.3, undefined],
    [3, "NVIDIA A100-SXM4-80GB", undefined, undefined],
  ];
  for (let at = T0; at <= T0 + 3_600_000; at += STEP) {
    for (const [gpu, model, sm, busy] of gpus) {
      const l = labels(gpu, model);
      s.ingest(
        METRICS.gpuInfo.name,
        { ...l, driver_version: "575.51.03", pci_bus_id: `0000:0${gpu}:00.0`, source: "nvml" },
        1,
        at,
      );
      s.ingest(METRICS.memoryTotal.name, l, 80 * 2 ** 30, at);
      s.ingest(METRICS.memoryUsed.name, l, 10 * 2 ** 30, at);
      s.ingest(METRICS.gpuUp.name, l, 1, at);
      if (sm !== undefined) s.ingest(METRICS.smActive.name, l, sm, at);
      if (busy !== undefined) s.ingest(METRICS.utilization.name, l, busy, at);
    }
  }
  return s;
}

describe("picking a GPU's figures by basis", () => {
  it("reads the basis, then busy time, and never busy time for a GPU that has the basis", () => {
    expect(basisFamilies("sm")).toEqual(["sm", "busy"]);
    expect(basisFamilies("busy")).toEqual(["busy"]);
    const a = { labels: { uuid: "A" } };
    const b = { labels: { uuid: "B" } };
    const picked = pickByBasis([
      { basis: "sm", values: [a] },
      { basis: "busy", values: [{ labels: { uuid: "A" } }, b] },
    ]);
    expect(picked).toEqual([
      { basis: "sm", value: a },
      { basis: "busy", value: b },
    ]);
  });

  it("keeps every series of a GPU from the family that answered first (a new holder starts a new series)", () => {
    const first: { labels: Record<string, string> } = { labels: { uuid: "A", pod: "p1" } };
    const second: { labels: Record<string, string> } = { labels: { uuid: "A", pod: "p2" } };
    expect(
      pickByBasis([
        { basis: "sm", values: [first, second] },
        { basis: "busy", values: [{ labels: { uuid: "A" } }] },
      ]).map((p) => p.value),
    ).toEqual([first, second]);
  });

  it.each([
    [["sm", "sm"], "sm"],
    [["sm", "busy"], "mixed"],
    [["busy"], "busy"],
    [[], "unknown"],
  ] as const)("names the basis of a figure over GPUs on %j: %s", (bases, expected) => {
    expect(figureBasis(bases)).toBe(expected);
  });
});

describe("fleet figures on a basis", () => {
  it("uses SM activity where reported, falls back to busy time on the A100, and leaves the MIG A100 unknown, saying so", async () => {
    const s = store();
    const atMs = T0 + 3_600_000;
    const snapshot = await assembleFleetSnapshot(s, atMs, poolResolver([]), {}, { basis: "sm" });
    const gpus = snapshot.nodes[0]?.gpus.map((g) => [g.uuid, g.utilizationRatio, g.utilizationBasis]);
    expect(gpus).toEqual([
      ["GPU-0", 0.3, "sm"],
      ["GPU-1", 0.6, "busy"],
      ["GPU-2", 0.3, "sm"],
      ["GPU-3", null, "unknown"],
    ]);
    const fleet = await evaluateFleet(s, snapshot, { atMs, targetRatio: 0.6, prices: {}, basis: "sm" });
    expect(fleet.basis).toEqual({ configured: "sm", gpus: { sm: 2, busy: 1, unknown: 1 } });
    const pool = fleet.utilization.hour.pools[0];
    expect(pool).toMatchObject({ key: "default", basis: "mixed", gpus: 3 });
    expect(pool?.meanRatio).toBeCloseTo((0.3 + 0.6 + 0.3) / 3, 9);
    expect(fleet.utilization.hour.gpus.map((g) => [g.key, g.basis])).toEqual([
      ["GPU-0", "sm"],
      ["GPU-1", "busy"],
      ["GPU-2", "sm"],
    ]);
    expect(fleet.poolHours[0]).toMatchObject({ pool: "default", basis: "mixed", hoursAtTarget: 0 });
  });

  it("reads busy time only on the busy basis: the MIG GPUs are unknown, not idle", async () => {
    const s = store();
    const atMs = T0 + 3_600_000;
    const snapshot = await assembleFleetSnapshot(s, atMs, poolResolver([]), {}, { basis: "busy" });
    expect(snapshot.nodes[0]?.gpus.map((g) => g.utilizationRatio)).toEqual([0.9, 0.6, null, null]);
    const fleet = await evaluateFleet(s, snapshot, { atMs, targetRatio: 0.6, prices: {}, basis: "busy" });
    expect(fleet.utilization.hour.pools[0]).toMatchObject({ basis: "busy", gpus: 2 });
    expect(fleet.utilization.hour.pools[0]?.meanRatio).toBeCloseTo(0.75, 9);
    expect(fleet.basis.gpus).toEqual({ busy: 2, unknown: 2 });
  });

  it("has the planner take a GPU without a figure as fully busy: its replica weighs the whole GPU, nothing stays idle there", async () => {
    const s = store();
    const snapshot = await assembleFleetSnapshot(s, T0 + 3_600_000, poolResolver([]), {}, { basis: "busy" });
    const withReplica = {
      ...snapshot,
      replicas: [
        {
          id: "llm/a",
          model: "m",
          namespace: "llm",
          pod: "a",
          node: "n1",
          gpus: ["GPU-3"],
          memoryPerGpuBytes: 10 * 2 ** 30,
          tier: "default",
          tensorParallel: 1,
          lastRequestAtMs: null,
          requestRate: 0,
          isPinned: false,
          tolerations: [],
          nodeSelector: {},
        },
      ],
    };
    expect(replicaUtilizationShares(withReplica).get("llm/a")).toBe(1);
    expect(gpuBaseline(snapshot).get("GPU-2")?.utilization).toBe(1);
  });
});
