import { describe, expect, it } from "vitest";
import {
  dominantPhase,
  tailMeanSeconds,
  type CumulativeBucket,
  type PhaseSum,
} from "../../../analyzer/slo/dominant-phase.js";

/** Sums over `count` slow requests with the given mean seconds per phase. */
function slow(count: number, means: { queue?: number; prefill?: number; decode?: number }) {
  const sum = (mean: number | undefined): PhaseSum | undefined =>
    mean === undefined ? undefined : { sumSeconds: mean * count, count };
  const phases: { queue?: PhaseSum; prefill?: PhaseSum; decode?: PhaseSum } = {};
  for (const phase of ["queue", "prefill", "decode"] as const) {
    const value = sum(means[phase]);
    if (value) phases[phase] = value;
  }
  return { kind: "slow-requests" as const, phases };
}

/** A cumulative histogram from [upper bound, observations in the bucket] pairs. */
function histogram(...buckets: readonly (readonly [number, number])[]): CumulativeBucket[] {
  let cumulative = 0;
  return buckets.map(([le, count]) => ({ le, count: (cumulative += count) }));
}

describe("dominant phase of the slow requests", () => {
  it.each([
    [
      "queue-bound slow requests call for scaling out",
      slow(10, { queue: 3, prefill: 0.5, decode: 1.5 }),
      "queue",
      "scale out or rebalance",
      { queue: 0.6, prefill: 0.1, decode: 0.3 },
    ],
    [
      "prefill-bound slow requests call for prefix caching",
      slow(40, { queue: 0.1, prefill: 1.5, decode: 0.9 }),
      "prefill",
      "prefix caching, chunked prefill, shorter prompts",
      { queue: 0.04, prefill: 0.6, decode: 0.36 },
    ],
    [
      "decode-bound slow requests call for speculative decoding",
      slow(7, { queue: 0.2, prefill: 0.3, decode: 4.5 }),
      "decode",
      "speculative decoding, quantization, smaller batches",
      { queue: 0.04, prefill: 0.06, decode: 0.9 },
    ],
  ])("%s", (_name, evidence, phase, lever, shares) => {
    const result = dominantPhase({ evidence });
    expect(result).toMatchObject({
      state: "diagnosed",
      phase,
      bound: `${phase}-bound`,
      lever,
      confidence: "high",
      basis: "slow-requests",
    });
    if (result.state !== "diagnosed") return;
    for (const [key, share] of Object.entries(shares))
      expect(result.shares[key as keyof typeof shares]).toBeCloseTo(share, 12);
  });

  it.each([
    [
      "a queue share short of a majority is confirmed by 3 waiting requests",
      slow(10, { queue: 1, prefill: 0.6, decode: 0.9 }),
      3,
      "high",
    ],
    [
      "a queue share short of a majority stays a weak diagnosis without queue depth",
      slow(10, { queue: 1, prefill: 0.6, decode: 0.9 }),
      undefined,
      "low",
    ],
    ["an empty queue contradicts a queue-bound majority", slow(10, { queue: 3, prefill: 0.5, decode: 1.5 }), 0, "low"],
  ])("%s", (_name, evidence, queueDepth, confidence) => {
    const result = dominantPhase({ evidence, ...(queueDepth === undefined ? {} : { queueDepth }) });
    expect(result).toMatchObject({ state: "diagnosed", phase: "queue", confidence, queueDepth: queueDepth ?? null });
  });

  it("diagnoses from the phases a runtime reports and leaves the others null", () => {
    const result = dominantPhase({ evidence: slow(5, { prefill: 0.2, decode: 0.6 }) });
    expect(result).toMatchObject({
      state: "diagnosed",
      phase: "decode",
      shares: { queue: null, prefill: expect.closeTo(0.25, 12), decode: expect.closeTo(0.75, 12) },
      meanSeconds: { queue: null },
    });
  });

  it.each([
    [
      "no slow requests",
      { kind: "slow-requests" as const, phases: { queue: { sumSeconds: 0, count: 0 } } },
      "no-slow-requests",
    ],
    ["slow requests whose phases all took no time", slow(3, { queue: 0, prefill: 0, decode: 0 }), "no-phase-data"],
    [
      "a histogram window without slow requests",
      { kind: "histograms" as const, slowShare: 0, phases: { queue: histogram([1, 10], [Infinity, 0]) } },
      "no-slow-requests",
    ],
  ])("is no data with %s", (_name, evidence, reason) => {
    expect(dominantPhase({ evidence })).toEqual({ state: "no-data", reason });
  });
});

describe("estimate from phase histograms", () => {
  // 100 requests, 10% slow. Queue: 90 under 0.1 s, 10 between 2 and 4 s. Prefill: all in 0.1–0.25 s.
  // Decode: all in 0.5–1 s. Over all requests decode has the largest mean (0.75 s against the queue's
  // 0.345 s), but the slowest tenth of each phase has means 3 s (queue), 0.2425 s and 0.975 s.
  const buckets = [0.1, 0.25, 0.5, 1, 2, 4, Infinity];
  const spread = (counts: Record<number, number>): CumulativeBucket[] =>
    histogram(...buckets.map((le) => [le, counts[le] ?? 0] as const));
  const phases = { queue: spread({ 0.1: 90, 4: 10 }), prefill: spread({ 0.25: 100 }), decode: spread({ 1: 100 }) };

  it("finds the queue behind the slowest tenth, where all-request means would blame decode", () => {
    const result = dominantPhase({ evidence: { kind: "histograms", slowShare: 0.1, phases } });
    expect(result).toMatchObject({
      state: "diagnosed",
      phase: "queue",
      basis: "histogram-estimate",
      confidence: "high",
    });
    if (result.state !== "diagnosed") return;
    expect(result.meanSeconds.queue).toBeCloseTo(3, 12);
    expect(result.meanSeconds.prefill).toBeCloseTo(0.2425, 12);
    expect(result.meanSeconds.decode).toBeCloseTo(0.975, 12);
    expect(result.shares.queue).toBeCloseTo(3 / 4.2175, 12);
  });

  it.each([
    // 50 in (1, 2] and 50 in (0, 1]: the top 60 are the 50 of (1, 2] (mean 1.5) and the top 10 of (0, 1] (mean 0.9).
    ["spans two buckets", histogram([1, 50], [2, 50], [Infinity, 0]), 0.6, 84 / 60],
    ["takes the top part of one bucket", histogram([1, 0], [2, 100], [Infinity, 0]), 0.25, 1.875],
    ["puts +Inf observations at the highest finite bound", histogram([1, 90], [2, 0], [Infinity, 10]), 0.1, 2],
    [
      "reads unsorted buckets",
      [
        { le: Infinity, count: 100 },
        { le: 2, count: 100 },
        { le: 1, count: 0 },
      ],
      0.25,
      1.875,
    ],
  ])("the tail mean %s", (_name, input, share, expected) => {
    expect(tailMeanSeconds(input, share)).toBeCloseTo(expected, 12);
  });

  it("has no tail mean without observations", () => {
    expect(tailMeanSeconds(histogram([1, 0], [Infinity, 0]), 0.1)).toBeUndefined();
  });
});
