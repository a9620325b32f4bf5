/**
 * What the dashboards take from the configuration the analyzer reads: node pools (node-name
 * patterns), the utilization target, the latency SLO thresholds and the burn-rate factors.
 */
import type { Config } from "../common/config/schema.js";
import { sloThresholds } from "../common/slo/thresholds.js";
import { BURN_WINDOWS, burnFactor } from "../common/slo/windows.js";
import type { UtilizationBasis } from "../analyzer/fleet/utilization-basis.js";

/** Inputs of the dashboard generators. */
export interface DashboardOptions {
  /** Pools by node-name pattern (first match wins; the rest is `default`), as `analyzer.pools`. */
  readonly pools: readonly { readonly name: string; readonly nodes: string }[];
  /** The pool utilization objective (`slo.gpuUtilization.minRatio`), drawn as a line. */
  readonly utilizationTarget: number;
  /** What utilization means (`analyzer.utilizationBasis`): per-GPU panels read that metric where a GPU has it, busy time elsewhere. */
  readonly utilizationBasis: UtilizationBasis;
  /** Distinct latency SLO thresholds of the model classes, seconds, ascending. */
  readonly latencyThresholdsSeconds: readonly number[];
  /** Burn-rate factor of each page window pair (14.4 and 6 for 30 days), drawn as lines. */
  readonly pageBurnFactors: readonly number[];
}

/** The dashboard options of a validated configuration. */
export function dashboardOptionsOf(config: Config): DashboardOptions {
  return {
    pools: config.analyzer.pools.map((pool) => ({ name: pool.name, nodes: pool.nodes })),
    utilizationTarget: config.slo.gpuUtilization.minRatio,
    utilizationBasis: config.analyzer.utilizationBasis,
    latencyThresholdsSeconds: sloThresholds(config.slo, ["latency"]),
    pageBurnFactors: BURN_WINDOWS.filter((w) => w.severity === "page").map(
      (w) => Math.round(burnFactor(w, config.slo.periodMs) * 100) / 100,
    ),
  };
}
