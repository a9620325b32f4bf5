import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { FleetSnapshot } from "../../../../analyzer/fleet/snapshot.js";
import { checkPlan } from "../../../../analyzer/recommend/checker.js";
import {
  highsSolver,
  loadHighs,
  planConsolidation,
  type ConsolidationPlan,
  type MilpSolver,
} from "../../../../analyzer/recommend/consolidation/index.js";
import { parseConsolidationConfig, type ConsolidationConfigInput } from "../../../../analyzer/recommend/constraints.js";
import { mixedPoolFleet, openbShapedFleet, perturbFleet } from "../../../fixtures/consolidation-fleets.js";
import { GIB, fleet, node, randomFleet, replica } from "../../../fixtures/fleets.js";

/** A fleet from one of three independent generators, with real-world disorder added. */
function drawFleet(
  generator: "ours" | "mixed" | "openb",
  seed: number,
  size: number,
  disorder: boolean,
): FleetSnapshot | undefined {
  let snapshot: FleetSnapshot;
  if (generator === "mixed") snapshot = mixedPoolFleet({ seed, maxReplicas: size });
  else if (generator === "openb") snapshot = openbShapedFleet({ seed, maxReplicas: size });
  else {
    try {
      snapshot = randomFleet({ gpus: 8 + (seed % 4) * 8, replicas: Math.max(2, size), seed });
    } catch {
      return undefined;
    }
  }
  return disorder ? perturbFleet(snapshot, seed) : snapshot;
}

interface DrawnConfig {
  readonly gpuModel: "same" | "any";
  readonly pool: "same" | "any";
  readonly isolateTiers: boolean;
  readonly protectBurningGpus: boolean;
  readonly headroom: number;
  readonly ceiling: number;
  readonly spread: number | null;
  readonly maxMoves: number | null;
  readonly share: number;
  readonly single: boolean;
}

const configArb: fc.Arbitrary<DrawnConfig> = fc.record({
  gpuModel: fc.constantFrom<"same" | "any">("same", "any"),
  pool: fc.constantFrom<"same" | "any">("same", "any"),
  isolateTiers: fc.boolean(),
  protectBurningGpus: fc.boolean(),
  headroom: fc.constantFrom(0, 0.1, 0.2),
  ceiling: fc.constantFrom(0.5, 0.8, 1),
  spread: fc.constantFrom<number | null>(null, 1, 3),
  maxMoves: fc.constantFrom<number | null>(null, 0, 3, 100),
  share: fc.constantFrom(0, 0.5, 1),
  single: fc.boolean(),
});

function toConfig(p: DrawnConfig, search: NonNullable<ConsolidationConfigInput["search"]>): ConsolidationConfigInput {
  return {
    memoryHeadroomRatio: p.headroom,
    computeCeilingRatio: p.ceiling,
    placement: {
      gpuModel: p.gpuModel,
      pool: p.pool,
      isolateTiers: p.isolateTiers,
      protectBurningGpus: p.protectBurningGpus,
      maxReplicasPerModelPerNode: p.spread,
    },
    disruption: { maxMoves: p.maxMoves, maxModelShareMoving: p.share, canMoveSingleReplica: p.single },
    search,
  };
}

/** Every class ends at or above its bound; the checker, replaying on its own, accepts every move. */
function expectSound(snapshot: FleetSnapshot, config: ConsolidationConfigInput, plan: ConsolidationPlan): void {
  expect(checkPlan(snapshot, plan.moves, parseConsolidationConfig(config)).violations).toEqual([]);
  for (const c of plan.classes) {
    expect(
      c.gpusInUseAfter,
      `class ${c.pool}/${c.gpuModel}: ${c.gpusInUseAfter} GPUs in use after the plan, bound ${c.bound}`,
    ).toBeGreaterThanOrEqual(c.bound);
    expect(c.gapGpus).toBe(c.gpusInUseAfter - c.bound);
  }
  expect(plan.gapGpus).toBeGreaterThanOrEqual(0);
  for (const pool of plan.pools) if (pool.gapGpus !== null) expect(pool.gapGpus).toBeGreaterThanOrEqual(0);
}

describe("lower bounds hold in every configuration", () => {
  it("a class that mixes GPU models (gpuModel: any) is bounded as one class: the plan packs the A100's replica onto an L40S, 2 GPUs, and the bound is not 3", () => {
    // Pool `batch`: two L40S (43.2 GiB usable) with a 25 GiB replica each (they cannot share), and an
    // A100 40 GB with a 10 GiB replica. Per GPU model the bounds are 2 + 1 = 3; across models the
    // 10 GiB replica fits beside a 25 GiB one, so 2 GPUs hold everything.
    const snapshot = fleet({
      nodes: [node({ name: "l", type: "l40s", gpus: 2 }), node({ name: "a", type: "a100", pool: "batch", gpus: 1 })],
      replicas: [
        replica({ id: "l0", model: "m", node: "l", gpus: ["GPU-l-0"], memoryPerGpuBytes: 25 * GIB, tier: "batch" }),
        replica({ id: "l1", model: "m", node: "l", gpus: ["GPU-l-1"], memoryPerGpuBytes: 25 * GIB, tier: "batch" }),
        replica({ id: "a0", model: "m", node: "a", gpus: ["GPU-a-0"], memoryPerGpuBytes: 10 * GIB, tier: "batch" }),
      ],
    });
    const config: ConsolidationConfigInput = {
      placement: { gpuModel: "any" },
      disruption: { maxMoves: null, maxModelShareMoving: 1, canMoveSingleReplica: true },
    };
    const plan = planConsolidation(snapshot, config);
    expect(plan.gpusInUseAfter).toBe(2);
    expect(plan.classes).toHaveLength(1);
    expect(plan.classes[0]).toMatchObject({ pool: "batch", gpuModel: "*", bound: 2, gapGpus: 0 });
    expect(plan.pools[0]).toMatchObject({ pool: "batch", gpusInUseAfter: 2, gapGpus: 0, lowerBound: { bound: 2 } });
  });

  it("with pool: any the bound is per class across pools and the pools report no bound of their own", () => {
    const snapshot = fleet({
      nodes: [node({ name: "p", gpus: 1 }), node({ name: "q", gpus: 1, pool: "other" })],
      replicas: [
        replica({ id: "x", model: "m", node: "p", gpus: ["GPU-p-0"], memoryPerGpuBytes: 20 * GIB }),
        replica({ id: "y", model: "m", node: "q", gpus: ["GPU-q-0"], memoryPerGpuBytes: 20 * GIB }),
      ],
    });
    const plan = planConsolidation(snapshot, {
      placement: { pool: "any" },
      disruption: { canMoveSingleReplica: true },
    });
    expect(plan.gpusInUseAfter).toBe(1);
    expect(plan.classes).toEqual([expect.objectContaining({ pool: "*", bound: 1, gpusInUseAfter: 1, gapGpus: 0 })]);
    for (const pool of plan.pools) expect(pool).toMatchObject({ lowerBound: null, gapGpus: null, classes: [] });
  });

  it("thousands of random fleets from three generators, configurations drawn too: every plan is accepted by the checker and no class ends below its bound (heuristic plans)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<"ours" | "mixed" | "openb">("ours", "mixed", "openb"),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 2, max: 30 }),
        fc.boolean(),
        configArb,
        (generator, seed, size, disorder, p) => {
          const snapshot = drawFleet(generator, seed, size, disorder);
          if (snapshot === undefined) return;
          const config = toConfig(p, { restarts: 2 });
          expectSound(snapshot, config, planConsolidation(snapshot, config));
        },
      ),
      { numRuns: 2000 },
    );
  }, 600_000);

  describe("with the exact solver, whose proofs join the bounds and whose plans are the tightest", () => {
    let solver: MilpSolver;
    beforeAll(async () => {
      solver = highsSolver(await loadHighs());
    });

    it("random fleets and configurations: checker-accepted plans, no class below its bound, a class proven optimal at gap 0, and the solver's bound never above a placement reached", () => {
      fc.assert(
        fc.property(
          fc.constantFrom<"ours" | "mixed" | "openb">("ours", "mixed", "openb"),
          fc.integer({ min: 1, max: 1_000_000 }),
          fc.integer({ min: 2, max: 16 }),
          fc.boolean(),
          configArb,
          (generator, seed, size, disorder, p) => {
            const snapshot = drawFleet(generator, seed, size, disorder);
            if (snapshot === undefined) return;
            const config = toConfig(p, { restarts: 2, exactSeconds: 0.5 });
            const plan = planConsolidation(snapshot, config, { solver });
            expectSound(snapshot, config, plan);
            for (const c of plan.classes) {
              // A proof of optimality means no plan does better: the bound the plan reports is reached.
              if (c.solve.isProvenOptimal) expect(c.gapGpus).toBe(0);
              // The solver's bound never exceeds a placement the planner reached.
              expect(c.solve.solverBound).toBeLessThanOrEqual(c.gpusInUseAfter);
            }
          },
        ),
        { numRuns: 150 },
      );
    }, 600_000);
  });
});
