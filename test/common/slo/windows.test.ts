import { describe, expect, it } from "vitest";
import {
  BURN_WINDOWS,
  burnFactor,
  detectionTimeMs,
  isReachable,
  longestWindowMs,
  resetTimeMs,
  windowDurationsMs,
  type BurnWindow,
} from "../../../common/slo/windows.js";

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function windowById(id: string): BurnWindow {
  const window = BURN_WINDOWS.find((candidate) => candidate.id === id);
  if (!window) throw new Error(`no window ${id}`);
  return window;
}

describe("burn-rate windows", () => {
  it.each([
    ["page-1h-5m", "page", "2%", 14.4, HOUR, 5 * MINUTE],
    ["page-6h-30m", "page", "5%", 6, 6 * HOUR, 30 * MINUTE],
    ["ticket-1d-2h", "ticket", "10%", 3, DAY, 2 * HOUR],
    ["ticket-3d-6h", "ticket", "10%", 1, 3 * DAY, 6 * HOUR],
  ] as const)(
    "%s (%s on %s of the budget) derives burn factor %d for a 30-day period",
    (id, severity, _share, factor, longMs, shortMs) => {
      const window = windowById(id);
      expect(window).toMatchObject({ severity, longMs, shortMs });
      expect(burnFactor(window, 30 * DAY)).toBeCloseTo(factor, 12);
    },
  );

  it.each([
    ["page-1h-5m", 13.44],
    ["page-6h-30m", 5.6],
    ["ticket-1d-2h", 2.8],
    ["ticket-3d-6h", 28 / 30],
  ])("%s derives factor %d for a 28-day period, from the same budget share", (id, factor) => {
    expect(burnFactor(windowById(id), 28 * DAY)).toBeCloseTo(factor, 12);
  });

  it.each(BURN_WINDOWS.map((window) => [window.id, window] as const))(
    "%s consumes exactly its budget share when it fires at its factor",
    (_id, window) => {
      const consumed = (burnFactor(window, 30 * DAY) * window.longMs) / (30 * DAY);
      expect(consumed).toBeCloseTo(window.budgetShare, 12);
    },
  );

  it.each(BURN_WINDOWS.map((window) => [window.id, window] as const))(
    "%s has a short window 1/12 of its long window",
    (_id, window) => {
      expect(window.shortMs * 12).toBe(window.longMs);
    },
  );

  it("lists each window length once, so a store counts 7 windows for 4 pairs", () => {
    expect(windowDurationsMs()).toEqual([5 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 6 * HOUR, DAY, 3 * DAY]);
    expect(longestWindowMs()).toBe(3 * DAY);
  });

  it.each([
    [0.95, "page-1h-5m", true],
    [0.9, "page-1h-5m", false],
    [0.9, "page-6h-30m", true],
    [0.93, "page-1h-5m", false],
    [0.999, "page-1h-5m", true],
  ] as const)("at objective %d, %s reachable is %s (highest burn is 1 ÷ budget)", (objective, id, reachable) => {
    expect(isReachable(windowById(id), 30 * DAY, objective)).toBe(reachable);
  });
});

describe("detection and reset times", () => {
  // Workbook approaches 2 and 4: 5% of a 99.9%/30-day budget, a complete outage burns at 1000×.
  const fivePercent = (longMs: number): BurnWindow => ({
    id: "w",
    severity: "page",
    longMs,
    shortMs: longMs / 12,
    budgetShare: 0.05,
  });

  it("detects a complete outage of a 99.9% SLO in 2 min 10 s with a 5%-of-budget window (workbook)", () => {
    expect(detectionTimeMs(fivePercent(36 * HOUR), 30 * DAY, 1000)).toBeCloseTo(129.6 * SECOND, 6);
    expect(detectionTimeMs(fivePercent(HOUR), 30 * DAY, 1000)).toBeCloseTo(129.6 * SECOND, 6);
  });

  it("never detects a 35× burn with the 36× one-hour window (workbook)", () => {
    expect(burnFactor(fivePercent(HOUR), 30 * DAY)).toBeCloseTo(36, 12);
    expect(detectionTimeMs(fivePercent(HOUR), 30 * DAY, 35)).toBeUndefined();
  });

  it.each([
    ["page-1h-5m", 20, "after 43.2 min", 43.2 * MINUTE],
    ["page-6h-30m", 20, "after 108 min", 108 * MINUTE],
    ["page-6h-30m", 10, "after 3.6 h", 216 * MINUTE],
    ["ticket-1d-2h", 10, "after 7.2 h", 432 * MINUTE],
    ["page-1h-5m", 10, "at no time (10 < 14.4)", undefined],
  ] as const)("%s detects a %d× burn of a 30-day budget %s", (id, burn, _when, expected) => {
    const detected = detectionTimeMs(windowById(id), 30 * DAY, burn);
    if (expected === undefined) expect(detected).toBeUndefined();
    else expect(detected).toBeCloseTo(expected, 6);
  });

  it.each([
    ["page-1h-5m", 20, "stops firing 84 s after it ends", 84 * SECOND],
    ["page-6h-30m", 20, "stops firing 21 min after it ends", 21 * MINUTE],
    ["page-1h-5m", 14.4, "stops firing as soon as it ends", 0],
    ["page-1h-5m", 10, "never fired, so has no reset time", undefined],
  ] as const)("%s, after a %d× burn, %s", (id, burn, _when, expected) => {
    const reset = resetTimeMs(windowById(id), 30 * DAY, burn);
    if (expected === undefined) expect(reset).toBeUndefined();
    else expect(reset).toBeCloseTo(expected, 6);
  });
});
