/** The headroom date and the buy / free / hold rule on flat and growing peaks (no noise: σ = 0). */
import { describe, expect, it } from "vitest";
import { poolAction, poolHeadroom, planSummary } from "../../../analyzer/report/capacity-plan.js";
import { forecastDaily } from "../../../analyzer/report/forecast.js";
import type { DatedForecast, PoolSupply } from "../../../analyzer/report/report-model.js";
import type { FleetSnapshot } from "../../../analyzer/fleet/snapshot.js";
import { recommend } from "../../../analyzer/recommend/recommendations.js";
import { parseConsolidationConfig } from "../../../analyzer/recommend/constraints.js";
import { DEFAULT_SLO_CONFIG } from "../../../common/slo/spec.js";
import { analyzerConfigSchema } from "../../../common/config/schema.js";

const DAY = 86_400_000;
const D0 = Date.UTC(2026, 0, 5);
const day = (i: number) => new Date(D0 + i * DAY).toISOString().slice(0, 10);

/** A dated 91-day forecast of `values` (one a day from D0). */
function dated(values: readonly number[]): DatedForecast {
  const f = forecastDaily(values, { horizon: 91 });
  return {
    method: f.method,
    trendPerDay: f.trendPerDay,
    history: values.map((value, i) => ({ day: day(i), value, fitted: f.fitted[i] ?? null })),
    points: f.points.map((p) => ({ ...p, day: day(values.length - 1 + p.step) })),
  };
}

function pool(gpus: number): PoolSupply {
  return {
    pool: "p",
    gpus,
    byGpuModel: [{ gpuModel: "Kind X", gpus, memoryBytes: 0 }],
    memoryBytes: 0,
    meanUtilization: null,
    peakHourlyUtilization: null,
    utilizationBasis: "unknown",
  };
}

const snapshot: FleetSnapshot = {
  version: 1,
  takenAtMs: D0,
  slo: {},
  replicas: [],
  nodes: [
    {
      name: "n",
      pool: "p",
      labels: {},
      taints: [],
      gpus: [0, 1, 2, 3].map((index) => ({
        uuid: `GPU-${index}`,
        index,
        gpuModel: "Kind X",
        memoryTotalBytes: 80 * 1024 ** 3,
        memoryUsedBytes: 0,
        utilizationRatio: 0,
        nvlinkDomain: null,
        isHealthy: true,
      })),
    },
  ],
};
const recommendations = recommend(snapshot, null, analyzerConfigSchema.parse({}).recommend, D0);
const flat = (value: number) => Array.from({ length: 28 }, () => value);

/** The lines a pool is planned against: the consolidation config's compute ceiling and the SLO config's utilization floor. */
const ratios = {
  ceilingRatio: parseConsolidationConfig({}).computeCeilingRatio,
  floorRatio: DEFAULT_SLO_CONFIG.gpuUtilization.minRatio,
};

it("plans against the defaults: an 80 % compute ceiling and a 60 % utilization floor", () => {
  expect(ratios).toEqual({ ceilingRatio: 0.8, floorRatio: 0.6 });
});

describe("poolHeadroom", () => {
  it("dates the day a growing peak reaches GPUs × ceiling", () => {
    // 1.02 + 0.05 × day (2.37 on the last observed day, 27) reaches 4 × 0.8 = 3.2 on day 44 (3.17 on day 43, 3.22 on day 44).
    const headroom = poolHeadroom(pool(4), dated(Array.from({ length: 28 }, (_, i) => 1.02 + 0.05 * i)), ratios);
    expect(headroom).toMatchObject({
      state: "forecast",
      exhaustionDay: day(44),
      exhaustionEarliest: day(44),
      exhaustionLatest: day(44),
    });
    expect(headroom.capacityBusyGpus).toBeCloseTo(3.2, 9);
    expect(headroom.floorBusyGpus).toBeCloseTo(2.4, 9);
  });

  it("says already when the last observed peak is over the ceiling", () => {
    expect(poolHeadroom(pool(4), dated(flat(3.5)), ratios)).toMatchObject({ state: "already", exhaustionDay: day(27) });
  });

  it("has headroom for a pool at 65 % all day: over its utilization floor is not out of headroom", () => {
    expect(poolHeadroom(pool(4), dated(flat(0.65 * 4)), ratios)).toMatchObject({
      state: "not-within-horizon",
      exhaustionDay: null,
      exhaustionEarliest: null,
    });
  });

  it("says not within the horizon for a flat peak under capacity", () => {
    expect(poolHeadroom(pool(4), dated(flat(1)), ratios)).toMatchObject({
      state: "not-within-horizon",
      exhaustionDay: null,
      exhaustionEarliest: null,
    });
  });
});

describe("poolAction (4 GPUs: ceiling 3.2 busy GPUs, floor 2.4)", () => {
  it.each([
    [
      "buys what a peak over the ceiling needs: ⌈3.5 ÷ 0.8⌉ = 5 GPUs, 1 more",
      3.5,
      0,
      { action: "buy", gpus: 1, neededGpus: 5, gpuModel: "Kind X" },
      /already over its ceiling/,
    ],
    [
      "holds a pool at 65 % (2.6 busy GPUs): it meets its cost objective and has headroom",
      2.6,
      2,
      { action: "hold", gpus: 0, neededGpus: 4 },
      /between the 60 % utilization floor \(2\.4 busy GPUs\) and the ceiling/,
    ],
    [
      "holds a pool exactly at its floor, though ⌈2.4 ÷ 0.8⌉ = 3 leaves a surplus of 1 at the ceiling",
      2.4,
      2,
      { action: "hold", gpus: 0, neededGpus: 3 },
      /meets its cost objective/,
    ],
    [
      "frees an under-floor pool's surplus as far as the recommendations free GPUs now: ⌈1 ÷ 0.8⌉ = 2, 1 of 2",
      1,
      1,
      { action: "free", gpus: 1, neededGpus: 2 },
      /under the 60 % utilization floor \(2\.4 busy GPUs\): under-utilized, a surplus of 2; the consolidation and idle-eviction plan frees 1/,
    ],
    [
      "frees the whole surplus when the recommendations free more",
      1,
      3,
      { action: "free", gpus: 2, neededGpus: 2 },
      /so free 2/,
    ],
    [
      "holds an under-floor surplus no placement can free",
      1,
      0,
      { action: "hold", gpus: 0, neededGpus: 2 },
      /no GPU can be freed now without breaking a placement constraint/,
    ],
    [
      "holds a pool sized exactly for its peak at the ceiling: ⌈3.2 ÷ 0.8⌉ = 4",
      3.2,
      2,
      { action: "hold", gpus: 0, neededGpus: 4 },
      /the pool has 4; the peak stays between/,
    ],
  ])("%s", (_name, peak, reclaimable, expected, why) => {
    const supply = pool(4);
    const action = poolAction(
      poolHeadroom(supply, dated(flat(peak)), ratios),
      supply,
      reclaimable,
      snapshot,
      recommendations,
    );
    expect(action).toMatchObject(expected);
    expect(action.why).toMatch(why);
  });

  it("holds an under-floor pool that cannot shrink below the one GPU its peak needs", () => {
    const supply = pool(1);
    const action = poolAction(poolHeadroom(supply, dated(flat(0.2)), ratios), supply, 1, snapshot, recommendations);
    expect(action).toMatchObject({ action: "hold", gpus: 0, neededGpus: 1 });
    expect(action.why).toMatch(/cannot shrink below the 1 GPU\(s\) its peak needs/);
  });

  it("sums the actions up in one sentence", () => {
    expect(
      planSummary(
        [
          { pool: "a", action: "buy", gpus: 2, gpuModel: "H100", neededGpus: 10, why: "" },
          { pool: "b", action: "free", gpus: 1, gpuModel: "L4", neededGpus: 3, why: "" },
          { pool: "c", action: "hold", gpus: 0, gpuModel: "A100", neededGpus: 4, why: "" },
        ],
        91,
      ),
    ).toBe("Next 91 days: buy 2 × H100 for pool a; free 1 × L4 from pool b; hold pool c.");
  });
});
