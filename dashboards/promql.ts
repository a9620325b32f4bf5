/**
 * PromQL pieces only the dashboards use: label matchers for the template variables, node-pool
 * matchers from the analyzer's node-name patterns, and the histogram quantile and mean expressions.
 * Literals, selectors, `le` and pattern matchers come from common/promql.ts.
 */

import { BASIS_METRIC, type UtilizationBasis } from "../analyzer/fleet/utilization-basis.js";
import { matcher, searchRegex, selector } from "../common/promql.js";

/** Matcher of GPU and node series on the `$node` variable. */
export const NODE = matcher("node", "=~", "$node");
/** Matcher on the `$model` variable. */
export const MODEL = matcher("model", "=~", "$model");
/** Matcher on the `$pool` variable (analyzer series carry `pool`). */
export const POOL = matcher("pool", "=~", "$pool");

/** Range of every rate: Grafana's `$__rate_interval` (at least four scrape intervals). */
export const RATE = "$__rate_interval";

/**
 * Node matchers of each pool: the analyzer's patterns are searched anywhere in the node name, first
 * match wins, so each pool matches its own pattern (common/promql.ts `searchRegex`) and none of the
 * pools before it. `default` holds the nodes matching no pattern.
 */
export function poolNodeMatchers(
  pools: readonly { readonly name: string; readonly nodes: string }[],
): { readonly pool: string; readonly matchers: string }[] {
  const result = pools.map((pool, i) => {
    const earlier = pools.slice(0, i).map((p) => matcher("node", "!~", searchRegex(p.nodes)));
    return { pool: pool.name, matchers: [...earlier, matcher("node", "=~", searchRegex(pool.nodes))].join(", ") };
  });
  return [
    ...result,
    { pool: "default", matchers: pools.map((p) => matcher("node", "!~", searchRegex(p.nodes))).join(", ") },
  ];
}

/** `histogram_quantile(q, …)` over a histogram's bucket rates, aggregated by `by` (plus `le`). */
export function quantile(q: number, histogram: string, matchers: string, by: readonly string[]): string {
  return `histogram_quantile(${q}, sum by (${[...by, "le"].join(", ")}) (rate(${selector(`${histogram}_bucket`, [matchers])}[${RATE}])))`;
}

/** Mean of a histogram's observations: rate of its sum over rate of its count, aggregated by `by`. */
export function mean(histogram: string, matchers: string, by: readonly string[]): string {
  const group = `sum by (${by.join(", ")})`;
  return `${group} (rate(${selector(`${histogram}_sum`, [matchers])}[${RATE}])) / ${group} (rate(${selector(`${histogram}_count`, [matchers])}[${RATE}]))`;
}

/**
 * Per-GPU utilization on a basis (analyzer/fleet/utilization-basis.ts), one series per GPU labelled
 * `node`, `gpu`, `uuid`: the basis metric where the GPU reports it, `or` NVML's busy time where it
 * does not (pre-Hopper GPUs), as the analyzer falls back. Both sides are reduced to the GPU's own
 * labels, so a GPU counts once whoever holds it.
 */
export function gpuUtilizationByBasis(basis: UtilizationBasis, matchers: string): string {
  const gpu = (metric: string) => `max by (node, gpu, uuid) (${selector(metric, [matchers])})`;
  return basis === "busy" ? gpu(BASIS_METRIC.busy) : `(${gpu(BASIS_METRIC[basis])} or ${gpu(BASIS_METRIC.busy)})`;
}
