/**
 * ReadTurns: the event-loop turns shared by a scraper's page reads are handed out first come first
 * served, one per event-loop iteration, so the loop's other phases (timers, I/O: the agent's
 * listeners) run between any two reads' slices.
 */
import { describe, expect, it } from "vitest";
import { ReadTurns } from "../../../agent/collectors/runtimes/read-turns.js";

describe("ReadTurns", () => {
  it("hands turns out in the order asked, one per event-loop iteration", async () => {
    const turns = new ReadTurns();
    // Counts event-loop iterations (one setImmediate callback each).
    let iterations = 0;
    let isTicking = true;
    const tick = (): void => {
      iterations++;
      if (isTicking) setImmediate(tick);
    };
    setImmediate(tick);
    const order: [string, number][] = [];
    const reads = ["a", "b", "c", "d"].map((name) => turns.next().then(() => order.push([name, iterations])));
    expect(turns.waitingCount).toBe(4);
    await Promise.all(reads);
    isTicking = false;
    expect(order.map(([name]) => name)).toEqual(["a", "b", "c", "d"]);
    const at = order.map(([, iteration]) => iteration);
    for (let i = 1; i < at.length; i++) expect(at[i]).toBe((at[i - 1] ?? NaN) + 1);
    expect(turns.waitingCount).toBe(0);
  });

  it("starts again after it went idle", async () => {
    const turns = new ReadTurns();
    await turns.next();
    let isDone = false;
    const again = turns.next().then(() => (isDone = true));
    expect(isDone).toBe(false);
    await again;
    expect(isDone).toBe(true);
  });
});
