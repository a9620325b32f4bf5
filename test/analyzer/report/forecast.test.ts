import { describe, expect, it } from "vitest";
import { firstCrossing, forecastDaily } from "../../../analyzer/report/forecast.js";
import { createRandom, normal } from "../../../cli/simulate/random.js";

const WEEK = [6, -3, 0, 2, -5, 1, -1];

/** A daily series: level + trend × day + the weekly offsets, plus seeded normal noise of `sigma`. */
function series(days: number, options: { level: number; trend: number; sigma?: number; seed?: number }): number[] {
  const random = createRandom(options.seed ?? 1);
  return Array.from(
    { length: days },
    (_, t) => options.level + options.trend * t + (WEEK[t % 7] as number) + (options.sigma ?? 0) * normal(random),
  );
}

describe("forecastDaily", () => {
  it("continues an exact trend and weekly season without error", () => {
    const y = series(35, { level: 100, trend: 2 });
    const forecast = forecastDaily(y, { horizon: 21 });
    expect(forecast.method.kind).toBe("holt-winters");
    expect(forecast.trendPerDay).toBeCloseTo(2, 6);
    for (const point of forecast.points) {
      const t = 34 + point.step;
      expect(point.value).toBeCloseTo(100 + 2 * t + (WEEK[t % 7] as number), 6);
      expect(point.upper - point.lower).toBeLessThan(1e-6);
    }
  });

  it("recovers trend and season through noise, and its 95 % interval covers the truth", () => {
    const y = series(60, { level: 500, trend: 3, sigma: 1.5, seed: 7 });
    const forecast = forecastDaily(y, { horizon: 28 });
    expect(forecast.trendPerDay).toBeGreaterThan(2.7);
    expect(forecast.trendPerDay).toBeLessThan(3.3);
    expect(forecast.method.residualSigma).toBeGreaterThan(0.8);
    expect(forecast.method.residualSigma).toBeLessThan(3);
    let covered = 0;
    for (const point of forecast.points) {
      const t = 59 + point.step;
      const truth = 500 + 3 * t + (WEEK[t % 7] as number);
      expect(Math.abs(point.value - truth)).toBeLessThan(6);
      if (truth >= point.lower && truth <= point.upper) covered++;
    }
    expect(covered).toBeGreaterThanOrEqual(26);
    // The interval widens with the horizon.
    const width = (i: number) => (forecast.points[i]?.upper ?? 0) - (forecast.points[i]?.lower ?? 0);
    expect(width(27)).toBeGreaterThan(width(0));
  });

  it("keeps the weekly shape: the forecast's highest weekday is the series' highest", () => {
    const y = series(28, { level: 50, trend: 0, sigma: 0.3, seed: 3 });
    const forecast = forecastDaily(y, { horizon: 7 });
    const peak = forecast.points.reduce((best, p) => (p.value > best.value ? p : best));
    expect((27 + peak.step) % 7).toBe(0);
    const trough = forecast.points.reduce((best, p) => (p.value < best.value ? p : best));
    expect((27 + trough.step) % 7).toBe(4);
  });

  it("falls back to a least-squares line with fewer than two seasons", () => {
    const y = Array.from({ length: 10 }, (_, t) => 10 + 0.5 * t);
    const forecast = forecastDaily(y, { horizon: 4 });
    expect(forecast.method.kind).toBe("linear");
    expect(forecast.points.map((p) => p.value)).toEqual([15, 15.5, 16, 16.5].map((v) => expect.closeTo(v, 9)));
  });

  it("carries the last value forward with fewer than 3 days", () => {
    expect(forecastDaily([4, 5], { horizon: 2 }).points).toEqual([
      { step: 1, value: 5, lower: 5, upper: 5 },
      { step: 2, value: 5, lower: 5, upper: 5 },
    ]);
  });

  it("refuses a series with a missing day", () => {
    expect(() => forecastDaily([1, Number.NaN, 3], { horizon: 1 })).toThrow(/day 1 is not a finite number/);
  });
});

describe("firstCrossing", () => {
  it("finds the day a rising forecast reaches the threshold, and the interval around it", () => {
    const y = series(42, { level: 20, trend: 1, sigma: 0.5, seed: 11 });
    const forecast = forecastDaily(y, { horizon: 90 });
    // Truth reaches 100 (ignoring the ±6 season) around day 80, i.e. 39 days after the last observation (day 41).
    const crossing = firstCrossing(forecast.points, 100);
    expect(crossing.step).not.toBeNull();
    expect(crossing.step as number).toBeGreaterThan(30);
    expect(crossing.step as number).toBeLessThan(48);
    expect(crossing.earliestStep as number).toBeLessThanOrEqual(crossing.step as number);
    expect(crossing.latestStep ?? Infinity).toBeGreaterThanOrEqual(crossing.step as number);
  });

  it("says never when the forecast stays below the threshold", () => {
    const forecast = forecastDaily(series(28, { level: 10, trend: 0 }), { horizon: 30 });
    expect(firstCrossing(forecast.points, 100)).toEqual({ step: null, earliestStep: null, latestStep: null });
  });
});

describe("the prediction interval", () => {
  it("covers about 95 % of future values of noisy series with trend and season (200 seeded series, 7 days ahead)", () => {
    let covered = 0;
    let total = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const all = series(49, { level: 200, trend: 1, sigma: 2, seed });
      const forecast = forecastDaily(all.slice(0, 42), { horizon: 7 });
      forecast.points.forEach((point, i) => {
        total++;
        const actual = all[42 + i] as number;
        if (actual >= point.lower && actual <= point.upper) covered++;
      });
    }
    expect(covered / total).toBeGreaterThan(0.88);
    expect(covered / total).toBeLessThan(0.995);
  });
});
