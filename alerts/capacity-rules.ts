/**
 * Cost and capacity tickets on the analyzer's series (analyzer/api/analyzer-metrics.ts): a pool
 * under its utilization objective over the objective's window, memory fragmentation, GPUs the
 * recommendations would free, idle replicas holding GPUs. All are `warning` (a ticket): money, not
 * an outage.
 */
import { gpuUtilizationObjective, type SloConfig } from "../common/slo/spec.js";
import { formatDurationMs } from "../common/config/duration.js";
import { ALERTS, METRICS } from "../common/conventions.js";
import { promNumber, promString } from "../common/promql.js";
import { HOUR_MS } from "../common/units.js";
import { alertRule, scaled, type AlertingRule, type RuleContext, type RuleGroup } from "./rule-model.js";

/** The capacity tickets' thresholds. */
export interface CapacityThresholds {
  /** FGD expected fragmentation above which a pool's free memory is mostly unusable (0..1). */
  readonly fragmentationRatio: number;
  /** How long fragmentation must stay high, milliseconds (before the time scale). */
  readonly fragmentationForMs: number;
  /** GPUs the recommendations would free in a pool, at least. */
  readonly reclaimableGpus: number;
  /** How long they must stay reclaimable, milliseconds. */
  readonly reclaimableForMs: number;
  /** How long idle replicas must be recommended for eviction, milliseconds. */
  readonly idleForMs: number;
}

/**
 * Defaults: half the free memory unusable for six hours is a pattern, not a deploy in progress;
 * two GPUs free for a day is a node's worth of money on small nodes; an idle replica flagged for
 * an hour has outlived the analyzer's time to live (30 min latency, 10 min batch) twice.
 */
export const DEFAULT_CAPACITY_THRESHOLDS: CapacityThresholds = {
  fragmentationRatio: 0.5,
  fragmentationForMs: 6 * HOUR_MS,
  reclaimableGpus: 2,
  reclaimableForMs: 24 * HOUR_MS,
  idleForMs: HOUR_MS,
};

/** One utilization ticket per configured pool override, and one for every other pool. */
function utilizationAlerts(context: RuleContext, config: SloConfig): AlertingRule[] {
  const overridden = Object.keys(config.gpuUtilization.pools);
  const alert = (selector: string, minRatio: number, windowMs: number) =>
    alertRule(context, {
      name: ALERTS.poolUtilizationLow,
      expr: `avg_over_time(${METRICS.fleetUtilization.name}${selector}[${scaled(context, windowMs)}]) < ${promNumber(minRatio)}`,
      forMs: HOUR_MS,
      severity: "warning",
      summary: "A GPU pool has been used below its utilization objective.",
      description: `Pool {{ $labels.pool }} averaged {{ $value | humanizePercentage }} GPU utilization ({{ $labels.basis }} basis: sm = SM activity, busy = time a kernel ran) over ${formatDurationMs(windowMs)}, under its ${promNumber(minRatio * 100)}% objective: consolidate replicas (inferwatch recommend) or shrink the pool.`,
    });
  const defaults = overridden.length === 0 ? "" : `{pool!~${promString(overridden.join("|"))}}`;
  return [
    alert(defaults, config.gpuUtilization.minRatio, config.gpuUtilization.windowMs),
    ...overridden.map((pool) => {
      const objective = gpuUtilizationObjective(config, pool);
      return alert(`{pool=${promString(pool)}}`, objective.minRatio, objective.windowMs);
    }),
  ];
}

/** The capacity group. */
export function capacityGroup(
  context: RuleContext,
  config: SloConfig,
  thresholds: CapacityThresholds = DEFAULT_CAPACITY_THRESHOLDS,
): RuleGroup {
  return {
    name: "inferwatch-capacity",
    rules: [
      ...utilizationAlerts(context, config),
      alertRule(context, {
        name: ALERTS.poolFragmentationHigh,
        expr: `${METRICS.fleetFragmentation.name} > ${promNumber(thresholds.fragmentationRatio)}`,
        forMs: thresholds.fragmentationForMs,
        severity: "warning",
        summary: "Most of a GPU pool's free memory cannot hold any replica.",
        description: `Pool {{ $labels.pool }} has {{ $value | humanizePercentage }} of its free GPU memory in pieces no replica shape fits (FGD fragmentation) for ${formatDurationMs(thresholds.fragmentationForMs)}: a consolidation plan frees whole GPUs.`,
      }),
      alertRule(context, {
        name: ALERTS.gpusReclaimable,
        expr: `${METRICS.recommendationGpus.name} >= ${thresholds.reclaimableGpus}`,
        forMs: thresholds.reclaimableForMs,
        severity: "warning",
        summary: "GPUs could be freed by acting on the recommendations.",
        description: `Pool {{ $labels.pool }}: the recommendations would free {{ $value }} GPUs and have for ${formatDurationMs(thresholds.reclaimableForMs)}; review inferwatch recommend.`,
      }),
      alertRule(context, {
        name: ALERTS.idleModelsHoldingGpus,
        expr: `${METRICS.recommendationIdle.name} > 0`,
        forMs: thresholds.idleForMs,
        severity: "warning",
        summary: "Idle model replicas are holding GPUs.",
        description: `Pool {{ $labels.pool }} has {{ $value }} replicas without traffic past their time to live for ${formatDurationMs(thresholds.idleForMs)}; evict them or scale their models to zero.`,
      }),
    ],
  };
}
