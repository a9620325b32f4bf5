import { METRICS } from "../../common/conventions.js";
import type { GridTotals, MetricStore, QueryContext } from "../stores/metric-store.js";
import type { PoolOf } from "./assemble.js";
import { fleetFragmentation, type FleetFragmentation } from "./fragmentation.js";
import type { FleetSnapshot } from "./snapshot.js";
import { poolHoursFromTotals, rollUpUtilization, type GpuBusyTotals, type PoolBucketTotals } from "./utilization-rollup.js";
import { costPerMillionTokens, gpuHoursByModel, type FleetUtilization, type GpuHourPrices, type PoolHours, type TokenCost } from "./utilization.js";

/** Windows the fleet figures are given over. */
export const FLEET_WINDOWS_MS = { hour: 3_600_000, day: 86_400_000 } as const;
/**
 * The utilization grid: each GPU's value is taken once a minute (its highest series there, with
 * Prometheus's 5-minute lookback) and stands for that minute, as the 1-minute range query it
 * replaces did; the store totals the grid, so no sample travels.
 */
export const UTILIZATION_RESOLUTION_MS = 60_000;

/** The day figures: refreshed less often than the hour's (they move slowly and cost the most). */
export interface FleetDayFigures {
  readonly atMs: number;
  readonly utilization: FleetUtilization;
  /** Share of each pool's hours over the last day at or above the utilization target. */
  readonly poolHours: readonly PoolHours[];
}

/** The fleet's figures at one instant. */
export interface FleetEvaluation {
  readonly atMs: number;
  readonly utilization: { readonly hour: FleetUtilization; readonly day: FleetUtilization };
  /** Share of each pool's hours over the last day at or above the utilization target. */
  readonly poolHours: readonly PoolHours[];
  readonly targetRatio: number;
  /** Over the last hour. */
  readonly efficiency: {
    readonly tokens: number;
    readonly tokensPerSecondPerGpu: number | null;
    readonly joules: number;
    readonly joulesPerToken: number | null;
    readonly cost: TokenCost;
  };
  readonly fragmentation: FleetFragmentation;
  /** When the day figures (day utilization, pool-hours) were computed. */
  readonly dayAtMs: number;
}

/** What both fleet evaluations read. */
export interface FleetQueryOptions {
  readonly atMs: number;
  readonly targetRatio: number;
  /** Pools of nodes the snapshot does not hold (GPUs gone since); default: pool `default`. */
  readonly poolOf?: PoolOf;
  readonly context?: QueryContext;
  /** The activity gauge utilization is read from; default `inferwatch_gpu_utilization_ratio`. */
  readonly utilizationMetric?: string;
}

/** Where each GPU is and what it serves, from the snapshot. */
function gpuPlaces(snapshot: FleetSnapshot): { info: Map<string, { node: string; pool: string }>; models: Map<string, Set<string>>; pools: Map<string, string> } {
  const info = new Map(snapshot.nodes.flatMap((node) => node.gpus.map((gpu) => [gpu.uuid, { node: node.name, pool: node.pool }] as const)));
  const models = new Map<string, Set<string>>();
  for (const replica of snapshot.replicas) for (const uuid of replica.gpus) models.set(uuid, (models.get(uuid) ?? new Set()).add(replica.model));
  return { info, models, pools: new Map(snapshot.nodes.map((node) => [node.name, node.pool])) };
}

/** Per-GPU utilization totals over `windowMs` ending at atMs, placed by the snapshot. */
async function gpuTotals(store: MetricStore, snapshot: FleetSnapshot, windowMs: number, options: FleetQueryOptions): Promise<GpuBusyTotals[]> {
  const rows = await store.gaugeGrid({
    metric: options.utilizationMetric ?? METRICS.utilization.name, identity: ["node", "uuid"], by: ["node", "uuid"],
    windowMs, resolutionMs: UTILIZATION_RESOLUTION_MS, startMs: options.atMs, endMs: options.atMs, stepMs: windowMs,
  }, { ...options.context, shardBy: "uuid" });
  const places = gpuPlaces(snapshot);
  const poolOf = (node: string): string => places.pools.get(node) ?? options.poolOf?.(node) ?? "default";
  return rows.flatMap((row) => {
    const uuid = row.labels["uuid"] ?? "";
    const point = row.points.at(-1);
    if (point === undefined) return [];
    const known = places.info.get(uuid);
    const node = known?.node ?? row.labels["node"] ?? "";
    const seconds = UTILIZATION_RESOLUTION_MS / 1000;
    return [{ uuid, node, pool: known?.pool ?? poolOf(node), models: [...(places.models.get(uuid) ?? [])], coveredSeconds: point.count * seconds, busySeconds: point.sum * seconds }];
  });
}

/** Per-pool busy and covered time in each hour of the last day, from per-node totals. */
function poolBuckets(rows: readonly GridTotals[], poolOf: (node: string) => string): PoolBucketTotals[] {
  const seconds = UTILIZATION_RESOLUTION_MS / 1000;
  return rows.flatMap((row) => row.points.map((point) => ({ pool: poolOf(row.labels["node"] ?? ""), endMs: point.atMs, coveredSeconds: point.count * seconds, busySeconds: point.sum * seconds })));
}

/**
 * The day figures: per-GPU utilization over the last day (one gauge-grid query, sharded by uuid
 * when large) and the pool-hours at target (one gauge-grid range query of per-node totals, an hour
 * each, at the 24 hours' ends).
 */
export async function evaluateFleetDay(store: MetricStore, snapshot: FleetSnapshot, options: FleetQueryOptions): Promise<FleetDayFigures> {
  const { atMs } = options;
  const places = gpuPlaces(snapshot);
  const poolOf = (node: string): string => places.pools.get(node) ?? options.poolOf?.(node) ?? "default";
  const [gpus, nodeHours] = await Promise.all([
    gpuTotals(store, snapshot, FLEET_WINDOWS_MS.day, options),
    store.gaugeGrid({
      metric: options.utilizationMetric ?? METRICS.utilization.name, identity: ["node", "uuid"], by: ["node"],
      windowMs: FLEET_WINDOWS_MS.hour, resolutionMs: UTILIZATION_RESOLUTION_MS,
      startMs: atMs - FLEET_WINDOWS_MS.day + FLEET_WINDOWS_MS.hour, endMs: atMs, stepMs: FLEET_WINDOWS_MS.hour,
    }, options.context),
  ]);
  const window = { startMs: atMs - FLEET_WINDOWS_MS.day, endMs: atMs };
  return { atMs, utilization: rollUpUtilization(gpus), poolHours: poolHoursFromTotals(poolBuckets(nodeHours, poolOf), window, FLEET_WINDOWS_MS.hour, options.targetRatio) };
}

/**
 * Utilization (per GPU, node, pool and model over the last hour, and the day figures), the share of
 * pool-hours at the target, tokens per second per GPU, joules per token, cost per million tokens,
 * and fragmentation of the snapshot. Counter figures use the store's increase(), so restarts count
 * as resets. `day` reuses day figures computed earlier (evaluateFleetDay); computed now when absent.
 */
export async function evaluateFleet(
  store: MetricStore,
  snapshot: FleetSnapshot,
  options: FleetQueryOptions & { readonly prices: GpuHourPrices; readonly day?: FleetDayFigures },
): Promise<FleetEvaluation> {
  const { atMs } = options;
  const hourWindow = { startMs: atMs - FLEET_WINDOWS_MS.hour, endMs: atMs };
  const [hour, tokens, energy, day] = await Promise.all([
    gpuTotals(store, snapshot, FLEET_WINDOWS_MS.hour, options),
    store.increase({ metric: METRICS.llmTokens.name, windowMs: FLEET_WINDOWS_MS.hour, atMs, by: [] }, options.context),
    store.increase({ metric: METRICS.energy.name, windowMs: FLEET_WINDOWS_MS.hour, atMs, by: [] }, options.context),
    options.day ?? evaluateFleetDay(store, snapshot, options),
  ]);
  const tokenCount = tokens.reduce((sum, v) => sum + v.value, 0);
  const joules = energy.reduce((sum, v) => sum + v.value, 0);
  const gpus = snapshot.nodes.flatMap((node) => node.gpus);
  return {
    atMs,
    utilization: { hour: rollUpUtilization(hour), day: day.utilization },
    poolHours: day.poolHours,
    targetRatio: options.targetRatio,
    efficiency: {
      tokens: tokenCount,
      tokensPerSecondPerGpu: gpus.length === 0 ? null : tokenCount / (FLEET_WINDOWS_MS.hour / 1000) / gpus.length,
      joules,
      joulesPerToken: tokenCount > 0 && joules > 0 ? joules / tokenCount : null,
      cost: costPerMillionTokens(gpuHoursByModel(gpus, hourWindow), tokenCount, options.prices),
    },
    fragmentation: fleetFragmentation(snapshot),
    dayAtMs: day.atMs,
  };
}
