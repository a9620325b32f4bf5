/**
 * The agent's event-loop delay gauge (agent/exporters/self-metrics.ts): a stall shows on the next
 * read, stays for the following window, and is gone after two windows. The clock is a stub; the
 * stall is a real 250 ms busy wait on this thread.
 */
import { expect, it } from "vitest";
import { EventLoopDelayWindow } from "../../agent/exporters/self-metrics.js";

const WINDOW_MS = 30_000;

it("reports a stall on the next read, keeps it for one more window, and drops it after two", async () => {
  let nowMs = 1_000_000;
  const window = new EventLoopDelayWindow(() => nowMs);
  expect(window.maxSeconds()).toBe(0);
  // Let the monitor's timer run once, then block the thread.
  await new Promise((resolve) => setTimeout(resolve, 30));
  const until = performance.now() + 250;
  while (performance.now() < until) {
    // busy: the event loop is stalled
  }
  await new Promise((resolve) => setTimeout(resolve, 30));
  expect(window.maxSeconds()).toBeGreaterThanOrEqual(0.2);
  nowMs += WINDOW_MS;
  // Reads without an event-loop turn between them see no new delay: only the windows move.
  expect(window.maxSeconds()).toBeGreaterThanOrEqual(0.2);
  nowMs += WINDOW_MS;
  expect(window.maxSeconds()).toBe(0);
});
