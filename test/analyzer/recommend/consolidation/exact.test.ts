import type { Highs } from "highs";
import { beforeAll, describe, expect, it } from "vitest";
import { planConsolidation } from "../../../../analyzer/recommend/consolidation/plan.js";
import { parseConsolidationConfig } from "../../../../analyzer/recommend/constraints.js";
import { loadHighs } from "../../../bench/highs-loader.js";
import { smallInstances } from "../../../bench/recommend-bench.js";
import { buildConsolidationMilp, isSequenceable, readMilpSolution } from "../../../bench/recommend-milp.js";

// Seeds of the MILP benchmark where the drains alone stopped one GPU short of the optimum: emptying
// the last GPU needs a tensor-parallel replica to shift a shard within its NVLink domain and a
// replica on a GPU that stays in use to step aside. The exact neighbourhood finds both.
const TIGHT_SEEDS = [19, 48];

describe("the exact neighbourhood on tight small fleets", () => {
  let highs: Highs;
  beforeAll(async () => {
    highs = await loadHighs();
  });

  for (const seed of TIGHT_SEEDS) {
    it(`benchmark seed ${seed}: the plan frees as many GPUs as the MILP optimum, in an order the checker accepts`, () => {
      const instance = smallInstances(50).find((i) => i.seed === seed);
      expect(instance).toBeDefined();
      const snapshot = (instance as NonNullable<typeof instance>).snapshot;
      const config = parseConsolidationConfig({});
      const plan = planConsolidation(snapshot, config);
      const model = buildConsolidationMilp(snapshot, config);
      const optimum = readMilpSolution(highs.solve(model.lp, { time_limit: 60, output_flag: false, mip_rel_gap: 0 }));
      expect(optimum.status).toBe("Optimal");
      expect(isSequenceable(snapshot, model, optimum, config)).toBe(true);
      expect(plan.gpusInUseAfter).toBe(optimum.gpusInUse);
      expect(plan.gpusInUseAfter).toBeLessThan(plan.gpusInUseBefore);
      expect(plan.check.isValid).toBe(true);
      // Every replica moves at most once.
      expect(new Set(plan.moves.map((m) => m.replicaId)).size).toBe(plan.moves.length);
    });
  }
});
