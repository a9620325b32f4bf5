/**
 * Fleet overview: GPUs by pool, utilization against the target line, memory, power, energy,
 * tokens per second per GPU and joules per token.
 */
import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { METRICS } from "../common/conventions.js";
import { buildDashboard, labelVariable } from "./layout.js";
import type { DashboardOptions } from "./options.js";
import { statPanel, timeseriesPanel, type ThresholdLine } from "./panels.js";
import { BASIS_LABEL } from "../analyzer/fleet/utilization-basis.js";
import { selector } from "../common/promql.js";
import { gpuUtilizationByBasis, MODEL, NODE, POOL, poolNodeMatchers, RATE } from "./promql.js";

/** Stable identity of the fleet overview. */
export const FLEET_OVERVIEW = { uid: "inferwatch-fleet-overview", title: "inferwatch / Fleet overview" } as const;

const M = METRICS;
const TOKENS_PER_SECOND = "suffix: tok/s";

/** The fleet overview dashboard. */
export function fleetOverview(options: DashboardOptions): Dashboard {
  const target: ThresholdLine = { value: options.utilizationTarget, below: "orange", above: "green" };
  const targetPercent = `${Math.round(options.utilizationTarget * 100)}%`;
  const energyRate = `sum(rate(${selector(M.energy.name, [NODE])}[${RATE}]))`;
  const tokenRate = `sum(rate(${selector(M.llmTokens.name, [NODE])}[${RATE}]))`;
  const perGpu = gpuUtilizationByBasis(options.utilizationBasis, NODE);
  const basis = `Basis: ${BASIS_LABEL[options.utilizationBasis]}${options.utilizationBasis === "busy" ? "" : ", busy time on GPUs without GPM"} (analyzer.utilizationBasis).`;
  return buildDashboard(
    {
      ...FLEET_OVERVIEW,
      description:
        "GPU fleet at a glance: pools, utilization against the cost objective, memory, power, energy and efficiency.",
      tags: ["gpu", "fleet"],
    },
    [
      labelVariable(
        "pool",
        "Pool",
        M.fleetUtilization.name,
        "Node pool (analyzer.pools); filters the analyzer's pool figures.",
      ),
      labelVariable("node", "Node", M.gpuInfo.name, "GPU node."),
      labelVariable("model", "Model", M.gpuPodInfo.name, "Served model (pod label)."),
    ],
    [
      {
        title: "Fleet",
        panels: [
          statPanel({
            title: "GPUs",
            description: "GPUs the agents on the selected nodes report (inferwatch_gpu_info).",
            unit: "short",
            queries: [{ expr: `count(${selector(M.gpuInfo.name, [NODE])})`, instant: true }],
          }),
          statPanel({
            title: "GPUs down",
            description:
              "GPUs that did not answer their last NVML sample (inferwatch_gpu_up 0): lost, or failing and retried with backoff.",
            unit: "short",
            queries: [{ expr: `count(${selector(M.gpuUp.name, [NODE])} == 0) or vector(0)`, instant: true }],
            steps: [
              { value: null, color: "green" },
              { value: 1, color: "red" },
            ],
          }),
          statPanel({
            title: "Mean GPU utilization",
            description: `Mean GPU utilization over the selected nodes' GPUs. ${basis} The cost objective is ${targetPercent} per pool.`,
            unit: "percentunit",
            queries: [{ expr: `avg(${perGpu})`, instant: true }],
            steps: [
              { value: null, color: "orange" },
              { value: options.utilizationTarget, color: "green" },
            ],
          }),
          statPanel({
            title: "GPU memory in use",
            description: "Device memory in use over device memory, selected nodes.",
            unit: "percentunit",
            queries: [
              {
                expr: `sum(${selector(M.memoryUsed.name, [NODE])}) / sum(${selector(M.memoryTotal.name, [NODE])})`,
                instant: true,
              },
            ],
          }),
          statPanel({
            title: "Tokens/s per GPU",
            description:
              "Prompt and completion tokens per second over the GPUs of the selected nodes (the analyzer's definition, over the rate interval).",
            unit: TOKENS_PER_SECOND,
            queries: [{ expr: `${tokenRate} / count(${selector(M.gpuInfo.name, [NODE])})`, instant: true }],
          }),
          statPanel({
            title: "Joules per token",
            description: "GPU energy per token on the selected nodes: energy counter rate over token rate.",
            unit: "joule",
            queries: [{ expr: `${energyRate} / (${tokenRate} > 0)`, instant: true }],
          }),
        ],
      },
      {
        title: "Pools and utilization",
        panels: [
          timeseriesPanel({
            title: "GPUs by pool",
            description:
              "GPUs per node pool, pools as analyzer.pools defines them by node name (first match wins; unmatched nodes are 'default').",
            unit: "short",
            min: 0,
            queries: poolNodeMatchers(options.pools).map(({ pool, matchers }) => ({
              expr: `count(${selector(M.gpuInfo.name, [matchers])})`,
              legend: pool,
            })),
          }),
          timeseriesPanel({
            title: "Pool utilization against the target",
            description: `The analyzer's time-weighted GPU utilization per pool over the last hour, on the basis in each legend (sm: SM activity, busy: time a kernel ran, mixed: sm where reported); the dashed line is the ${targetPercent} cost objective (slo.gpuUtilization.minRatio).`,
            unit: "percentunit",
            min: 0,
            max: 1,
            threshold: target,
            queries: [{ expr: selector(M.fleetUtilization.name, [POOL]), legend: "{{pool}} ({{basis}})" }],
          }),
          timeseriesPanel({
            title: "GPU utilization by node",
            description: `Mean GPU utilization per node from the agents' samples. ${basis} The dashed line is the ${targetPercent} objective.`,
            unit: "percentunit",
            min: 0,
            max: 1,
            threshold: target,
            queries: [{ expr: `avg by (node) (${perGpu})`, legend: "{{node}}" }],
          }),
          timeseriesPanel({
            title: "Pool hours at target",
            description: `Share of the last day's hours in which the pool's mean utilization was at least ${targetPercent} (analyzer), on the basis in each legend.`,
            unit: "percentunit",
            min: 0,
            max: 1,
            queries: [{ expr: selector(M.fleetPoolHoursAtTarget.name, [POOL]), legend: "{{pool}} ({{basis}})" }],
          }),
        ],
      },
      {
        title: "Memory, power and energy",
        panels: [
          timeseriesPanel({
            title: "GPU memory in use by node",
            description: "Device memory in use over device memory, per node.",
            unit: "percentunit",
            min: 0,
            max: 1,
            queries: [
              {
                expr: `sum by (node) (${selector(M.memoryUsed.name, [NODE])}) / sum by (node) (${selector(M.memoryTotal.name, [NODE])})`,
                legend: "{{node}}",
              },
            ],
          }),
          timeseriesPanel({
            title: "GPU memory used by node",
            description: "Device memory in use per node, bytes.",
            unit: "bytes",
            min: 0,
            queries: [{ expr: `sum by (node) (${selector(M.memoryUsed.name, [NODE])})`, legend: "{{node}}" }],
          }),
          timeseriesPanel({
            title: "GPU power by node",
            description: "Power draw of the node's GPUs (NVML, averaged over 1 s on Ampere and newer).",
            unit: "watt",
            min: 0,
            queries: [{ expr: `sum by (node) (${selector(M.power.name, [NODE])})`, legend: "{{node}}" }],
          }),
          timeseriesPanel({
            title: "GPU energy rate by node",
            description:
              "Energy consumed per second by the node's GPUs, from NVML's energy counter (watts, as a check on the power gauge).",
            unit: "watt",
            min: 0,
            queries: [
              { expr: `sum by (node) (rate(${selector(M.energy.name, [NODE])}[${RATE}]))`, legend: "{{node}}" },
            ],
          }),
          statPanel({
            title: "GPU energy in the time range",
            description: "Energy the selected nodes' GPUs consumed over the dashboard's time range.",
            unit: "joule",
            width: 12,
            queries: [{ expr: `sum(increase(${selector(M.energy.name, [NODE])}[$__range]))`, instant: true }],
          }),
        ],
      },
      {
        title: "Efficiency",
        panels: [
          timeseriesPanel({
            title: "Tokens/s per GPU by model",
            description:
              "Tokens per second of the model's requests over the GPUs its pods hold (inferwatch_gpu_pod_info).",
            unit: TOKENS_PER_SECOND,
            min: 0,
            queries: [
              {
                expr: `sum by (model) (rate(${selector(M.llmTokens.name, [MODEL])}[${RATE}])) / count by (model) (${selector(M.gpuPodInfo.name, [MODEL])})`,
                legend: "{{model}}",
              },
            ],
          }),
          timeseriesPanel({
            title: "Joules per token by node",
            description:
              "GPU energy per token on each node: energy rate over the token rate of the requests served there.",
            unit: "joule",
            min: 0,
            queries: [
              {
                expr: `sum by (node) (rate(${selector(M.energy.name, [NODE])}[${RATE}])) / (sum by (node) (rate(${selector(M.llmTokens.name, [NODE])}[${RATE}])) > 0)`,
                legend: "{{node}}",
              },
            ],
          }),
          timeseriesPanel({
            title: "Fleet tokens/s per GPU (analyzer, last hour)",
            description: "The analyzer's tokens per second per GPU over its last hour, for the whole fleet.",
            unit: TOKENS_PER_SECOND,
            min: 0,
            queries: [{ expr: M.fleetTokensPerGpu.name, legend: "fleet" }],
          }),
          timeseriesPanel({
            title: "Fleet joules per token (analyzer, last hour)",
            description: "The analyzer's GPU energy per token over its last hour, for the whole fleet.",
            unit: "joule",
            min: 0,
            queries: [{ expr: M.fleetJoulesPerToken.name, legend: "fleet" }],
          }),
        ],
      },
    ],
  );
}
