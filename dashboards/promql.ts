/**
 * Small PromQL pieces the dashboards share: label matchers for the template variables, the `le`
 * matcher of a bucket boundary, node-pool matchers from the analyzer's node-name patterns, and the
 * histogram quantile and mean expressions.
 */

import { BASIS_METRIC, type UtilizationBasis } from "../analyzer/fleet/utilization-basis.js";

/** Matcher of GPU and node series on the `$node` variable. */
export const NODE = 'node=~"$node"';
/** Matcher on the `$model` variable. */
export const MODEL = 'model=~"$model"';
/** Matcher on the `$pool` variable (analyzer series carry `pool`). */
export const POOL = 'pool=~"$pool"';

/** Range of every rate: Grafana's `$__rate_interval` (at least four scrape intervals). */
export const RATE = "$__rate_interval";

/**
 * `le` matcher of a bucket boundary that holds before and after Prometheus 3 normalised `le` to
 * a float form ("2" became "2.0"; prometheus docs/migration.md), as kubernetes-mixin does.
 */
export function leMatcher(seconds: number): string {
  const text = String(seconds);
  return Number.isInteger(seconds) ? `le=~"${text}(\\\\.0)?"` : `le="${text}"`;
}

/**
 * Node matcher of a pool: the analyzer's patterns are JavaScript regular expressions searched
 * anywhere in the node name (first match wins), PromQL's are RE2 and anchored, so each pattern is
 * wrapped in `.*(?:…).*`, and the pools before it are excluded. Patterns must be RE2-compatible
 * (no lookaround or backreferences). `default` holds the nodes matching no pattern.
 */
export function poolNodeMatchers(pools: readonly { readonly name: string; readonly nodes: string }[]): { readonly pool: string; readonly matchers: string }[] {
  const re2 = (pattern: string): string => `.*(?:${pattern}).*`.replace(/\\/g, "\\\\").replace(/"/g, '\\"');
  const result = pools.map((pool, i) => {
    const earlier = pools.slice(0, i).map((p) => `node!~"${re2(p.nodes)}"`);
    return { pool: pool.name, matchers: [...earlier, `node=~"${re2(pool.nodes)}"`].join(", ") };
  });
  return [...result, { pool: "default", matchers: pools.map((p) => `node!~"${re2(p.nodes)}"`).join(", ") }];
}

/** A series selector: `metric{matchers}`, or the bare name without matchers. */
export function selector(metric: string, matchers: string): string {
  return matchers === "" ? metric : `${metric}{${matchers}}`;
}

/** `histogram_quantile(q, …)` over a histogram's bucket rates, aggregated by `by` (plus `le`). */
export function quantile(q: number, histogram: string, matchers: string, by: readonly string[]): string {
  return `histogram_quantile(${q}, sum by (${[...by, "le"].join(", ")}) (rate(${histogram}_bucket{${matchers}}[${RATE}])))`;
}

/** Mean of a histogram's observations: rate of its sum over rate of its count, aggregated by `by`. */
export function mean(histogram: string, matchers: string, by: readonly string[]): string {
  const group = `sum by (${by.join(", ")})`;
  return `${group} (rate(${histogram}_sum{${matchers}}[${RATE}])) / ${group} (rate(${histogram}_count{${matchers}}[${RATE}]))`;
}

/**
 * Per-GPU utilization on a basis (analyzer/fleet/utilization-basis.ts), one series per GPU labelled
 * `node`, `gpu`, `uuid`: the basis metric where the GPU reports it, `or` NVML's busy time where it
 * does not (pre-Hopper GPUs), as the analyzer falls back. Both sides are reduced to the GPU's own
 * labels, so a GPU counts once whoever holds it.
 */
export function gpuUtilizationByBasis(basis: UtilizationBasis, matchers: string): string {
  const gpu = (metric: string) => `max by (node, gpu, uuid) (${selector(metric, matchers)})`;
  return basis === "busy" ? gpu(BASIS_METRIC.busy) : `(${gpu(BASIS_METRIC[basis])} or ${gpu(BASIS_METRIC.busy)})`;
}
