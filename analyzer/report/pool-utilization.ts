import type { PoolOf } from "../fleet/assemble.js";
import {
  BASIS_METRIC,
  basisFamilies,
  figureBasis,
  pickByBasis,
  type FigureBasis,
  type UtilizationBasis,
} from "../fleet/utilization-basis.js";
import type { FleetSnapshot } from "../fleet/snapshot.js";
import type { MetricStore } from "../stores/metric-store.js";
import type { PoolSupply, UtilizationHeatmap } from "./report-model.js";
import { DAY_MS, HOUR_MS } from "../../common/units.js";
import { stepIndex, type TimeGrid } from "./time-grid.js";

/** Utilization of the pools over the window. */
export interface PoolUtilization {
  readonly heatmap: UtilizationHeatmap;
  /** Per pool, per day of the grid: the highest hourly mean of busy GPUs (Σ utilization over the pool's GPUs); null for a day without samples. */
  readonly dailyPeakBusyGpus: ReadonlyMap<string, readonly (number | null)[]>;
  readonly meanUtilization: ReadonlyMap<string, number>;
  readonly peakHourlyUtilization: ReadonlyMap<string, number>;
  /** Each GPU seen: its pool, model (the series' `gpu_model`) and the time of its last sample. */
  readonly gpus: ReadonlyMap<string, { readonly pool: string; readonly gpuModel: string; readonly lastAtMs: number }>;
  /** What each pool's figures were computed from, and the whole report's. */
  readonly poolBases: ReadonlyMap<string, FigureBasis>;
  readonly basis: FigureBasis;
}

interface PoolHours {
  /** Per hour since the first day: Σ utilization over GPU-samples, GPU-samples, steps with samples. */
  readonly busy: Float64Array;
  readonly gpuSamples: Float64Array;
  readonly steps: Float64Array;
}

/**
 * Reads each GPU's utilization on `basis` on the grid (one range query per family: the basis, then
 * busy time for GPUs without it; utilization-basis.ts) and folds it per pool:
 * a GPU counts once per step even when its series changed labels (a new holder starts a new
 * series); each GPU is in the pool of its node. Hourly means per pool give the heatmap (mean over
 * every day of each UTC hour), the daily peak of busy GPUs (what the forecast extrapolates) and
 * the window's mean. Steps are equally long, so plain means over steps are time-weighted.
 */
export async function computePoolUtilization(
  store: MetricStore,
  grid: TimeGrid,
  poolOf: PoolOf,
  basis: UtilizationBasis = "busy",
): Promise<PoolUtilization> {
  const families = basisFamilies(basis);
  const answers = await Promise.all(
    families.map((family) =>
      store.range({ metric: BASIS_METRIC[family], startMs: grid.startMs, endMs: grid.endMs, stepMs: grid.stepMs }),
    ),
  );
  const byGpu = new Map<
    string,
    { pool: string; gpuModel: string; lastAtMs: number; values: Float64Array; basis: UtilizationBasis }
  >();
  for (const { basis: used, value: s } of pickByBasis(
    families.map((family, i) => ({ basis: family, values: answers[i] ?? [] })),
  )) {
    const uuid = s.labels["uuid"] ?? `${s.labels["node"] ?? ""}/${s.labels["gpu"] ?? ""}`;
    let gpu = byGpu.get(uuid);
    if (!gpu)
      byGpu.set(
        uuid,
        (gpu = {
          pool: poolOf(s.labels["node"] ?? ""),
          gpuModel: s.labels["gpu_model"] ?? "unknown",
          lastAtMs: -Infinity,
          values: new Float64Array(grid.count).fill(Number.NaN),
          basis: used,
        }),
      );
    gpu.lastAtMs = Math.max(gpu.lastAtMs, s.samples[s.samples.length - 1]?.atMs ?? -Infinity);
    for (const sample of s.samples) {
      const i = stepIndex(grid, sample.atMs);
      if (i >= 0 && i < grid.count && Number.isFinite(sample.value))
        gpu.values[i] = Math.min(1, Math.max(0, sample.value));
    }
  }
  const hourCount = grid.days.length * 24;
  const pools = new Map<string, PoolHours>();
  for (const gpu of byGpu.values()) {
    let hours = pools.get(gpu.pool);
    if (!hours)
      pools.set(
        gpu.pool,
        (hours = {
          busy: new Float64Array(hourCount),
          gpuSamples: new Float64Array(hourCount),
          steps: new Float64Array(hourCount),
        }),
      );
    for (let i = 0; i < grid.count; i++) {
      const value = gpu.values[i] as number;
      if (Number.isNaN(value)) continue;
      const hour = Math.floor((grid.startMs + i * grid.stepMs - grid.firstDayMs) / HOUR_MS);
      hours.busy[hour] = (hours.busy[hour] as number) + value;
      hours.gpuSamples[hour] = (hours.gpuSamples[hour] as number) + 1;
    }
  }
  // Steps with at least one sample in the pool, per hour (the divisor of the hourly mean of busy GPUs).
  for (const [pool, hours] of pools) {
    const members = [...byGpu.values()].filter((gpu) => gpu.pool === pool);
    for (let i = 0; i < grid.count; i++) {
      if (!members.some((gpu) => !Number.isNaN(gpu.values[i]))) continue;
      const hour = Math.floor((grid.startMs + i * grid.stepMs - grid.firstDayMs) / HOUR_MS);
      hours.steps[hour] = (hours.steps[hour] as number) + 1;
    }
  }

  const names = [...pools.keys()].sort();
  const dailyPeakBusyGpus = new Map<string, (number | null)[]>();
  const meanUtilization = new Map<string, number>();
  const peakHourlyUtilization = new Map<string, number>();
  const values = names.map((pool) => {
    const hours = pools.get(pool) as PoolHours;
    const byHourOfDay = Array.from({ length: 24 }, () => ({ busy: 0, samples: 0 }));
    const daily: (number | null)[] = grid.days.map(() => null);
    let busy = 0;
    let samples = 0;
    let peakUtil = 0;
    for (let h = 0; h < hourCount; h++) {
      const steps = hours.steps[h] as number;
      if (steps === 0) continue;
      const hourBusy = hours.busy[h] as number;
      const hourSamples = hours.gpuSamples[h] as number;
      const cell = byHourOfDay[h % 24] as { busy: number; samples: number };
      cell.busy += hourBusy;
      cell.samples += hourSamples;
      busy += hourBusy;
      samples += hourSamples;
      peakUtil = Math.max(peakUtil, hourBusy / hourSamples);
      const day = Math.floor((h * HOUR_MS) / DAY_MS);
      daily[day] = Math.max(daily[day] ?? 0, hourBusy / steps);
    }
    dailyPeakBusyGpus.set(pool, daily);
    if (samples > 0) {
      meanUtilization.set(pool, busy / samples);
      peakHourlyUtilization.set(pool, peakUtil);
    }
    return byHourOfDay.map((cell) => (cell.samples === 0 ? null : cell.busy / cell.samples));
  });
  const gpus = new Map(
    [...byGpu].map(([uuid, g]) => [uuid, { pool: g.pool, gpuModel: g.gpuModel, lastAtMs: g.lastAtMs }] as const),
  );
  const poolBases = new Map(
    names.map(
      (pool) => [pool, figureBasis([...byGpu.values()].filter((g) => g.pool === pool).map((g) => g.basis))] as const,
    ),
  );
  return {
    heatmap: { pools: names, hours: Array.from({ length: 24 }, (_, h) => h), values },
    dailyPeakBusyGpus,
    meanUtilization,
    peakHourlyUtilization,
    gpus,
    poolBases,
    basis: figureBasis([...byGpu.values()].map((g) => g.basis)),
  };
}

/**
 * GPUs per pool by kind, from the snapshot (healthy or not: supply is what is installed), with the
 * window's utilization. A store without GPU identity series (an InfluxDB fed by the agent's sink)
 * gives an empty snapshot: the GPUs with utilization samples in the window's last day stand in,
 * without their memory.
 */
export function poolSupply(snapshot: FleetSnapshot, utilization: PoolUtilization, endMs: number): PoolSupply[] {
  const pools = new Map<string, Map<string, { gpus: number; memoryBytes: number }>>();
  if (snapshot.nodes.length === 0) {
    for (const gpu of utilization.gpus.values()) {
      if (gpu.lastAtMs < endMs - DAY_MS) continue;
      let kinds = pools.get(gpu.pool);
      if (!kinds) pools.set(gpu.pool, (kinds = new Map<string, { gpus: number; memoryBytes: number }>()));
      kinds.set(gpu.gpuModel, { gpus: (kinds.get(gpu.gpuModel)?.gpus ?? 0) + 1, memoryBytes: 0 });
    }
  }
  for (const node of snapshot.nodes) {
    let kinds = pools.get(node.pool);
    if (!kinds) pools.set(node.pool, (kinds = new Map<string, { gpus: number; memoryBytes: number }>()));
    for (const gpu of node.gpus) {
      const kind = kinds.get(gpu.gpuModel) ?? { gpus: 0, memoryBytes: 0 };
      kinds.set(gpu.gpuModel, { gpus: kind.gpus + 1, memoryBytes: kind.memoryBytes + gpu.memoryTotalBytes });
    }
  }
  for (const pool of utilization.heatmap.pools) if (!pools.has(pool)) pools.set(pool, new Map());
  return [...pools.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([pool, kinds]) => {
      const byGpuModel = [...kinds.entries()]
        .map(([gpuModel, k]) => ({ gpuModel, ...k }))
        .sort((a, b) => b.gpus - a.gpus || a.gpuModel.localeCompare(b.gpuModel));
      return {
        pool,
        gpus: byGpuModel.reduce((sum, k) => sum + k.gpus, 0),
        byGpuModel,
        memoryBytes: byGpuModel.reduce((sum, k) => sum + k.memoryBytes, 0),
        meanUtilization: utilization.meanUtilization.get(pool) ?? null,
        peakHourlyUtilization: utilization.peakHourlyUtilization.get(pool) ?? null,
        utilizationBasis: utilization.poolBases.get(pool) ?? "unknown",
      };
    });
}
