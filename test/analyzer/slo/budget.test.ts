import { describe, expect, it } from "vitest";
import { errorBudget, timeToExhaustionMs } from "../../../analyzer/slo/budget.js";
import { computeBurnRate, type EventCounts } from "../../../analyzer/slo/burn.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const PERIOD = 30 * DAY;

const counts = (good: number, total: number): EventCounts => ({ good, total });

describe("error budget over the period", () => {
  it.each([
    // 1,000,000 requests at 95%: 50,000 may be slow.
    ["20,000 slow of 1,000,000 at 95% spends 40% of the budget", counts(980_000, 1_000_000), 0.95, 50_000, 0.4, 0.6],
    ["no bad request leaves the whole budget", counts(1_000_000, 1_000_000), 0.95, 50_000, 0, 1],
    ["60,000 slow of 1,000,000 at 95% overspends by 20%", counts(940_000, 1_000_000), 0.95, 50_000, 1.2, -0.2],
    ["250 errors of 100,000 at 99% spends a quarter", counts(99_750, 100_000), 0.99, 1_000, 0.25, 0.75],
  ])("%s", (_name, period, objective, allowedBad, consumed, remaining) => {
    const budget = errorBudget(period, objective);
    expect(budget.state).toBe("measured");
    if (budget.state !== "measured") return;
    expect(budget.allowedBad).toBeCloseTo(allowedBad, 6);
    expect(budget.consumed).toBeCloseTo(consumed, 12);
    expect(budget.remaining).toBeCloseTo(remaining, 12);
  });

  it.each([
    ["a period without traffic", counts(0, 0), "no-traffic"],
    ["a period the store has no series for", undefined, "missing"],
  ] as const)("%s is no data with the budget untouched", (_name, period, reason) => {
    expect(errorBudget(period, 0.95)).toEqual({ state: "no-data", reason, remaining: 1, consumed: 0 });
  });
});

describe("time to exhaustion", () => {
  const full = errorBudget(counts(1000, 1000), 0.999);

  it.each([
    // Workbook table 5-4 (99.9%, 30 days): burn 1 → 30 days, 2 → 15 days, 10 → 3 days, 1000 → 43 min.
    ["a burn of 1 spends a full 30-day budget in 30 days", 1, 30 * DAY],
    ["a burn of 2 spends it in 15 days", 2, 15 * DAY],
    ["a burn of 10 spends it in 3 days", 10, 3 * DAY],
    ["a burn of 1000 spends it in 43.2 minutes", 1000, 43.2 * MINUTE],
    ["a burn of 35 spends it in 20.57 hours (the workbook's 20.5 h)", 35, (720 / 35) * HOUR],
  ])("%s", (_name, burn, expected) => {
    expect(timeToExhaustionMs(full, burn, PERIOD)).toBeCloseTo(expected, 3);
  });

  it("spends the 60% left in 30 hours at the one-hour window's 14.4×", () => {
    const budget = errorBudget(counts(980_000, 1_000_000), 0.95);
    const lastHour = computeBurnRate(counts(280, 1000), 0.95);
    // 0.6 × 720 h ÷ 14.4 = 30 h.
    expect(timeToExhaustionMs(budget, lastHour, PERIOD)).toBeCloseTo(30 * HOUR, 3);
  });

  it.each([
    ["no burn at all", 0, null],
    ["a burn window without traffic", computeBurnRate(counts(0, 0), 0.95), null],
    ["an infinite burn rate", Infinity, null],
  ] as const)("is null, never Infinity, with %s", (_name, burn, expected) => {
    const left = timeToExhaustionMs(full, burn, PERIOD);
    expect(left).toBe(expected);
    expect(JSON.stringify({ left })).toBe('{"left":null}');
  });

  it("is zero when the budget is already spent", () => {
    expect(timeToExhaustionMs(errorBudget(counts(940_000, 1_000_000), 0.95), 3, PERIOD)).toBe(0);
  });

  it("after a quiet period, extrapolates a measured burn from the full budget, and is null without one", () => {
    const quiet = errorBudget(counts(0, 0), 0.95);
    expect(timeToExhaustionMs(quiet, computeBurnRate(counts(0, 0), 0.95), PERIOD)).toBeNull();
    expect(timeToExhaustionMs(quiet, 10, PERIOD)).toBeCloseTo(3 * DAY, 3);
  });
});
