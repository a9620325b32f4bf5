/**
 * Utilization rows from per-GPU busy and covered time: totals the store already summed
 * (`sum_over_time` and `count_over_time` by GPU, analyzer/fleet/evaluate.ts), or totals
 * fleetUtilization (utilization.ts) computed from raw samples; the rows' types live here.
 * A group's mean is its busy GPU-seconds over its covered GPU-seconds, so a GPU with half the window
 * covered weighs half; a GPU shared by two models counts toward both.
 */
import { figureBasis, type FigureBasis, type UtilizationBasis } from "./utilization-basis.js";

/** A half-open window [startMs, endMs). */
export interface TimeWindow {
  readonly startMs: number;
  readonly endMs: number;
}

/** Utilization of one GPU, node, pool or model over a window. */
export interface UtilizationRow {
  readonly key: string;
  /** Busy GPU-seconds ÷ covered GPU-seconds; null when no sample covers the window (no data). */
  readonly meanRatio: number | null;
  /** GPU-seconds of the window that samples describe. */
  readonly coveredGpuSeconds: number;
  /** Of those, the GPU-seconds in which a kernel ran. */
  readonly busyGpuSeconds: number;
  readonly gpus: number;
  /** What the figure was computed from: one basis, `mixed` when its GPUs used several, `unknown` without data. */
  readonly basis: FigureBasis;
}

export interface FleetUtilization {
  readonly total: UtilizationRow;
  readonly gpus: readonly UtilizationRow[];
  readonly nodes: readonly UtilizationRow[];
  readonly pools: readonly UtilizationRow[];
  readonly models: readonly UtilizationRow[];
}

/** How many of a pool's hours reached the utilization target. */
export interface PoolHours {
  readonly pool: string;
  /** Buckets with any covered time. */
  readonly hoursWithData: number;
  /** Of those, buckets whose time-weighted mean utilization across the pool's GPUs is ≥ the target. */
  readonly hoursAtTarget: number;
  /** hoursAtTarget ÷ hoursWithData; null when no bucket has data. */
  readonly shareRatio: number | null;
  /** What the pool's figures were computed from. */
  readonly basis: FigureBasis;
}

/** One GPU's totals over a window. */
export interface GpuBusyTotals {
  readonly uuid: string;
  readonly node: string;
  readonly pool: string;
  readonly models: readonly string[];
  /** The activity family the totals are of (`busy` when absent). */
  readonly basis?: UtilizationBasis;
  readonly coveredSeconds: number;
  readonly busySeconds: number;
}

interface Busy {
  covered: number;
  busy: number;
  gpus: number;
  /** Bases of the GPUs with covered time. */
  bases: Set<UtilizationBasis>;
}

function add(map: Map<string, Busy>, key: string, gpu: Busy): void {
  const entry = map.get(key);
  if (entry) {
    entry.covered += gpu.covered;
    entry.busy += gpu.busy;
    entry.gpus++;
    for (const basis of gpu.bases) entry.bases.add(basis);
  } else map.set(key, { covered: gpu.covered, busy: gpu.busy, gpus: 1, bases: new Set(gpu.bases) });
}

function toRow(key: string, entry: Busy): UtilizationRow {
  return {
    key,
    meanRatio: entry.covered > 0 ? entry.busy / entry.covered : null,
    coveredGpuSeconds: entry.covered,
    busyGpuSeconds: entry.busy,
    gpus: entry.gpus,
    basis: figureBasis(entry.bases),
  };
}

function rows(map: Map<string, Busy>): UtilizationRow[] {
  return [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([key, entry]) => toRow(key, entry));
}

/** Per GPU, node, pool and model, and in total; totals of one uuid are merged. */
export function rollUpUtilization(gpus: readonly GpuBusyTotals[]): FleetUtilization {
  const byGpu = new Map<string, Busy & { node: string; pool: string; models: Set<string> }>();
  for (const gpu of gpus) {
    const bases = gpu.coveredSeconds > 0 ? [gpu.basis ?? "busy"] : [];
    const entry = byGpu.get(gpu.uuid);
    if (entry) {
      entry.covered += gpu.coveredSeconds;
      entry.busy += gpu.busySeconds;
      for (const model of gpu.models) entry.models.add(model);
      for (const basis of bases) entry.bases.add(basis);
    } else
      byGpu.set(gpu.uuid, {
        covered: gpu.coveredSeconds,
        busy: gpu.busySeconds,
        gpus: 1,
        bases: new Set(bases),
        node: gpu.node,
        pool: gpu.pool,
        models: new Set(gpu.models),
      });
  }
  const nodes = new Map<string, Busy>();
  const pools = new Map<string, Busy>();
  const models = new Map<string, Busy>();
  const total: Busy = { covered: 0, busy: 0, gpus: 0, bases: new Set() };
  for (const gpu of byGpu.values()) {
    add(nodes, gpu.node, gpu);
    add(pools, gpu.pool, gpu);
    for (const model of gpu.models) add(models, model, gpu);
    total.covered += gpu.covered;
    total.busy += gpu.busy;
    total.gpus++;
    for (const basis of gpu.bases) total.bases.add(basis);
  }
  return { total: toRow("*", total), gpus: rows(byGpu), nodes: rows(nodes), pools: rows(pools), models: rows(models) };
}

/** One pool's busy and covered time in the bucket ending at `endMs` (any unit, the same for both). */
export interface PoolBucketTotals {
  readonly pool: string;
  readonly endMs: number;
  /** The activity family the totals are of (`busy` when absent). */
  readonly basis?: UtilizationBasis;
  readonly coveredSeconds: number;
  readonly busySeconds: number;
}

/**
 * The share of each pool's hours (buckets of `bucketMs` from window.startMs) whose mean utilization
 * across the pool's GPUs is at or above the target: idle GPUs pull the pool down. A bucket is
 * identified by its end; buckets without covered time have no data.
 */
export function poolHoursFromTotals(
  totals: readonly PoolBucketTotals[],
  window: TimeWindow,
  bucketMs: number,
  targetRatio: number,
): PoolHours[] {
  const buckets = Math.max(0, Math.ceil((window.endMs - window.startMs) / bucketMs));
  const pools = new Map<string, PoolBuckets>();
  for (const total of totals) {
    const b = Math.round((total.endMs - window.startMs) / bucketMs) - 1;
    if (b < 0 || b >= buckets) continue;
    let pool = pools.get(total.pool);
    if (pool === undefined)
      pools.set(
        total.pool,
        (pool = { covered: new Float64Array(buckets), busy: new Float64Array(buckets), bases: new Set() }),
      );
    if (total.coveredSeconds > 0) pool.bases.add(total.basis ?? "busy");
    pool.covered[b] = (pool.covered[b] as number) + total.coveredSeconds;
    pool.busy[b] = (pool.busy[b] as number) + total.busySeconds;
  }
  return poolHoursFromBuckets(pools, buckets, targetRatio);
}

/** One pool's covered and busy time per bucket, and the bases of the GPUs that covered it. */
export interface PoolBuckets {
  readonly covered: Float64Array;
  readonly busy: Float64Array;
  readonly bases: Set<UtilizationBasis>;
}

/**
 * Each pool's hours with data and at or above the target, sorted by pool: a bucket without covered
 * time has no data; one whose busy ÷ covered time reaches the target is at target.
 */
export function poolHoursFromBuckets(
  pools: ReadonlyMap<string, PoolBuckets>,
  buckets: number,
  targetRatio: number,
): PoolHours[] {
  return [...pools]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([pool, { covered, busy, bases }]) => {
      let hoursWithData = 0;
      let hoursAtTarget = 0;
      for (let b = 0; b < buckets; b++) {
        if ((covered[b] as number) <= 0) continue;
        hoursWithData++;
        if ((busy[b] as number) / (covered[b] as number) >= targetRatio) hoursAtTarget++;
      }
      return {
        pool,
        hoursWithData,
        hoursAtTarget,
        shareRatio: hoursWithData > 0 ? hoursAtTarget / hoursWithData : null,
        basis: figureBasis(bases),
      };
    });
}
