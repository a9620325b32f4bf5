import { describe, expect, it } from "vitest";
import {
  computeBurnRate,
  errorBudgetOf,
  evaluateBurn,
  evaluateWindowPair,
  isBurningAt,
  type EventCounts,
  type EventLookup,
  type SloBurnStatus,
} from "../../../analyzer/slo/burn.js";
import { BURN_WINDOWS, detectionTimeMs, resetTimeMs, type BurnWindow } from "../../../common/slo/windows.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const PERIOD = 30 * DAY;

const counts = (good: number, total: number): EventCounts => ({ good, total });

function windowById(id: string): BurnWindow {
  const window = BURN_WINDOWS.find((candidate) => candidate.id === id);
  if (!window) throw new Error(`no window ${id}`);
  return window;
}

function pairState(status: SloBurnStatus, id: string): string | undefined {
  return status.windows.find((window) => window.windowId === id)?.state;
}

/**
 * Steady traffic of `perMinute` requests with a long clean history; requests between `startMs` and
 * `endMs` (relative to the incident's start) fail with `errorRatio`. Counts the events of the window
 * that ends `atMs` after the incident started.
 */
function incident(options: { perMinute: number; errorRatio: number; endMs?: number }, atMs: number): EventLookup {
  const end = options.endMs ?? Infinity;
  return (windowMs) => {
    const from = atMs - windowMs;
    const erroredMs = Math.max(0, Math.min(atMs, end) - Math.max(from, 0));
    const total = (options.perMinute * windowMs) / MINUTE;
    const bad = (options.perMinute * options.errorRatio * erroredMs) / MINUTE;
    return counts(total - bad, total);
  };
}

describe("burn rate of one window", () => {
  it.each([
    ["95% good of a 95% SLO burns at exactly 1", 950, 1000, 0.95, 0.05, 1],
    ["every request bad on a 95% SLO burns at 20, the most it can", 0, 100, 0.95, 1, 20],
    ["1% bad on a 99% availability SLO burns at 1", 990, 1000, 0.99, 0.01, 1],
    ["0.1% bad on a 99.9% SLO burns at 1", 999, 1000, 0.999, 0.001, 1],
    ["36% bad on a 95% SLO burns at 7.2", 640, 1000, 0.95, 0.36, 7.2],
    ["more good than total (bucket read after count) is no error", 1003, 1000, 0.95, 0, 0],
  ])("%s", (_name, good, total, objective, errorRatio, burnRate) => {
    const burn = computeBurnRate(counts(good, total), objective);
    expect(burn.state).toBe("measured");
    if (burn.state !== "measured") return;
    expect(burn.errorRatio).toBeCloseTo(errorRatio, 12);
    expect(burn.burnRate).toBeCloseTo(burnRate, 12);
  });

  it.each([
    ["a window without requests", counts(0, 0), "no-traffic"],
    ["a window the store has no series for", undefined, "missing"],
    ["a window with NaN counts (a 0/0 rate)", counts(NaN, NaN), "invalid"],
    ["a window with a negative total", counts(0, -5), "invalid"],
  ] as const)("%s is no data: no ratio, never burning, no NaN in JSON", (_name, input, reason) => {
    const burn = computeBurnRate(input, 0.95);
    expect(burn).toEqual({ state: "no-data", reason });
    expect(isBurningAt(burn, 0)).toBe(false);
    expect(JSON.stringify(burn)).not.toMatch(/NaN|null|Infinity/);
  });

  it("refuses an objective of 100%: it has no budget to burn", () => {
    expect(() => computeBurnRate(counts(1, 1), 1)).toThrow(RangeError);
  });

  it("gives the decimal budget of a decimal objective", () => {
    expect(errorBudgetOf(0.95)).toBe(0.05);
    expect(errorBudgetOf(0.999)).toBe(0.001);
  });
});

describe("a window pair", () => {
  const page1h = windowById("page-1h-5m");
  const page6h = windowById("page-6h-30m");
  const ticket1d = windowById("ticket-1d-2h");

  it.each([
    [
      "page fires when 2% of the 30-day budget burns within an hour",
      page1h,
      0.95,
      counts(280, 1000),
      counts(20, 100),
      "firing",
    ],
    ["page holds just under 2% of the budget in an hour", page1h, 0.95, counts(281, 1000), counts(20, 100), "ok"],
    [
      "page fires when 5% of the 30-day budget burns within six hours",
      page6h,
      0.99,
      counts(9400, 10_000),
      counts(900, 1000),
      "firing",
    ],
    [
      "ticket fires at 3× over a day and two hours (10% of the budget in a day)",
      ticket1d,
      0.95,
      counts(8500, 10_000),
      counts(850, 1000),
      "firing",
    ],
    [
      "a clean short window stops the page once the burn is over (reset)",
      page1h,
      0.95,
      counts(0, 1000),
      counts(100, 100),
      "ok",
    ],
    [
      "a short spike alone does not page before the hour has burnt 2%",
      page1h,
      0.95,
      counts(900, 1000),
      counts(0, 100),
      "ok",
    ],
    ["a quiet short window cannot confirm a burn", page1h, 0.95, counts(0, 1000), counts(0, 0), "ok"],
    ["a quiet hour is no data, not ok", page1h, 0.95, counts(0, 0), counts(0, 0), "no-data"],
  ] as const)("%s", (_name, window, objective, long, short, state) => {
    expect(evaluateWindowPair(window, objective, PERIOD, long, short).state).toBe(state);
  });
});

describe("all window pairs of one SLO", () => {
  it("names the page pair when every pair fires, so one notification goes out, not four", () => {
    const status = evaluateBurn({ objective: 0.95 }, PERIOD, () => counts(0, 500));
    expect(status.windows.map((window) => window.state)).toEqual(["firing", "firing", "firing", "firing"]);
    expect(status).toMatchObject({ state: "firing", firingWindowId: "page-1h-5m", severity: "page" });
  });

  it("asks the store once per distinct window length: 7 lengths for 4 pairs", () => {
    const asked: number[] = [];
    evaluateBurn({ objective: 0.95 }, PERIOD, (windowMs) => {
      asked.push(windowMs);
      return counts(1, 1);
    });
    expect(asked.sort((a, b) => a - b)).toEqual([5 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 6 * HOUR, DAY, 3 * DAY]);
  });

  it("reports no data, not burning and no NaN when there is no traffic at all", () => {
    const status = evaluateBurn({ objective: 0.95 }, PERIOD, () => counts(0, 0));
    expect(status).toMatchObject({ state: "no-data", firingWindowId: null, severity: null });
    expect(status.windows.every((window) => window.state === "no-data")).toBe(true);
    expect(JSON.stringify(status)).not.toMatch(/NaN|Infinity/);
  });

  it("opens only a ticket for a slow 3× burn", () => {
    const status = evaluateBurn({ objective: 0.99 }, PERIOD, () => counts(9700, 10_000));
    expect(status).toMatchObject({ state: "firing", firingWindowId: "ticket-1d-2h", severity: "ticket" });
    expect(pairState(status, "page-6h-30m")).toBe("ok");
  });
});

describe("incidents against a 95% latency SLO with 100 requests a minute", () => {
  it.each([
    ["a 100%-error incident (burn 20)", "page-1h-5m", "43.2 min", 1, 43.2 * MINUTE],
    ["a 10× burn (half the requests slow)", "page-6h-30m", "3.6 h", 0.5, 3.6 * HOUR],
  ])(
    "%s pages through %s within the workbook's detection time, %s",
    (_name, windowId, _when, errorRatio, detection) => {
      const burn = errorRatio / 0.05;
      expect(detectionTimeMs(windowById(windowId), PERIOD, burn)).toBeCloseTo(detection, 6);
      const before = evaluateBurn(
        { objective: 0.95 },
        PERIOD,
        incident({ perMinute: 100, errorRatio }, detection - MINUTE),
      );
      const at = evaluateBurn({ objective: 0.95 }, PERIOD, incident({ perMinute: 100, errorRatio }, detection));
      expect(before.severity).toBeNull();
      expect(at).toMatchObject({ state: "firing", firingWindowId: windowId, severity: "page" });
    },
  );

  it("a 10× burn never fires the one-hour page: 10 is below 14.4", () => {
    const status = evaluateBurn({ objective: 0.95 }, PERIOD, incident({ perMinute: 100, errorRatio: 0.5 }, 6 * HOUR));
    expect(pairState(status, "page-1h-5m")).toBe("ok");
  });

  it("the one-hour page resets 84 s after a two-hour outage ends, as the short window predicts", () => {
    const reset = resetTimeMs(windowById("page-1h-5m"), PERIOD, 20) as number;
    expect(reset).toBeCloseTo(84_000, 6);
    const outage = { perMinute: 100, errorRatio: 1, endMs: 2 * HOUR };
    const stillFiring = evaluateBurn({ objective: 0.95 }, PERIOD, incident(outage, 2 * HOUR + reset - 1000));
    const afterReset = evaluateBurn({ objective: 0.95 }, PERIOD, incident(outage, 2 * HOUR + reset + 1000));
    expect(pairState(stillFiring, "page-1h-5m")).toBe("firing");
    expect(pairState(afterReset, "page-1h-5m")).toBe("ok");
    expect(afterReset.firingWindowId).toBe("page-6h-30m");
  });
});

describe("counted events, not averaged ratios (Sloth's bias under uneven traffic)", () => {
  // One hour as twelve 5-minute slices, against a 99.9% SLO (page at 14.4 × 0.001 = 1.44% errors).
  const slices = (quiet: EventCounts, busy: EventCounts): EventCounts[] => [
    ...Array<EventCounts>(11).fill(quiet),
    busy,
  ];
  const summed = (parts: readonly EventCounts[]): EventCounts => ({
    good: parts.reduce((sum, part) => sum + part.good, 0),
    total: parts.reduce((sum, part) => sum + part.total, 0),
  });
  const averagedBurn = (parts: readonly EventCounts[]): number =>
    parts.reduce((sum, part) => sum + (part.total - part.good) / part.total, 0) / parts.length / 0.001;

  it.each([
    // 100 bad of 1,110: 100/1110 = 9.009% errors, burn 90.09; averaged (10% / 12) = 0.833%, burn 8.33.
    [
      "a 10% error burst at the traffic peak pages, which averaged ratios hide",
      slices(counts(10, 10), counts(900, 1000)),
      90.09009009,
      8.33333333,
      "firing",
    ],
    // 1 bad of 11,002: burn 0.0909; averaged (50% / 12) = 4.17%, burn 41.67.
    [
      "one failure among two quiet requests does not page, which averaged ratios would",
      slices(counts(1000, 1000), counts(1, 2)),
      0.09089256,
      41.66666667,
      "ok",
    ],
  ])("%s", (_name, parts, countedBurn, averaged, state) => {
    const hour = summed(parts);
    const burn = computeBurnRate(hour, 0.999);
    expect(burn.state === "measured" && burn.burnRate).toBeCloseTo(countedBurn, 6);
    expect(averagedBurn(parts)).toBeCloseTo(averaged, 6);
    const lastSlice = parts.at(-1) as EventCounts;
    expect(evaluateWindowPair(windowById("page-1h-5m"), 0.999, PERIOD, hour, lastSlice).state).toBe(state);
  });
});
