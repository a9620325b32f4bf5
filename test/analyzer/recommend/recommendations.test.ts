import { describe, expect, it } from "vitest";
import type { ConsolidationPlanner } from "../../../analyzer/recommend/consolidation/index.js";
import { parseConsolidationConfig } from "../../../analyzer/recommend/constraints.js";
import { idleEvictionConfigSchema } from "../../../analyzer/recommend/idle-eviction.js";
import { recommend, recommendWith } from "../../../analyzer/recommend/recommendations.js";
import { pairFleet } from "../../fixtures/consolidation-fleets.js";

const config = {
  consolidation: parseConsolidationConfig({ disruption: { canMoveSingleReplica: true } }),
  idle: idleEvictionConfigSchema.parse({}),
};
const AT = Date.UTC(2026, 10, 28);

describe("recommendations with a planner", () => {
  it("use the planner's plan", async () => {
    const inline = recommend(pairFleet(), null, config, AT);
    const marked = { ...inline.consolidation, searchVariant: "from the planner" };
    const planner: ConsolidationPlanner = { plan: () => Promise.resolve(marked), shutdown: () => Promise.resolve() };
    const result = await recommendWith(planner, pairFleet(), null, config, AT);
    expect(result.consolidation.searchVariant).toBe("from the planner");
  });

  it("fall back to the heuristic in this thread when the planner fails, rather than losing the recommendations", async () => {
    const planner: ConsolidationPlanner = {
      plan: () => Promise.reject(new Error("no planning thread")),
      shutdown: () => Promise.resolve(),
    };
    const result = await recommendWith(planner, pairFleet(), null, config, AT);
    expect(result.consolidation).toMatchObject({ gpusFreed: 1, movesCount: 1, check: { isValid: true } });
    expect(result.consolidation.classes[0]?.solve.note).toBe("exact solver off");
  });
});
