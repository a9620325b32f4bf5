import { describe, expect, it } from "vitest";
import {
  costPerMillionTokens,
  counterIncrease,
  fleetUtilization,
  gpuHourPricesSchema,
  gpuHoursByModel,
  joulesPerToken,
  poolHoursAtTarget,
  tokensPerSecondPerGpu,
  type GpuUtilizationSeries,
  type TimedValue,
} from "../../../analyzer/fleet/utilization.js";

const S = 1000;
const MIN = 60 * S;
const HOUR = 60 * MIN;

/** Samples from [seconds, value] pairs. */
const at = (...pairs: [number, number][]): TimedValue[] =>
  pairs.map(([seconds, value]) => ({ atMs: seconds * S, value }));

function series(uuid: string, samples: TimedValue[], extra: Partial<GpuUtilizationSeries> = {}): GpuUtilizationSeries {
  return {
    uuid,
    node: "node-a",
    pool: "latency",
    gpuModel: "NVIDIA H100 80GB HBM3",
    models: ["llama-2-7b-awq"],
    samples,
    ...extra,
  };
}

describe("time-weighted GPU utilization", () => {
  it.each([
    [
      "each sample covers the period since the previous one: 0.9 over (0, 60], 0.3 over (60, 120] is 0.6",
      at([0, 0.2], [60, 0.9], [120, 0.3]),
      { startMs: 0, endMs: 120 * S },
      0.6,
      120,
    ],
    [
      "a long gap weighs more than a short one: (0.9×10 + 0.3×60) / 70, not the plain mean 0.6",
      at([0, 0], [10, 0.9], [70, 0.3]),
      { startMs: 0, endMs: 70 * S },
      27 / 70,
      70,
    ],
    [
      "a gap longer than the 5-minute staleness counts only its last 5 minutes",
      at([0, 0], [600, 1]),
      { startMs: 0, endMs: 600 * S },
      1,
      300,
    ],
    [
      "a stretch crossing the window's start is cut at it: 30 of 60 s at 0.5, then 60 s at 1",
      at([60, 0], [120, 0.5], [180, 1]),
      { startMs: 90 * S, endMs: 180 * S },
      75 / 90,
      90,
    ],
    [
      "a stretch crossing the window's end is cut at it",
      at([0, 0], [60, 0.5], [120, 1]),
      { startMs: 0, endMs: 90 * S },
      2 / 3,
      90,
    ],
  ])("%s", (_name, samples, window, mean, coveredSeconds) => {
    const [gpu] = fleetUtilization([series("g1", samples)], window).gpus;
    expect(gpu?.meanRatio).toBeCloseTo(mean, 12);
    expect(gpu?.coveredGpuSeconds).toBeCloseTo(coveredSeconds, 9);
  });

  it("a GPU with one sample, or none in the window, has no data (null, never NaN)", () => {
    const result = fleetUtilization([series("g1", at([10, 0.5])), series("g2", at([0, 0.5], [10, 0.5]))], {
      startMs: 100 * S,
      endMs: 200 * S,
    });
    expect(result.gpus.map((g) => g.meanRatio)).toEqual([null, null]);
    expect(result.total.meanRatio).toBeNull();
  });

  it("nodes, pools and models weigh GPUs by covered time; a shared GPU counts toward each of its models", () => {
    const window = { startMs: 0, endMs: 120 * S };
    const result = fleetUtilization(
      [
        // g1: 0.6 over 120 s (72 busy GPU-seconds), serving the 7B and the 13B.
        series("g1", at([0, 0], [60, 0.9], [120, 0.3]), { models: ["llama-2-7b-awq", "llama-2-13b-awq"] }),
        // g2: 0.2 over its last 60 s only (12 busy GPU-seconds), serving the 7B.
        series("g2", at([60, 0], [120, 0.2])),
        // g3 on another node and pool: 1.0 over 120 s, serving the 13B.
        series("g3", at([0, 0], [120, 1]), { node: "node-b", pool: "batch", models: ["llama-2-13b-awq"] }),
      ],
      window,
    );
    const byKey = (rows: readonly { key: string; meanRatio: number | null }[]) =>
      Object.fromEntries(rows.map((r) => [r.key, r.meanRatio]));
    expect(byKey(result.nodes)["node-a"]).toBeCloseTo(84 / 180, 12);
    expect(byKey(result.pools)).toEqual({ batch: 1, latency: expect.closeTo(84 / 180, 12) });
    expect(byKey(result.models)["llama-2-7b-awq"]).toBeCloseTo(84 / 180, 12);
    expect(byKey(result.models)["llama-2-13b-awq"]).toBeCloseTo((72 + 120) / 240, 12);
    expect(result.total.meanRatio).toBeCloseTo((72 + 12 + 120) / 300, 12);
    expect(result.total.gpus).toBe(3);
  });
});

describe("share of pool-hours at the utilization target", () => {
  // One GPU sampled every 30 minutes (staleness set to match): hour 0 at 0.75, hour 1 at 0.5 then 0.625
  // (0.5625), hour 2 at 0.625.
  const staleness = { stalenessMs: 30 * MIN };
  const pool = series(
    "g1",
    at([0, 0], [1800, 0.75], [3600, 0.75], [5400, 0.5], [7200, 0.625], [9000, 0.625], [10800, 0.625]),
  );
  const window = { startMs: 0, endMs: 3 * HOUR };

  it.each([
    ["with the default 60% target two of three hours count", {}, 2],
    ["a pool-hour exactly at the target counts (≥)", { targetRatio: 0.625 }, 2],
    ["with a 50% target all three count", { targetRatio: 0.5 }, 3],
    ["with an 80% target none counts", { targetRatio: 0.8 }, 0],
  ])("%s", (_name, options, hoursAtTarget) => {
    expect(poolHoursAtTarget([pool], window, { ...staleness, ...options })).toEqual([
      { pool: "latency", hoursWithData: 3, hoursAtTarget, shareRatio: hoursAtTarget / 3, basis: "busy" },
    ]);
  });

  it("an hour without samples is not counted either way, and the pool's idle GPU pulls its hours down", () => {
    // Nothing between 3600 s and 9000 s: the stretch ending at 9000 s covers only its last 30 minutes.
    const gap = series("g1", at([0, 0], [1800, 0.75], [3600, 0.75], [9000, 0.75], [10800, 0.75]));
    expect(poolHoursAtTarget([gap], window, staleness)).toEqual([
      { pool: "latency", hoursWithData: 2, hoursAtTarget: 2, shareRatio: 1, basis: "busy" },
    ]);
    const idle = series("g2", at([0, 0], [1800, 0], [3600, 0], [5400, 0], [7200, 0], [9000, 0], [10800, 0]));
    expect(poolHoursAtTarget([gap, idle], window, staleness)[0]).toMatchObject({
      hoursWithData: 3,
      hoursAtTarget: 0,
      shareRatio: 0,
    });
  });
});

describe("counter increase, the Prometheus way", () => {
  // 100 → 150, then the process restarts and counts 30, then 80: 50 + 30 + 50.
  const restarted = at([10, 100], [20, 150], [30, 30], [40, 80]);

  it("a drop is a reset to zero: the value after it is all increase (130, one reset)", () => {
    expect(counterIncrease(restarted, { startMs: 0, endMs: 40 * S }, { extrapolate: false })).toEqual({
      increase: 130,
      resets: 1,
    });
  });

  it.each([
    ["edges within 1.1 sample intervals are extrapolated to: 130 × 50 / 30", restarted, 50, 130 * (50 / 30)],
    [
      "never back past the counter's zero point: 5 → 25 over 20 s extends 5 s back and 10 s on, 35",
      at([30, 5], [40, 15], [50, 25]),
      60,
      35,
    ],
    [
      "edges farther than 1.1 intervals get half an interval: 10 over 10 s, 0 s back (starts at 0), 5 s on, 15",
      at([100, 0], [110, 10]),
      300,
      15,
    ],
  ])("%s", (_name, samples, endSeconds, expected) => {
    expect(counterIncrease(samples, { startMs: 0, endMs: endSeconds * S })?.increase).toBeCloseTo(expected, 9);
  });

  it("samples at the window's start are outside it, at its end inside: (start, end]", () => {
    expect(
      counterIncrease(at([0, 0], [10, 10], [20, 30]), { startMs: 0, endMs: 20 * S }, { extrapolate: false })?.increase,
    ).toBe(20);
  });

  it("fewer than two samples in the window is no data", () => {
    expect(counterIncrease(at([10, 5]), { startMs: 0, endMs: 60 * S })).toBeNull();
    expect(counterIncrease([], { startMs: 0, endMs: 60 * S })).toBeNull();
  });
});

describe("efficiency", () => {
  const window = { startMs: 0, endMs: 60 * S };
  const noExtrapolation = { extrapolate: false } as const;
  // GPU 1: 5,000 → 23,000 J. GPU 2: 900 → 1,500, the driver reloads (200), then 2,600: 600 + 200 + 2,400.
  const energy = [at([10, 5000], [60, 23000]), at([10, 900], [30, 1500], [40, 200], [60, 2600])];
  const tokens = [at([10, 1000], [60, 11600])];

  it("joules per token is the energy counters' increase over the tokens counters': 21,200 J / 10,600 tokens = 2", () => {
    expect(joulesPerToken(energy, tokens, window, noExtrapolation)).toEqual({
      joules: 21200,
      tokens: 10600,
      joulesPerToken: 2,
      resets: 1,
    });
  });

  it("no tokens means no joules-per-token figure", () => {
    expect(joulesPerToken(energy, [at([10, 7], [60, 7])], window, noExtrapolation).joulesPerToken).toBeNull();
  });

  it("tokens per second per GPU: 10,600 tokens over 60 s on 2 GPUs", () => {
    expect(tokensPerSecondPerGpu(tokens, 2, window, noExtrapolation)).toBeCloseTo(10600 / 60 / 2, 12);
    expect(tokensPerSecondPerGpu([], 2, window)).toBeNull();
    expect(tokensPerSecondPerGpu(tokens, 0, window)).toBeNull();
  });

  it("cost per million tokens: 2 H100-hours at 2.50 and 4 L4-hours at 0.80 for 4.1 M tokens is 2.00", () => {
    const gpus = [
      ...Array.from({ length: 2 }, () => ({ gpuModel: "NVIDIA H100 80GB HBM3" })),
      ...Array.from({ length: 4 }, () => ({ gpuModel: "NVIDIA L4" })),
    ];
    const hours = gpuHoursByModel(gpus, { startMs: 0, endMs: HOUR });
    expect(hours).toEqual({ "NVIDIA H100 80GB HBM3": 2, "NVIDIA L4": 4 });
    const prices = gpuHourPricesSchema.parse({ "NVIDIA H100 80GB HBM3": 2.5, "NVIDIA L4": 0.8 });
    const result = costPerMillionTokens(hours, 4_100_000, prices);
    expect(result.cost).toBeCloseTo(8.2, 12);
    expect(result.costPerMillionTokens).toBeCloseTo(2, 12);
  });

  it("a GPU model without a price gives no figure and is named", () => {
    const result = costPerMillionTokens({ "NVIDIA H100 80GB HBM3": 2, "NVIDIA L4": 4 }, 4_100_000, {
      "NVIDIA H100 80GB HBM3": 2.5,
    });
    expect(result).toEqual({ cost: 5, costPerMillionTokens: null, unpricedGpuModels: ["NVIDIA L4"] });
  });

  it("a negative price is rejected by the price schema", () => {
    expect(gpuHourPricesSchema.safeParse({ "NVIDIA L4": -1 }).success).toBe(false);
  });
});
