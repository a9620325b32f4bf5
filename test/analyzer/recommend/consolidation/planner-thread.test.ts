import { threadId } from "node:worker_threads";
import { afterAll, describe, expect, it } from "vitest";
import { checkPlan } from "../../../../analyzer/recommend/checker.js";
import { createPlannerThread, planConsolidation } from "../../../../analyzer/recommend/consolidation/index.js";
import { parseConsolidationConfig } from "../../../../analyzer/recommend/constraints.js";
import { pairFleet } from "../../../fixtures/consolidation-fleets.js";
import { randomFleet } from "../../../fixtures/fleets.js";

describe("the planning thread", () => {
  const planner = createPlannerThread();
  afterAll(() => planner.shutdown());

  it("plans on another thread with HiGHS loaded, and the plan is the one planConsolidation makes", async () => {
    const snapshot = pairFleet();
    // A budget large enough that a busy machine cannot cut the solver short.
    const config = { disruption: { canMoveSingleReplica: true }, search: { exactSeconds: 120 } };
    const plan = await planner.plan(snapshot, config);
    expect(planner.info.threadId).toBeDefined();
    expect(planner.info.threadId).not.toBe(threadId);
    expect(planner.info.solverError).toBeNull();
    expect(plan.moves).toEqual(planConsolidation(snapshot, config).moves);
    expect(plan.classes[0]?.solve).toMatchObject({ isProvenOptimal: true });
  });

  it("leaves the event loop free while a 2,000-GPU fleet is planned: timers keep firing throughout", async () => {
    const snapshot = randomFleet({ gpus: 2000, replicas: 5000, seed: 3 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const started = performance.now();
    const plan = await planner.plan(snapshot, { disruption: { maxMoves: null } });
    const elapsed = performance.now() - started;
    clearInterval(timer);
    expect(plan.gpusFreed).toBeGreaterThan(0);
    expect(checkPlan(snapshot, plan.moves, parseConsolidationConfig({ disruption: { maxMoves: null } })).isValid).toBe(
      true,
    );
    // A plan blocking this thread would let no timer fire until it returned: at least one tick per
    // 20 ms of the plan shows the loop kept turning (a loose floor, not a latency target).
    expect(ticks).toBeGreaterThan(elapsed / 20);
  });

  it("refuses to plan once shut down", async () => {
    const other = createPlannerThread();
    await other.shutdown();
    await expect(other.plan(pairFleet(), {})).rejects.toThrow(/shut down/);
  });
});
