import type { FleetSnapshot } from "../fleet/snapshot.js";
import type { MetricStore } from "../stores/metric-store.js";
import { planConsolidation, type ConsolidationPlan, type ConsolidationPlanner } from "./consolidation/index.js";
import type { ConsolidationConfig } from "./constraints.js";
import { recommendIdleEvictions, type IdleEvictionConfig, type IdleRecommendations } from "./idle-eviction.js";
import { DEFAULT_IDLE_HISTORY, loadIdleHistory, type IdleHistory } from "./idle-history.js";

/** Everything the analyzer recommends at one instant. Nothing is applied automatically. */
export interface Recommendations {
  readonly atMs: number;
  readonly consolidation: ConsolidationPlan;
  readonly idle: IdleRecommendations;
}

/** Per-pool figures behind the recommendation metrics. */
export interface PoolRecommendation {
  readonly pool: string;
  readonly gpusReclaimable: number;
  readonly moves: number;
  readonly idleReplicas: number;
}

/**
 * The consolidation plan (checked by the independent checker before it is returned) and the
 * idle-eviction recommendations for a snapshot. `history` (requests per model per bucket over the
 * last days) lets an eviction be held back when traffic usually returns within the TTL; without it
 * nothing is held back. `plan`, when given, is the consolidation plan already made for this
 * snapshot (e.g. on the planning thread: `recommendWith`); without it the plan is made here, by the
 * heuristic alone.
 */
export function recommend(
  snapshot: FleetSnapshot,
  history: IdleHistory | null,
  config: { readonly consolidation: ConsolidationConfig; readonly idle: IdleEvictionConfig },
  nowMs: number,
  plan?: ConsolidationPlan,
): Recommendations {
  return {
    atMs: nowMs,
    consolidation: plan ?? planConsolidation(snapshot, config.consolidation),
    idle: recommendIdleEvictions(snapshot, history, config.idle, nowMs),
  };
}

/**
 * The recommendations with the consolidation plan made by `planner` (off the event loop when it is a
 * planning thread). If the planner fails (its thread cannot start), the plan is made here by the
 * heuristic alone rather than losing the recommendations.
 */
export async function recommendWith(
  planner: ConsolidationPlanner,
  snapshot: FleetSnapshot,
  history: IdleHistory | null,
  config: { readonly consolidation: ConsolidationConfig; readonly idle: IdleEvictionConfig },
  nowMs: number,
): Promise<Recommendations> {
  const plan = await planner.plan(snapshot, config.consolidation).catch(() => undefined);
  return recommend(snapshot, history, config, nowMs, plan);
}

/** The idle history a store holds (one range query for every model). */
export function idleHistoryFrom(store: MetricStore, atMs: number): Promise<IdleHistory> {
  return loadIdleHistory(store, atMs, DEFAULT_IDLE_HISTORY.days, DEFAULT_IDLE_HISTORY.bucketMs);
}

/** GPUs reclaimable (consolidation plus idle eviction), moves and idle replicas per pool. */
export function poolRecommendations(recommendations: Recommendations): PoolRecommendation[] {
  const pools = new Map<string, { gpusReclaimable: number; moves: number; idleReplicas: number }>();
  const entry = (pool: string) => {
    let figures = pools.get(pool);
    if (figures === undefined) pools.set(pool, (figures = { gpusReclaimable: 0, moves: 0, idleReplicas: 0 }));
    return figures;
  };
  for (const pool of recommendations.consolidation.pools) {
    const figures = entry(pool.pool);
    figures.gpusReclaimable += pool.gpusFreed;
    figures.moves += pool.moves;
  }
  for (const pool of recommendations.idle.pools) {
    const figures = entry(pool.pool);
    figures.idleReplicas += pool.idleReplicas;
    figures.gpusReclaimable += pool.gpus;
  }
  return [...pools.entries()]
    .map(([pool, figures]) => ({ pool, ...figures }))
    .sort((a, b) => a.pool.localeCompare(b.pool));
}
