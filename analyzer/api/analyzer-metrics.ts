import type { Registry } from "prom-client";
import { formatDurationMs } from "../../common/config/duration.js";
import { METRICS } from "../../common/conventions.js";
import { defineScrapeMetric, type FillErrorHandler } from "../../common/metric-factory.js";
import type { AnalyzerState } from "../analyzer-state.js";
import { poolRecommendations } from "../recommend/recommendations.js";

/**
 * The analyzer's /metrics: SLO burn rates per window, budgets and objectives, fleet utilization,
 * fragmentation and stranded memory per pool, and the evaluation's own health — read from the last
 * evaluation, never computed during a scrape.
 */
export function registerAnalyzerMetrics(
  registry: Registry,
  state: () => AnalyzerState,
  onError: FillErrorHandler,
): void {
  const define = (def: (typeof METRICS)[keyof typeof METRICS], fill: Parameters<typeof defineScrapeMetric>[2]) =>
    defineScrapeMetric(registry, def, fill, onError);
  define(METRICS.sloBurnRate, (emit) => {
    for (const slo of state().slos?.slos ?? []) {
      const seen = new Set<number>();
      for (const pair of slo.burn.windows) {
        for (const [ms, measure] of [
          [pair.longMs, pair.long],
          [pair.shortMs, pair.short],
        ] as const) {
          if (seen.has(ms) || measure.state !== "measured") continue;
          seen.add(ms);
          emit({ slo: slo.id, model_class: slo.className, window: formatDurationMs(ms) }, measure.burnRate);
        }
      }
    }
  });
  define(METRICS.sloBudgetRemaining, (emit) => {
    for (const slo of state().slos?.slos ?? []) emit({ slo: slo.id, model_class: slo.className }, slo.budget.remaining);
  });
  define(METRICS.sloObjective, (emit) => {
    for (const slo of state().slos?.slos ?? []) emit({ slo: slo.id, model_class: slo.className }, slo.objective);
  });
  define(METRICS.sloFiring, (emit) => {
    for (const slo of state().slos?.slos ?? []) {
      for (const pair of slo.burn.windows)
        emit(
          { slo: slo.id, model_class: slo.className, window: pair.windowId, severity: pair.severity },
          pair.state === "firing" ? 1 : 0,
        );
    }
  });
  define(METRICS.fleetUtilization, (emit) => {
    for (const row of state().fleet?.utilization.hour.pools ?? [])
      if (row.meanRatio !== null) emit({ pool: row.key, basis: row.basis }, row.meanRatio);
  });
  define(METRICS.fleetPoolHoursAtTarget, (emit) => {
    for (const row of state().fleet?.poolHours ?? [])
      if (row.shareRatio !== null) emit({ pool: row.pool, basis: row.basis }, row.shareRatio);
  });
  define(METRICS.fleetFragmentation, (emit) => {
    for (const pool of state().fleet?.fragmentation.pools ?? []) emit({ pool: pool.pool }, pool.fragmentationRatio);
  });
  define(METRICS.fleetStranded, (emit) => {
    for (const pool of state().fleet?.fragmentation.pools ?? []) emit({ pool: pool.pool }, pool.strandedBytes);
  });
  define(METRICS.fleetTokensPerGpu, (emit) => {
    const value = state().fleet?.efficiency.tokensPerSecondPerGpu;
    if (value !== null && value !== undefined) emit({}, value);
  });
  define(METRICS.fleetJoulesPerToken, (emit) => {
    const value = state().fleet?.efficiency.joulesPerToken;
    if (value !== null && value !== undefined) emit({}, value);
  });
  const pools = () => {
    const recommendations = state().recommendations;
    return recommendations ? poolRecommendations(recommendations) : [];
  };
  define(METRICS.recommendationGpus, (emit) => {
    for (const pool of pools()) emit({ pool: pool.pool }, pool.gpusReclaimable);
  });
  define(METRICS.recommendationMoves, (emit) => {
    for (const pool of pools()) emit({ pool: pool.pool }, pool.moves);
  });
  define(METRICS.recommendationIdle, (emit) => {
    for (const pool of pools()) emit({ pool: pool.pool }, pool.idleReplicas);
  });
  define(METRICS.analyzerEvaluation, (emit) => {
    const ms = state().lastDurationMs;
    if (ms !== undefined) emit({}, ms / 1000);
  });
  define(METRICS.analyzerEvaluationTime, (emit) => {
    const at = state().evaluatedAtMs;
    if (at !== undefined) emit({}, at / 1000);
  });
  define(METRICS.analyzerQueries, (emit) => {
    const queries = state().usage?.queries;
    if (queries !== undefined) emit({}, queries);
  });
  define(METRICS.analyzerStale, (emit) => emit({}, state().error === undefined ? 0 : 1));
  define(METRICS.analyzerPartStale, (emit) => {
    for (const part of state().parts) if (part.attemptedAtMs !== null) emit({ part: part.name }, part.isStale ? 1 : 0);
  });
  define(METRICS.analyzerPartTimestamp, (emit) => {
    for (const part of state().parts) if (part.atMs !== null) emit({ part: part.name }, part.atMs / 1000);
  });
  define(METRICS.analyzerPartDuration, (emit) => {
    for (const part of state().parts) if (part.durationMs !== null) emit({ part: part.name }, part.durationMs / 1000);
  });
  const usage =
    (pick: (u: NonNullable<AnalyzerState["usage"]>) => number) =>
    (emit: (labels: Record<string, string>, value: number) => void) => {
      const current = state().usage;
      if (current !== undefined) emit({}, pick(current));
    };
  define(
    METRICS.analyzerStoreBytes,
    usage((u) => u.bytes),
  );
  define(
    METRICS.analyzerStoreLargestAnswer,
    usage((u) => u.largestAnswerBytes),
  );
  define(
    METRICS.analyzerStoreRetries,
    usage((u) => u.retries),
  );
  define(
    METRICS.analyzerStoreWarnings,
    usage((u) => u.warningCount),
  );
  define(METRICS.analyzerRecordedSource, (emit) => {
    for (const [family, source] of Object.entries(state().slos?.sources ?? {}))
      emit({ family }, source === "recorded" ? 1 : 0);
  });
}
