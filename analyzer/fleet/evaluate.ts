import { METRICS } from "../../common/conventions.js";
import type { MetricStore } from "../stores/metric-store.js";
import { fleetFragmentation, type FleetFragmentation } from "./fragmentation.js";
import type { FleetSnapshot } from "./snapshot.js";
import { BASIS_METRIC, basisFamilies, pickByBasis, type FigureBasis, type UtilizationBasis } from "./utilization-basis.js";
import {
  costPerMillionTokens, fleetUtilization, gpuHoursByModel, poolHoursAtTarget,
  type FleetUtilization, type GpuHourPrices, type GpuUtilizationSeries, type PoolHours, type TokenCost,
} from "./utilization.js";

/** Windows the fleet figures are given over. */
export const FLEET_WINDOWS_MS = { hour: 3_600_000, day: 86_400_000 } as const;
const STEP_MS = 60_000;

/** The fleet's figures at one instant. */
export interface FleetEvaluation {
  readonly atMs: number;
  readonly utilization: { readonly hour: FleetUtilization; readonly day: FleetUtilization };
  /** Share of each pool's hours over the last day at or above the utilization target. */
  readonly poolHours: readonly PoolHours[];
  readonly targetRatio: number;
  /** The configured basis, and how many of the snapshot's GPUs had figures on each basis over the last day (`unknown`: none). */
  readonly basis: { readonly configured: UtilizationBasis; readonly gpus: Readonly<Partial<Record<FigureBasis, number>>> };
  /** Over the last hour. */
  readonly efficiency: {
    readonly tokens: number;
    readonly tokensPerSecondPerGpu: number | null;
    readonly joules: number;
    readonly joulesPerToken: number | null;
    readonly cost: TokenCost;
  };
  readonly fragmentation: FleetFragmentation;
}

/**
 * Utilization on the configured basis (`busy` when none is given; a GPU without the basis falls back
 * to busy, one with neither has no figure), per GPU, node, pool and model over the last hour and
 * day, the share of pool-hours at
 * the target, tokens per second per GPU, joules per token, cost per million tokens, and fragmentation
 * of the snapshot. Counter figures use the store's increase(), so restarts count as resets.
 */
export async function evaluateFleet(
  store: MetricStore,
  snapshot: FleetSnapshot,
  options: { readonly atMs: number; readonly targetRatio: number; readonly prices: GpuHourPrices; readonly basis?: UtilizationBasis },
): Promise<FleetEvaluation> {
  const { atMs } = options;
  const configured = options.basis ?? "busy";
  const families = basisFamilies(configured);
  const dayWindow = { startMs: atMs - FLEET_WINDOWS_MS.day, endMs: atMs };
  const hourWindow = { startMs: atMs - FLEET_WINDOWS_MS.hour, endMs: atMs };
  const [answers, tokens, energy] = await Promise.all([
    Promise.all(families.map((basis) => store.range({ metric: BASIS_METRIC[basis], startMs: dayWindow.startMs, endMs: atMs, stepMs: STEP_MS }))),
    store.increase({ metric: METRICS.llmTokens.name, windowMs: FLEET_WINDOWS_MS.hour, atMs, by: [] }),
    store.increase({ metric: METRICS.energy.name, windowMs: FLEET_WINDOWS_MS.hour, atMs, by: [] }),
  ]);
  const samples = pickByBasis(families.map((basis, i) => ({ basis, values: answers[i] ?? [] })));
  const gpuInfo = new Map(snapshot.nodes.flatMap((node) => node.gpus.map((gpu) => [gpu.uuid, { node: node.name, pool: node.pool, gpuModel: gpu.gpuModel }] as const)));
  const modelsOf = new Map<string, Set<string>>();
  for (const replica of snapshot.replicas) for (const uuid of replica.gpus) modelsOf.set(uuid, (modelsOf.get(uuid) ?? new Set()).add(replica.model));
  const series: GpuUtilizationSeries[] = [];
  for (const { basis, value: s } of samples) {
    const uuid = s.labels["uuid"] ?? "";
    const known = gpuInfo.get(uuid);
    const node = known?.node ?? s.labels["node"] ?? "";
    series.push({ uuid, basis, node, pool: known?.pool ?? "default", gpuModel: known?.gpuModel ?? s.labels["gpu_model"] ?? "unknown", models: [...(modelsOf.get(uuid) ?? [])], samples: s.samples });
  }
  const hourSeries = series.map((s) => ({ ...s, samples: s.samples.filter((p) => p.atMs >= hourWindow.startMs - STEP_MS) }));
  const tokenCount = tokens.reduce((sum, v) => sum + v.value, 0);
  const joules = energy.reduce((sum, v) => sum + v.value, 0);
  const gpus = snapshot.nodes.flatMap((node) => node.gpus);
  const day = fleetUtilization(series, dayWindow);
  const basisOf = new Map(day.gpus.map((row) => [row.key, row.basis]));
  const gpusByBasis: Partial<Record<FigureBasis, number>> = {};
  for (const gpu of gpus) {
    const basis = basisOf.get(gpu.uuid) ?? "unknown";
    gpusByBasis[basis] = (gpusByBasis[basis] ?? 0) + 1;
  }
  return {
    atMs,
    utilization: { hour: fleetUtilization(hourSeries, hourWindow), day },
    poolHours: poolHoursAtTarget(series, dayWindow, { targetRatio: options.targetRatio }),
    targetRatio: options.targetRatio,
    basis: { configured, gpus: gpusByBasis },
    efficiency: {
      tokens: tokenCount,
      tokensPerSecondPerGpu: gpus.length === 0 ? null : tokenCount / (FLEET_WINDOWS_MS.hour / 1000) / gpus.length,
      joules,
      joulesPerToken: tokenCount > 0 && joules > 0 ? joules / tokenCount : null,
      cost: costPerMillionTokens(gpuHoursByModel(gpus, hourWindow), tokenCount, options.prices),
    },
    fragmentation: fleetFragmentation(snapshot),
  };
}
