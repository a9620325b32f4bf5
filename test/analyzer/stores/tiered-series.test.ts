import { describe, expect, it } from "vitest";
import { PointRing, Tier, TieredSeries, tierCapacity, DEFAULT_TIERS } from "../../../analyzer/stores/tiered-series.js";

function tierPoints(tier: Tier): [number, number][] {
  return Array.from({ length: tier.size }, (_, i) => [tier.timeAt(i), tier.valueAt(i)]);
}

describe("PointRing", () => {
  it("grows up to its capacity, then overwrites the oldest point and reports it", () => {
    const ring = new PointRing(100);
    const evicted: number[] = [];
    for (let t = 1; t <= 130; t++) {
      const gone = ring.push(t, t * 10);
      if (gone !== undefined) evicted.push(gone);
    }
    expect(ring.length).toBe(100);
    expect(evicted).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect([ring.timeAt(0), ring.valueAt(0), ring.timeAt(99), ring.valueAt(99)]).toEqual([31, 310, 130, 1300]);
  });

  it.each([
    [0, 0],
    [31, 0],
    [31.5, 1],
    [130, 99],
    [131, 100],
  ])("finds the first point at or after %d across the wrap (index %d)", (atMs, index) => {
    const ring = new PointRing(100);
    for (let t = 1; t <= 130; t++) ring.push(t, t);
    expect(ring.lowerBound(atMs)).toBe(index);
  });
});

describe("Tier", () => {
  it("keeps the last sample at or before each step boundary, with its own time and value", () => {
    const tier = new Tier({ stepMs: 10, retentionMs: 1000 });
    for (const [t, v] of [
      [1, 1],
      [4, 2],
      [10, 3],
      [11, 4],
      [19, 5],
      [35, 6],
      [41, 7],
    ] as const)
      tier.add(t, v);
    // Boundary 10: the sample at 10 (at or before it); 20: the one at 19; 30: none newer than 19,
    // so nothing is added; 40: the one at 35; 41 waits as the pending point and is answered too.
    expect(tierPoints(tier)).toEqual([
      [10, 3],
      [19, 5],
      [35, 6],
      [41, 7],
    ]);
  });

  it("holds at least its retention back from the newest sample once full, and says from when it holds everything", () => {
    const spec = { stepMs: 10, retentionMs: 100 };
    const tier = new Tier(spec);
    for (let t = 5; t <= 1005; t += 5) tier.add(t, t);
    expect(tier.ring.length).toBe(tierCapacity(spec));
    expect(tier.timeAt(0)).toBeLessThanOrEqual(1005 - 100);
    expect(tier.covers(1005 - 100)).toBe(true);
    expect(tier.droppedThroughMs).toBe(tier.timeAt(0) - 10);
    expect(tier.covers(tier.droppedThroughMs)).toBe(false);
    expect(tier.covers(tier.droppedThroughMs + 1)).toBe(true);
  });
});

describe("TieredSeries", () => {
  it("adds every sample to each tier whose boundary it reaches, and refuses samples that are not newer", () => {
    const series = new TieredSeries("c_total", {}, [
      { stepMs: 1, retentionMs: 5 },
      { stepMs: 4, retentionMs: 100 },
    ]);
    for (let t = 1; t <= 20; t++) expect(series.append(t, t)).toBe(true);
    expect(series.append(20, 99)).toBe(false);
    expect(series.append(3, 99)).toBe(false);
    expect(tierPoints(series.tiers[0] as Tier).map(([t]) => t)).toEqual([14, 15, 16, 17, 18, 19, 20]);
    expect(tierPoints(series.tiers[1] as Tier).map(([t]) => t)).toEqual([4, 8, 12, 16, 20]);
  });

  it("answers a window from the finest tier that still holds all of it", () => {
    const series = new TieredSeries("c_total", {}, [
      { stepMs: 1, retentionMs: 5 },
      { stepMs: 4, retentionMs: 100 },
    ]);
    for (let t = 1; t <= 20; t++) series.append(t, t);
    expect(series.samplesBetween(15, 20).map((s) => s.atMs)).toEqual([15, 16, 17, 18, 19, 20]);
    expect(series.samplesBetween(10, 20).map((s) => s.atMs)).toEqual([12, 16, 20]);
    expect(series.samplesBetween(10, 20, 10).map((s) => s.atMs)).toEqual([2, 6, 10]);
  });

  it("default tiers: 10 s for 6 h, 1 min for 3 d, 5 min for 30 d", () => {
    expect(DEFAULT_TIERS.map((t) => [t.stepMs / 1000, t.retentionMs / 3_600_000])).toEqual([
      [10, 6],
      [60, 72],
      [300, 720],
    ]);
  });
});
