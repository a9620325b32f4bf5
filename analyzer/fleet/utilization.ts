/**
 * How busy the GPUs we pay for are, and what a token costs: time-weighted GPU utilization per GPU,
 * node, pool and model; the share of pool-hours at or above a utilization target; tokens/s per GPU;
 * joules per token; cost per million tokens. Pure functions over samples the stores return.
 *
 * Units: milliseconds since the Unix epoch for instants, 0..1 for ratios, seconds for durations in
 * results, joules, tokens, and the currency of the configured prices.
 */
import { z } from "zod";
import type { UtilizationBasis } from "./utilization-basis.js";
import {
  poolHoursFromBuckets,
  rollUpUtilization,
  type FleetUtilization,
  type PoolBuckets,
  type PoolHours,
  type TimeWindow,
} from "./utilization-rollup.js";
import { HOUR_MS } from "../../common/units.js";

export type { FleetUtilization, PoolHours, TimeWindow, UtilizationRow } from "./utilization-rollup.js";

/** One sample of a series. */
export interface TimedValue {
  readonly atMs: number;
  readonly value: number;
}

/**
 * Prometheus's default lookback delta: a sample older than this no longer describes the present
 * (https://prometheus.io/docs/prometheus/latest/querying/basics/#staleness).
 */
export const DEFAULT_STALENESS_MS = 5 * 60_000;

/** The utilization samples of one GPU, ascending by time, on one basis (utilization-basis.ts). */
export interface GpuUtilizationSeries {
  /** The metric family the samples are (`busy`: inferwatch_gpu_utilization_ratio, when absent). */
  readonly basis?: UtilizationBasis;
  readonly uuid: string;
  readonly node: string;
  readonly pool: string;
  readonly gpuModel: string;
  /** Models served on the GPU in the window; a GPU shared by two models counts toward both. */
  readonly models: readonly string[];
  readonly samples: readonly TimedValue[];
}

export interface UtilizationOptions {
  /** The longest span one sample may describe; longer gaps count as no data. Default 5 minutes. */
  readonly stalenessMs?: number;
}

/**
 * Calls `visit` for each stretch of the window a sample describes. NVML utilization is the share of
 * the sample period just ended, so a sample covers the time since the previous sample (at most
 * `stalenessMs` back); the first sample only marks a start. Weighting by the stretch's length keeps a
 * missed scrape from giving the samples around it extra weight, which a plain average of samples does.
 */
export function forEachCoveredStretch(
  samples: readonly TimedValue[],
  window: TimeWindow,
  stalenessMs: number,
  visit: (fromMs: number, toMs: number, value: number) => void,
): void {
  for (let i = 1; i < samples.length; i++) {
    const previous = samples[i - 1] as TimedValue;
    const sample = samples[i] as TimedValue;
    if (Number.isNaN(sample.value)) continue;
    const fromMs = Math.max(previous.atMs, sample.atMs - stalenessMs, window.startMs);
    const toMs = Math.min(sample.atMs, window.endMs);
    if (toMs > fromMs) visit(fromMs, toMs, sample.value);
  }
}

/**
 * Time-weighted utilization over `window` per GPU (by uuid), node, pool and model, and in total.
 * A group's mean is its busy GPU-seconds over its covered GPU-seconds, so a GPU with half the
 * window covered weighs half. Series of one uuid are merged (they should not overlap in time).
 * Give each series the last sample before the window too, or the window's first stretch is lost.
 */
export function fleetUtilization(
  series: readonly GpuUtilizationSeries[],
  window: TimeWindow,
  options: UtilizationOptions = {},
): FleetUtilization {
  const stalenessMs = options.stalenessMs ?? DEFAULT_STALENESS_MS;
  return rollUpUtilization(
    series.map((gpu) => {
      let covered = 0;
      let busy = 0;
      forEachCoveredStretch(gpu.samples, window, stalenessMs, (fromMs, toMs, value) => {
        const seconds = (toMs - fromMs) / 1000;
        covered += seconds;
        busy += seconds * value;
      });
      return { ...gpu, coveredSeconds: covered, busySeconds: busy };
    }),
  );
}

export interface PoolHoursOptions extends UtilizationOptions {
  /** The utilization a pool-hour must reach; default 0.6 (the per-pool cost objective of the SLO config). */
  readonly targetRatio?: number;
  /** Length of one bucket; default one hour. Buckets start at window.startMs. */
  readonly bucketMs?: number;
}

/**
 * The share of pool-hours whose mean utilization is at or above the target. Each bucket's mean is
 * busy ÷ covered GPU-seconds over every GPU of the pool, so idle GPUs pull the pool down.
 */
export function poolHoursAtTarget(
  series: readonly GpuUtilizationSeries[],
  window: TimeWindow,
  options: PoolHoursOptions = {},
): PoolHours[] {
  const stalenessMs = options.stalenessMs ?? DEFAULT_STALENESS_MS;
  const target = options.targetRatio ?? 0.6;
  const bucketMs = options.bucketMs ?? HOUR_MS;
  const buckets = Math.max(0, Math.ceil((window.endMs - window.startMs) / bucketMs));
  const pools = new Map<string, PoolBuckets>();
  for (const gpu of series) {
    let pool = pools.get(gpu.pool);
    if (pool === undefined)
      pools.set(
        gpu.pool,
        (pool = { covered: new Float64Array(buckets), busy: new Float64Array(buckets), bases: new Set() }),
      );
    const { covered, busy, bases } = pool;
    forEachCoveredStretch(gpu.samples, window, stalenessMs, (fromMs, toMs, value) => {
      bases.add(gpu.basis ?? "busy");
      for (let b = Math.floor((fromMs - window.startMs) / bucketMs); b < buckets; b++) {
        const bucketStart = window.startMs + b * bucketMs;
        if (bucketStart >= toMs) break;
        const seconds = (Math.min(toMs, bucketStart + bucketMs) - Math.max(fromMs, bucketStart)) / 1000;
        covered[b] = (covered[b] as number) + seconds;
        busy[b] = (busy[b] as number) + seconds * value;
      }
    });
  }
  return poolHoursFromBuckets(pools, buckets, target);
}

// ---------------------------------------------------------------------------------------------
// Counters: tokens and energy.

/** The increase of a counter over a window. */
export interface CounterIncrease {
  readonly increase: number;
  /** Times the counter went down (a restart of the process or driver), each read as a reset to 0. */
  readonly resets: number;
}

export interface IncreaseOptions {
  /** Extrapolate to the window's edges as Prometheus's increase() does; default true. */
  readonly extrapolate?: boolean;
}

/**
 * The increase of a counter over a window, the Prometheus way (promql/functions.go, extrapolatedRate):
 * samples in (startMs, endMs]; a drop between two samples is a reset to zero, so the later value
 * itself is the increase since the reset; then, unless disabled, the result is extrapolated towards
 * the edges: by the distance to an edge when it is under 1.1 average sample intervals, else by half
 * an interval, and never back past the point where the counter would have been zero.
 * Returns null with fewer than two samples in the window (no data, as Prometheus returns no value).
 */
export function counterIncrease(
  samples: readonly TimedValue[],
  window: TimeWindow,
  options: IncreaseOptions = {},
): CounterIncrease | null {
  const inside = samples.filter(
    (sample) => sample.atMs > window.startMs && sample.atMs <= window.endMs && !Number.isNaN(sample.value),
  );
  const first = inside[0];
  const last = inside[inside.length - 1];
  if (first === undefined || last === undefined || inside.length < 2) return null;
  let increase = last.value - first.value;
  let resets = 0;
  for (let i = 1; i < inside.length; i++) {
    const previous = (inside[i - 1] as TimedValue).value;
    if ((inside[i] as TimedValue).value < previous) {
      increase += previous;
      resets++;
    }
  }
  if (options.extrapolate === false) return { increase, resets };
  const sampledSeconds = (last.atMs - first.atMs) / 1000;
  if (sampledSeconds <= 0) return { increase, resets };
  const averageInterval = sampledSeconds / (inside.length - 1);
  const threshold = averageInterval * 1.1;
  let toStart = (first.atMs - window.startMs) / 1000;
  const toEnd = (window.endMs - last.atMs) / 1000;
  if (increase > 0 && first.value >= 0) toStart = Math.min(toStart, sampledSeconds * (first.value / increase));
  const extended =
    sampledSeconds +
    (toStart < threshold ? toStart : averageInterval / 2) +
    (toEnd < threshold ? toEnd : averageInterval / 2);
  return { increase: increase * (extended / sampledSeconds), resets };
}

/** The summed increase of several counter series; series without data are counted, not added. */
export function sumIncrease(
  series: readonly (readonly TimedValue[])[],
  window: TimeWindow,
  options: IncreaseOptions = {},
): {
  readonly increase: number;
  readonly resets: number;
  readonly seriesWithData: number;
  readonly seriesWithoutData: number;
} {
  let increase = 0;
  let resets = 0;
  let seriesWithData = 0;
  for (const samples of series) {
    const result = counterIncrease(samples, window, options);
    if (result === null) continue;
    increase += result.increase;
    resets += result.resets;
    seriesWithData++;
  }
  return { increase, resets, seriesWithData, seriesWithoutData: series.length - seriesWithData };
}

/**
 * Tokens per second per GPU: the tokens counters' summed increase over the window, divided by the
 * window's length and by the GPUs that served them. Null when there are no GPUs or no token data.
 */
export function tokensPerSecondPerGpu(
  tokens: readonly (readonly TimedValue[])[],
  gpus: number,
  window: TimeWindow,
  options: IncreaseOptions = {},
): number | null {
  const seconds = (window.endMs - window.startMs) / 1000;
  const total = sumIncrease(tokens, window, options);
  if (gpus <= 0 || seconds <= 0 || total.seriesWithData === 0) return null;
  return total.increase / seconds / gpus;
}

export interface JoulesPerToken {
  readonly joules: number;
  readonly tokens: number;
  /** joules ÷ tokens; null when no tokens were produced or no energy counter has data. */
  readonly joulesPerToken: number | null;
  /** Counter resets seen in either kind of series (process or driver restarts). */
  readonly resets: number;
}

/**
 * Energy per token over a window: the increase of the GPUs' energy counters
 * (`inferwatch_gpu_energy_joules_total`) over the increase of the tokens counters
 * (`inferwatch_llm_tokens_total`) of the same GPUs, both with reset handling.
 */
export function joulesPerToken(
  energy: readonly (readonly TimedValue[])[],
  tokens: readonly (readonly TimedValue[])[],
  window: TimeWindow,
  options: IncreaseOptions = {},
): JoulesPerToken {
  const joules = sumIncrease(energy, window, options);
  const produced = sumIncrease(tokens, window, options);
  const hasData = joules.seriesWithData > 0 && produced.increase > 0;
  return {
    joules: joules.increase,
    tokens: produced.increase,
    joulesPerToken: hasData ? joules.increase / produced.increase : null,
    resets: joules.resets + produced.resets,
  };
}

/** Configured price of one GPU-hour by GPU model (the NVML product name), in one currency. */
export const gpuHourPricesSchema = z.record(z.string().min(1), z.number().nonnegative());
export type GpuHourPrices = z.infer<typeof gpuHourPricesSchema>;

/** GPU-hours of a window by GPU model, for a set of GPUs that were there the whole window. */
export function gpuHoursByModel(
  gpus: readonly { readonly gpuModel: string }[],
  window: TimeWindow,
): Record<string, number> {
  const hours = (window.endMs - window.startMs) / HOUR_MS;
  const byModel: Record<string, number> = {};
  for (const gpu of gpus) byModel[gpu.gpuModel] = (byModel[gpu.gpuModel] ?? 0) + hours;
  return byModel;
}

export interface TokenCost {
  /** Σ GPU-hours × price, over the priced GPU models. */
  readonly cost: number;
  /** cost ÷ tokens × 10⁶; null when no tokens, or when some GPU model has no price (see unpricedGpuModels). */
  readonly costPerMillionTokens: number | null;
  readonly unpricedGpuModels: readonly string[];
}

/** Cost per million tokens from GPU-hours by GPU model and the configured GPU-hour prices. */
export function costPerMillionTokens(
  gpuHours: Readonly<Record<string, number>>,
  tokens: number,
  prices: GpuHourPrices,
): TokenCost {
  let cost = 0;
  const unpricedGpuModels: string[] = [];
  for (const [gpuModel, hours] of Object.entries(gpuHours)) {
    const price = prices[gpuModel];
    if (price === undefined) unpricedGpuModels.push(gpuModel);
    else cost += hours * price;
  }
  unpricedGpuModels.sort();
  const isPriced = unpricedGpuModels.length === 0 && tokens > 0;
  return { cost, costPerMillionTokens: isPriced ? (cost / tokens) * 1e6 : null, unpricedGpuModels };
}
