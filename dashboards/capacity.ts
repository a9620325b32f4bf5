/**
 * Capacity and recommendations: fragmentation and stranded memory per pool, free GPU memory,
 * reclaimable GPUs and the consolidation plan's size, idle replicas, and the models that hold GPUs
 * without traffic.
 */
import { matcher, selector } from "../common/promql.js";
import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { METRICS } from "../common/conventions.js";
import { buildDashboard, labelVariable } from "./layout.js";
import type { DashboardOptions } from "./options.js";
import { statPanel, tablePanel, timeseriesPanel } from "./panels.js";
import { MODEL, NODE, POOL } from "./promql.js";

/** Stable identity of the capacity dashboard. */
export const CAPACITY = { uid: "inferwatch-capacity", title: "inferwatch / Capacity and recommendations" } as const;

const M = METRICS;

/** The capacity and recommendations dashboard. */
export function capacity(options: DashboardOptions): Dashboard {
  const targetPercent = `${Math.round(options.utilizationTarget * 100)}%`;
  return buildDashboard(
    {
      ...CAPACITY,
      description:
        "Where GPU capacity is lost (fragmentation, stranded memory, idle models) and what the analyzer's recommendations would reclaim. Nothing is applied: see inferwatch recommend.",
      tags: ["capacity", "recommendations"],
    },
    [
      labelVariable("pool", "Pool", M.fleetFragmentation.name, "Node pool (analyzer.pools)."),
      labelVariable("node", "Node", M.gpuInfo.name, "GPU node."),
      labelVariable("model", "Model", M.gpuPodInfo.name, "Served model (pod label)."),
    ],
    [
      {
        title: "Recommendations",
        panels: [
          statPanel({
            title: "Reclaimable GPUs",
            description:
              "GPUs the current recommendations would free in the selected pools (consolidation plus idle eviction).",
            unit: "short",
            width: 8,
            queries: [{ expr: `sum(${selector(M.recommendationGpus.name, [POOL])})`, instant: true }],
          }),
          statPanel({
            title: "Consolidation moves",
            description: "Replica moves in the selected pools' consolidation plans.",
            unit: "short",
            width: 8,
            queries: [{ expr: `sum(${selector(M.recommendationMoves.name, [POOL])})`, instant: true }],
          }),
          statPanel({
            title: "Idle replicas",
            description: "Replicas recommended for eviction or scale to zero (no traffic past their time to live).",
            unit: "short",
            width: 8,
            queries: [{ expr: `sum(${selector(M.recommendationIdle.name, [POOL])})`, instant: true }],
          }),
          timeseriesPanel({
            title: "Reclaimable GPUs per pool",
            description:
              "GPUs the recommendations would free, per pool, over time: a steady value is capacity paid for and not used.",
            unit: "short",
            min: 0,
            queries: [{ expr: selector(M.recommendationGpus.name, [POOL]), legend: "{{pool}}" }],
          }),
          timeseriesPanel({
            title: "Moves and idle replicas per pool",
            description: "Size of each pool's consolidation plan and its idle-eviction candidates.",
            unit: "short",
            min: 0,
            queries: [
              { expr: selector(M.recommendationMoves.name, [POOL]), legend: "{{pool}} moves" },
              { expr: selector(M.recommendationIdle.name, [POOL]), legend: "{{pool}} idle replicas" },
            ],
          }),
        ],
      },
      {
        title: "Fragmentation",
        panels: [
          timeseriesPanel({
            title: "Fragmentation per pool",
            description:
              "FGD expected fragmentation (Weng et al., ATC 2023): share of the pool's free GPU memory the replica shapes seen in the fleet cannot use.",
            unit: "percentunit",
            min: 0,
            max: 1,
            queries: [{ expr: selector(M.fleetFragmentation.name, [POOL]), legend: "{{pool}}" }],
          }),
          timeseriesPanel({
            title: "Stranded GPU memory per pool",
            description: "Free GPU memory in pieces too small for any replica shape seen in the fleet.",
            unit: "bytes",
            min: 0,
            queries: [{ expr: selector(M.fleetStranded.name, [POOL]), legend: "{{pool}}" }],
          }),
          timeseriesPanel({
            title: "Free GPU memory by node",
            description: "Device memory not in use on each node's GPUs (stranded or usable).",
            unit: "bytes",
            min: 0,
            queries: [
              {
                expr: `sum by (node) (${selector(M.memoryTotal.name, [NODE])}) - sum by (node) (${selector(M.memoryUsed.name, [NODE])})`,
                legend: "{{node}}",
              },
            ],
          }),
          timeseriesPanel({
            title: "Pool utilization against the target",
            description: `The analyzer's hourly GPU utilization per pool, on the basis in each legend (sm: SM activity, busy: time a kernel ran, mixed: sm where reported); the dashed line is the ${targetPercent} objective. Pools under it are where consolidation pays.`,
            unit: "percentunit",
            min: 0,
            max: 1,
            threshold: { value: options.utilizationTarget, below: "orange", above: "green" },
            queries: [{ expr: selector(M.fleetUtilization.name, [POOL]), legend: "{{pool}} ({{basis}})" }],
          }),
        ],
      },
      {
        title: "Idle models",
        panels: [
          tablePanel({
            title: "Models holding GPUs without traffic",
            description:
              "GPUs held per model (inferwatch_gpu_pod_info) for models that finished no request in the dashboard's time range.",
            unit: "short",
            queries: [
              {
                expr: `count by (model) (${selector(M.gpuPodInfo.name, [MODEL, matcher("model", "!=", "")])}) unless on (model) (sum by (model) (increase(${selector(M.llmRequests.name, [MODEL])}[$__range])) > 0)`,
                instant: true,
                format: "table",
              },
            ],
          }),
          timeseriesPanel({
            title: "GPUs held per model",
            description: "GPUs the kubelet assigned to each model's pods.",
            unit: "short",
            min: 0,
            queries: [
              {
                expr: `count by (model) (${selector(M.gpuPodInfo.name, [MODEL, matcher("model", "!=", "")])})`,
                legend: "{{model}}",
              },
            ],
          }),
          timeseriesPanel({
            title: "Time since the last request",
            description:
              "Seconds since each model's last request ended; past the tier's time to live (latency 30 min, batch 10 min by default) its extra replicas are eviction candidates.",
            unit: "s",
            min: 0,
            queries: [
              { expr: `time() - max by (model) (${selector(M.llmLastRequest.name, [MODEL])})`, legend: "{{model}}" },
            ],
          }),
        ],
      },
    ],
  );
}
