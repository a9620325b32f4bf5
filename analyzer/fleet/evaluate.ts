import { METRICS } from "../../common/conventions.js";
import type { LabeledSamples, LabeledValue, MetricStore, QueryContext } from "../stores/metric-store.js";
import type { PoolOf } from "./assemble.js";
import { fleetFragmentation, type FleetFragmentation } from "./fragmentation.js";
import type { FleetSnapshot } from "./snapshot.js";
import { BASIS_METRIC, basisFamilies, type FigureBasis, type UtilizationBasis } from "./utilization-basis.js";
import {
  poolHoursFromTotals,
  rollUpUtilization,
  type GpuBusyTotals,
  type PoolBucketTotals,
} from "./utilization-rollup.js";
import {
  costPerMillionTokens,
  gpuHoursByModel,
  type FleetUtilization,
  type GpuHourPrices,
  type PoolHours,
  type TokenCost,
} from "./utilization.js";
import { HOUR_MS, DAY_MS } from "../../common/units.js";

/** Windows the fleet figures are given over. */
export const FLEET_WINDOWS_MS = { hour: HOUR_MS, day: DAY_MS } as const;
/**
 * Utilization is time-weighted in the store: `sum_over_time` and `count_over_time` of the activity
 * gauge, summed by (node, uuid), give each GPU's mean over the window (sum ÷ count: samples are
 * evenly spaced, so their mean is the time-weighted mean) whichever pod labels its series carried;
 * no sample travels. A GPU's covered time is its share of the best-covered GPU's samples times the
 * window (a GPU scraped all day covers the day, one that appeared at noon half of it), so the rows
 * weigh GPUs as the per-sample computation (utilization.ts) does.
 */

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
  /** The configured basis, and how many of the snapshot's GPUs had figures on each basis over the last day (`unknown`: none). */
  readonly basis: {
    readonly configured: UtilizationBasis;
    readonly gpus: Readonly<Partial<Record<FigureBasis, number>>>;
  };
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
  /**
   * Which activity family utilization is read from (utilization-basis.ts); default `busy`. Each
   * family is its own store query; a GPU's figures come from the first family in basisFamilies order
   * with samples for it, a node's pool-hours from the first family with samples for the node.
   */
  readonly basis?: UtilizationBasis;
}

/** Where each GPU is and what it serves, from the snapshot. */
function gpuPlaces(snapshot: FleetSnapshot): {
  info: Map<string, { node: string; pool: string }>;
  models: Map<string, Set<string>>;
  pools: Map<string, string>;
} {
  const info = new Map(
    snapshot.nodes.flatMap((node) => node.gpus.map((gpu) => [gpu.uuid, { node: node.name, pool: node.pool }] as const)),
  );
  const models = new Map<string, Set<string>>();
  for (const replica of snapshot.replicas)
    for (const uuid of replica.gpus) models.set(uuid, (models.get(uuid) ?? new Set()).add(replica.model));
  return { info, models, pools: new Map(snapshot.nodes.map((node) => [node.name, node.pool])) };
}

/** `sum` and `count` of one basis's samples per (node, uuid), or per `by`, over a window. */
function gaugeTotals(
  store: MetricStore,
  basis: UtilizationBasis,
  windowMs: number,
  by: readonly string[],
  options: FleetQueryOptions,
): Promise<[LabeledValue[], LabeledValue[]]> {
  const query = { metric: BASIS_METRIC[basis], windowMs, atMs: options.atMs, by };
  const context = { ...options.context, shardBy: "uuid" };
  return Promise.all([
    store.overTime({ ...query, fn: "sum" }, context),
    store.overTime({ ...query, fn: "count" }, context),
  ]);
}

/** Per-GPU utilization totals over `windowMs` ending at atMs, placed by the snapshot; seconds as the module comment says. */
async function gpuTotals(
  store: MetricStore,
  snapshot: FleetSnapshot,
  windowMs: number,
  options: FleetQueryOptions,
): Promise<GpuBusyTotals[]> {
  const families = basisFamilies(options.basis ?? "busy");
  const answers = await Promise.all(
    families.map((basis) => gaugeTotals(store, basis, windowMs, ["node", "uuid"], options)),
  );
  const places = gpuPlaces(snapshot);
  const poolOf = (node: string): string => places.pools.get(node) ?? options.poolOf?.(node) ?? "default";
  const key = (row: LabeledValue) => `${row.labels["node"] ?? ""}\u0000${row.labels["uuid"] ?? ""}`;
  const taken = new Set<string>();
  return families.flatMap((basis, i) => {
    const [sums, counts] = answers[i] ?? [[], []];
    const sumOf = new Map(sums.map((row) => [key(row), row.value]));
    const mostSamples = Math.max(0, ...counts.map((row) => row.value));
    const secondsPerSample = mostSamples > 0 ? windowMs / 1000 / mostSamples : 0;
    const fresh = counts.flatMap((row) => {
      const sum = sumOf.get(key(row));
      const uuid = row.labels["uuid"] ?? "";
      if (sum === undefined || !(row.value > 0) || !Number.isFinite(sum) || taken.has(uuid)) return [];
      const known = places.info.get(uuid);
      const node = known?.node ?? row.labels["node"] ?? "";
      return [
        {
          uuid,
          node,
          pool: known?.pool ?? poolOf(node),
          models: [...(places.models.get(uuid) ?? [])],
          basis,
          coveredSeconds: row.value * secondsPerSample,
          busySeconds: sum * secondsPerSample,
        },
      ];
    });
    for (const gpu of fresh) taken.add(gpu.uuid);
    return fresh;
  });
}

/**
 * Per-pool sums and counts in each hour of the last day, from per-node totals (sample units: the
 * ratio is what counts). `answers` are per basis in basisFamilies order, by (node, gpu_model); a
 * group's buckets come from the first basis with samples for it (GPUs of one model report the same
 * families, so a group is one basis; a MIG GPU without GPM, reporting none, adds nothing).
 */
function poolBuckets(
  answers: readonly {
    readonly basis: UtilizationBasis;
    readonly sums: readonly LabeledSamples[];
    readonly counts: readonly LabeledSamples[];
  }[],
  poolOf: (node: string) => string,
): PoolBucketTotals[] {
  const groupOf = (row: LabeledSamples) => `${row.labels["node"] ?? ""}\u0000${row.labels["gpu_model"] ?? ""}`;
  const taken = new Set<string>();
  return answers.flatMap(({ basis, sums, counts }) => {
    const sumAt = new Map(
      sums.flatMap((row) => row.samples.map((sample) => [`${groupOf(row)}@${sample.atMs}`, sample.value] as const)),
    );
    const fresh = counts.filter((row) => !taken.has(groupOf(row)) && row.samples.some((sample) => sample.value > 0));
    for (const row of fresh) taken.add(groupOf(row));
    return fresh.flatMap((row) =>
      row.samples.flatMap((sample) => {
        const sum = sumAt.get(`${groupOf(row)}@${sample.atMs}`);
        return sum === undefined
          ? []
          : [
              {
                pool: poolOf(row.labels["node"] ?? ""),
                endMs: sample.atMs,
                basis,
                coveredSeconds: sample.value,
                busySeconds: sum,
              },
            ];
      }),
    );
  });
}

/**
 * The day figures: per-GPU utilization over the last day (sum and count by GPU, sharded by uuid
 * when large) and the pool-hours at target (sum and count by node and GPU model over each of the last 24 hours:
 * two range queries of 24 steps).
 */
export async function evaluateFleetDay(
  store: MetricStore,
  snapshot: FleetSnapshot,
  options: FleetQueryOptions,
): Promise<FleetDayFigures> {
  const { atMs } = options;
  const places = gpuPlaces(snapshot);
  const poolOf = (node: string): string => places.pools.get(node) ?? options.poolOf?.(node) ?? "default";
  const hours = {
    windowMs: FLEET_WINDOWS_MS.hour,
    by: ["node", "gpu_model"],
    startMs: atMs - FLEET_WINDOWS_MS.day + FLEET_WINDOWS_MS.hour,
    endMs: atMs,
    stepMs: FLEET_WINDOWS_MS.hour,
  };
  const families = basisFamilies(options.basis ?? "busy");
  const [gpus, hourAnswers] = await Promise.all([
    gpuTotals(store, snapshot, FLEET_WINDOWS_MS.day, options),
    Promise.all(
      families.map(async (basis) => {
        const [sums, counts] = await Promise.all([
          store.overTimeRange({ ...hours, metric: BASIS_METRIC[basis], fn: "sum" }, options.context),
          store.overTimeRange({ ...hours, metric: BASIS_METRIC[basis], fn: "count" }, options.context),
        ]);
        return { basis, sums, counts };
      }),
    ),
  ]);
  const window = { startMs: atMs - FLEET_WINDOWS_MS.day, endMs: atMs };
  return {
    atMs,
    utilization: rollUpUtilization(gpus),
    poolHours: poolHoursFromTotals(
      poolBuckets(hourAnswers, poolOf),
      window,
      FLEET_WINDOWS_MS.hour,
      options.targetRatio,
    ),
  };
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
  const basisOf = new Map(day.utilization.gpus.map((row) => [row.key, row.basis]));
  const gpusByBasis: Partial<Record<FigureBasis, number>> = {};
  for (const gpu of gpus) {
    const basis = basisOf.get(gpu.uuid) ?? "unknown";
    gpusByBasis[basis] = (gpusByBasis[basis] ?? 0) + 1;
  }
  return {
    atMs,
    utilization: { hour: rollUpUtilization(hour), day: day.utilization },
    poolHours: day.poolHours,
    targetRatio: options.targetRatio,
    basis: { configured: options.basis ?? "busy", gpus: gpusByBasis },
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
