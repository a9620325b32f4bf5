import type { PoolOf } from "../fleet/assemble.js";
import type { FleetSnapshot } from "../fleet/snapshot.js";
import { parseConsolidationConfig } from "../../common/config/consolidation-config.js";
import { poolRecommendations, type Recommendations } from "../recommend/recommendations.js";
import { evaluateSlos } from "../slo/evaluate.js";
import { gpuUtilizationObjective, type SloConfig } from "../../common/slo/spec.js";
import type { MetricStore } from "../stores/metric-store.js";
import { forecastSeries, planSummary, poolAction, poolHeadroom } from "./capacity-plan.js";
import { computeDemand } from "./demand.js";
import { fragmentationHistory } from "./fragmentation-history.js";
import { computePoolUtilization, poolSupply } from "./pool-utilization.js";
import type { UtilizationBasis } from "../fleet/utilization-basis.js";
import { computeRuntimeCache } from "./runtime-cache.js";
import {
  REPORT_VERSION,
  type CapacityReport,
  type PoolAction,
  type PoolHeadroom,
  type ReportRecommendations,
  type SloAttainment,
} from "./report-model.js";
import { timeGrid } from "./time-grid.js";
import { MAX_REPORT_WINDOW_MS, MIN_REPORT_WINDOW_MS } from "./report-window.js";
import { DAY_MS } from "../../common/units.js";

/** A quarter: the horizon of the forecast and of the buy/free plan. */
export const QUARTER_DAYS = 91;

/** What {@link buildReport} needs besides the store. */
export interface ReportOptions {
  /** End of the window, Unix ms. */
  readonly atMs: number;
  /** Length of the window, ms (the `--since` setting). */
  readonly sinceMs: number;
  readonly poolOf: PoolOf;
  readonly slo: SloConfig;
  /** The analyzer's evaluation at `atMs`: the fleet snapshot (with SLO state) and the recommendations made on it. */
  readonly current: { readonly snapshot: FleetSnapshot; readonly recommendations: Recommendations };
  /** Where the data came from, in words (shown in the report). */
  readonly source: string;
  /** Forecast horizon in days. Default a quarter (91). */
  readonly horizonDays?: number;
  /**
   * The compute ceiling a pool's headroom is measured against: the utilization at which a GPU still
   * meets its latency SLO, the analyzer's `recommend.consolidation.computeCeilingRatio`. Default the
   * consolidation config's default (0.8).
   */
  readonly computeCeilingRatio?: number;
  /** What utilization means (`analyzer.utilizationBasis`); default `busy`. GPUs without it fall back to busy time. */
  readonly utilizationBasis?: UtilizationBasis;
}

/** The consolidation config's default compute ceiling (read from its schema, not restated). */
export const DEFAULT_COMPUTE_CEILING_RATIO = parseConsolidationConfig({}).computeCeilingRatio;

const FORECAST_METHOD =
  "Additive Holt-Winters (level + trend + 7-day season) fitted to each series' daily peaks, smoothing constants chosen by least squares of one-step-ahead errors; 95 % prediction intervals from the in-sample residuals (ETS(A,A,A) forecast variance, Hyndman & Athanasopoulos, FPP3 §8.7). Fewer than 14 complete days: a least-squares line; fewer than 3: the last value.";

/**
 * Builds the capacity-planning report over [atMs − sinceMs, atMs] from a store: demand per model
 * class, GPU supply and utilization per pool (and the pool × hour-of-day heatmap), SLO attainment
 * and error budget over the window (the SLO period set to the window), fragmentation over time, the
 * recommendations, the runtimes' KV and prefix cache per model, the forecasts and the quarter's
 * buy/free plan. A pool's headroom is measured at the compute ceiling (the latency limit); the
 * utilization floor of `slo.gpuUtilization` (the cost objective) only marks a pool as a candidate to
 * free GPUs. Store queries: 4 (demand) + 1 (utilization) + 4 (runtime cache) + about 16 (SLOs) + 12
 * per fragmentation instant (at most 121 instants).
 */
export async function buildReport(store: MetricStore, options: ReportOptions): Promise<CapacityReport> {
  if (!(options.sinceMs >= MIN_REPORT_WINDOW_MS && options.sinceMs <= MAX_REPORT_WINDOW_MS))
    throw new Error(`report: the window must be between 1 and 730 days, got ${options.sinceMs} ms`);
  const grid = timeGrid(options.atMs, options.sinceMs);
  const horizonDays = options.horizonDays ?? QUARTER_DAYS;
  const notes: string[] = [];
  const ceilingRatio = options.computeCeilingRatio ?? DEFAULT_COMPUTE_CEILING_RATIO;
  if (!(ceilingRatio > 0 && ceilingRatio <= 1))
    throw new Error(`report: the compute ceiling must be in (0, 1], got ${ceilingRatio}`);
  const [demand, utilization, sloEvaluation, fragmentation, runtimeCache] = await Promise.all([
    computeDemand(store, grid, options.slo),
    computePoolUtilization(store, grid, options.poolOf, options.utilizationBasis),
    evaluateSlos(store, { ...options.slo, periodMs: grid.endMs - grid.startMs }, grid.endMs),
    fragmentationHistory(store, grid, options.poolOf),
    computeRuntimeCache(store, grid),
  ]);
  const { snapshot, recommendations } = options.current;
  const supply = poolSupply(snapshot, utilization, grid.endMs);
  if (snapshot.nodes.length === 0)
    notes.push(
      "The store holds no GPU identity series (inferwatch_gpu_info): supply counts the GPUs with utilization samples in the last day, without their memory, and fragmentation cannot be measured.",
    );
  if (grid.completeDays.length < 14)
    notes.push(
      `Only ${grid.completeDays.length} complete day(s) in the window: forecasts use a line without weekly seasonality (Holt-Winters needs 14).`,
    );
  if (demand.classes.length === 0) notes.push("No request or token series in the window: no demand figures.");

  const slos = sloEvaluation.slos.map((status): SloAttainment => ({
    id: status.id,
    modelClass: status.className,
    kind: status.kind,
    objective: status.objective,
    thresholdSeconds: status.thresholdSeconds,
    models: status.models,
    attainment: status.budget.state === "measured" ? status.budget.good / status.budget.total : null,
    goodEvents: status.budget.state === "measured" ? status.budget.good : 0,
    totalEvents: status.budget.state === "measured" ? status.budget.total : 0,
    budgetRemaining: status.budget.remaining,
    burnNow: status.burn.severity ?? status.burn.state,
  }));

  const demandForecasts = demand.classes.flatMap((c) => {
    const forecast = forecastSeries(grid, c.dailyPeakTokensPerSecond, horizonDays, `demand of ${c.modelClass}`, notes);
    return forecast ? [{ modelClass: c.modelClass, forecast }] : [];
  });
  const reclaimable = new Map(poolRecommendations(recommendations).map((p) => [p.pool, p.gpusReclaimable]));
  const headrooms: PoolHeadroom[] = [];
  const actions: PoolAction[] = [];
  for (const pool of supply) {
    const daily = utilization.dailyPeakBusyGpus.get(pool.pool);
    const forecast = daily ? forecastSeries(grid, daily, horizonDays, `pool ${pool.pool}`, notes) : null;
    if (!forecast || pool.gpus === 0) {
      notes.push(
        `Pool ${pool.pool}: ${pool.gpus === 0 ? "no GPUs in the current snapshot" : "no utilization samples in the window"}; no forecast.`,
      );
      continue;
    }
    const headroom = poolHeadroom(pool, forecast, {
      ceilingRatio,
      floorRatio: gpuUtilizationObjective(options.slo, pool.pool).minRatio,
    });
    headrooms.push(headroom);
    actions.push(poolAction(headroom, pool, reclaimable.get(pool.pool) ?? 0, snapshot, recommendations));
  }

  return {
    version: REPORT_VERSION,
    generatedAt: new Date(options.atMs).toISOString(),
    source: options.source,
    window: {
      from: new Date(grid.startMs).toISOString(),
      to: new Date(grid.endMs).toISOString(),
      days: (grid.endMs - grid.startMs) / DAY_MS,
      stepSeconds: grid.stepMs / 1000,
    },
    days: grid.days,
    demand: demand.classes,
    supply,
    heatmap: utilization.heatmap,
    utilizationBasis: utilization.basis,
    slos,
    runtimeCache,
    fragmentation,
    recommendations: reportRecommendations(recommendations),
    forecast: {
      horizonDays,
      ceilingRatio,
      floorRatio: gpuUtilizationObjective(options.slo, "default").minRatio,
      method: FORECAST_METHOD,
      demand: demandForecasts,
      pools: headrooms,
    },
    plan: { actions, summary: planSummary(actions, horizonDays) },
    notes,
  };
}

function reportRecommendations(recommendations: Recommendations): ReportRecommendations {
  const idleByPool = new Map(recommendations.idle.pools.map((p) => [p.pool, p]));
  const pools = recommendations.consolidation.pools.map((p) => ({
    pool: p.pool,
    consolidationGpus: p.gpusFreed,
    idleGpus: idleByPool.get(p.pool)?.gpus ?? 0,
    moves: p.moves,
    idleReplicas: idleByPool.get(p.pool)?.idleReplicas ?? 0,
  }));
  for (const idle of recommendations.idle.pools) {
    if (!pools.some((p) => p.pool === idle.pool))
      pools.push({
        pool: idle.pool,
        consolidationGpus: 0,
        idleGpus: idle.gpus,
        moves: 0,
        idleReplicas: idle.idleReplicas,
      });
  }
  pools.sort((a, b) => a.pool.localeCompare(b.pool));
  return {
    pools,
    gpusReclaimable: pools.reduce((sum, p) => sum + p.consolidationGpus + p.idleGpus, 0),
    moves: recommendations.consolidation.movesCount,
    idleModels: recommendations.idle.scaleToZero.map((z) => ({
      model: z.model,
      replicas: z.replicaIds.length,
      gpus: z.gpus,
      reason: z.reason,
    })),
    evictions: recommendations.idle.evictions.map((e) => ({
      replicaId: e.replicaId,
      model: e.model,
      pool: e.pool,
      reason: e.reason,
    })),
    checkedValid: recommendations.consolidation.check.isValid,
  };
}
