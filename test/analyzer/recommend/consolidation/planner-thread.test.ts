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

  it("with recycle, plans each snapshot on a fresh thread once the last has no plan left, and two plans asked together are both answered", async () => {
    const recycled = createPlannerThread({ recycle: true });
    try {
      const config = { disruption: { canMoveSingleReplica: true } };
      const expected = planConsolidation(pairFleet(), config).moves;
      const first = await recycled.plan(pairFleet(), config);
      const firstThread = recycled.info.threadId;
      const second = await recycled.plan(pairFleet(), config);
      const secondThread = recycled.info.threadId;
      expect([first.moves, second.moves]).toEqual([expected, expected]);
      expect(firstThread).toBeDefined();
      expect(secondThread).not.toBe(firstThread);
      // Two plans asked at once: the first answer leaves one waiting, so the thread stays for it.
      const both = await Promise.all([recycled.plan(pairFleet(), config), recycled.plan(pairFleet(), config)]);
      expect(both.map((plan) => plan.moves)).toEqual([expected, expected]);
      expect(recycled.info.threadId).not.toBe(secondThread);
    } finally {
      await recycled.shutdown();
    }
  });

  it("fails a plan past the thread's heap limit with that reason, and starts a fresh thread for the next", async () => {
    const small = createPlannerThread({ heapLimits: { youngGenerationMb: 1, oldGenerationMb: 8 } });
    try {
      const snapshot = randomFleet({ gpus: 2000, replicas: 5000, seed: 3 });
      const outOfMemory = /ran out of memory \(its heap limit: 8 MiB\)/;
      await expect(small.plan(snapshot, {})).rejects.toThrow(outOfMemory);
      await expect(small.plan(snapshot, {})).rejects.toThrow(outOfMemory);
    } finally {
      await small.shutdown();
    }
  });

  it("refuses to plan once shut down", async () => {
    const other = createPlannerThread();
    await other.shutdown();
    await expect(other.plan(pairFleet(), {})).rejects.toThrow(/shut down/);
  });
});
