import { DEFAULT_SLO_CONFIG, type SloConfig } from "./spec.js";

/**
 * The latency thresholds of the SLO configuration, the one place they live. The agent makes each an
 * exact bucket bound of its latency histograms, so a latency SLO is a plain ratio of two counters
 * (`bucket{le=threshold}` over `count`); the rules, the dashboards, the report and the simulator read
 * the same thresholds from the same configuration.
 */

/** The SLO kinds that carry a latency threshold. */
export type ThresholdKind = "latency" | "ttft";

/**
 * Every threshold of `config`'s SLOs of the given kinds (default: end-to-end latency and TTFT),
 * seconds, ascending and distinct.
 */
export function sloThresholds(
  config: Pick<SloConfig, "classes">,
  kinds: readonly ThresholdKind[] = ["latency", "ttft"],
): readonly number[] {
  const thresholds = new Set<number>();
  for (const modelClass of config.classes) {
    if (kinds.includes("latency")) thresholds.add(modelClass.latency.thresholdSeconds);
    if (modelClass.ttft && kinds.includes("ttft")) thresholds.add(modelClass.ttft.thresholdSeconds);
  }
  return [...thresholds].sort((a, b) => a - b);
}

/** The thresholds of the default classes (1.2 s, 2 s, 4 s): the agent's bucket bounds when nothing else is configured. */
export const DEFAULT_SLO_THRESHOLDS: readonly number[] = sloThresholds(DEFAULT_SLO_CONFIG);

/**
 * The thresholds an agent's histograms carry: `extra` (the agent's own `spans.sloThresholds`) and
 * every threshold of `config`, ascending and distinct.
 */
export function histogramThresholds(extra: readonly number[], config: Pick<SloConfig, "classes">): number[] {
  return [...new Set([...extra, ...sloThresholds(config)])].sort((a, b) => a - b);
}
