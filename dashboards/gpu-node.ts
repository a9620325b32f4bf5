/**
 * GPU node detail: every GPU of the selected nodes, the processes and pods on them, and the
 * health of the node's agent.
 */
import { matcher, selector } from "../common/promql.js";
import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { METRICS } from "../common/conventions.js";
import { buildDashboard, labelVariable } from "./layout.js";
import { statPanel, tablePanel, timeseriesPanel } from "./panels.js";
import { NODE, RATE } from "./promql.js";

/** Stable identity of the GPU node dashboard. */
export const GPU_NODE = { uid: "inferwatch-gpu-node", title: "inferwatch / GPU node" } as const;

const M = METRICS;
const GPU = `${NODE}, gpu=~"$gpu"`;
const PER_GPU = "{{node}} GPU {{gpu}}";

/** The GPU node detail dashboard. */
export function gpuNode(): Dashboard {
  return buildDashboard(
    {
      ...GPU_NODE,
      description:
        "Per-GPU telemetry of the selected nodes from NVML, the processes and pods holding the GPUs, and the agent's own health.",
      tags: ["gpu", "node"],
    },
    [
      labelVariable("node", "Node", M.gpuInfo.name, "GPU node."),
      labelVariable("gpu", "GPU", selector(M.gpuInfo.name, [NODE]), "GPU index on the node."),
    ],
    [
      {
        title: "Node",
        panels: [
          statPanel({
            title: "NVML up",
            description:
              "1 when the agent has the NVML library loaded and initialised; 0 means no GPU series are served (see the agent's log).",
            unit: "bool_yes_no",
            queries: [{ expr: `min(${selector(M.nvmlUp.name, [NODE])})`, instant: true }],
            steps: [
              { value: null, color: "red" },
              { value: 1, color: "green" },
            ],
          }),
          statPanel({
            title: "GPUs answering",
            description: "Share of the nodes' GPUs that answered their last NVML sample.",
            unit: "percentunit",
            queries: [{ expr: `avg(${selector(M.gpuUp.name, [NODE])})`, instant: true }],
            steps: [
              { value: null, color: "red" },
              { value: 1, color: "green" },
            ],
          }),
          statPanel({
            title: "Pod mapping up",
            description: "1 when the last kubelet pod-resources refresh succeeded (GPU-to-pod attribution).",
            unit: "bool_yes_no",
            queries: [{ expr: `min(${selector(M.podResourcesUp.name, [NODE])})`, instant: true }],
            steps: [
              { value: null, color: "orange" },
              { value: 1, color: "green" },
            ],
          }),
          statPanel({
            title: "Host CPU",
            description: "Share of the nodes' CPU time not idle.",
            unit: "percentunit",
            queries: [{ expr: `avg(${selector(M.hostCpuUtilization.name, [NODE])})`, instant: true }],
          }),
          statPanel({
            title: "Host memory available",
            description: "Host memory available to new work.",
            unit: "bytes",
            queries: [{ expr: `sum(${selector(M.hostMemoryAvailable.name, [NODE])})`, instant: true }],
          }),
          statPanel({
            title: "Model volume free",
            description: "Free space on the volume holding model weights.",
            unit: "bytes",
            queries: [{ expr: `min(${selector(M.hostVolumeFree.name, [NODE])})`, instant: true }],
          }),
          tablePanel({
            title: "GPUs",
            description: "Identity of every GPU: model, UUID, driver, PCI bus id, and whether it is simulated.",
            unit: "short",
            width: 24,
            queries: [{ expr: selector(M.gpuInfo.name, [GPU]), instant: true, format: "table" }],
          }),
        ],
      },
      {
        title: "Per GPU",
        panels: [
          timeseriesPanel({
            title: "Busy time (utilization.gpu)",
            description:
              "Share of each sample period in which one or more kernels ran on the GPU (NVML utilization.gpu): a decode step that keeps one small kernel busy reads 100 %. Not reported on a MIG-enabled GPU.",
            unit: "percentunit",
            min: 0,
            max: 1,
            queries: [{ expr: `max by (node, gpu) (${selector(M.utilization.name, [GPU])})`, legend: PER_GPU }],
          }),
          timeseriesPanel({
            title: "SM, tensor and DRAM activity (GPM)",
            description:
              "What the GPU did over each sampling interval (NVML GPM, Hopper and newer; dcgm-exporter's DCGM_FI_PROF_*): share of SMs busy, share of time the tensor pipes ran, share of the memory bandwidth used.",
            unit: "percentunit",
            min: 0,
            max: 1,
            queries: [
              { expr: `max by (node, gpu) (${selector(M.smActive.name, [GPU])})`, legend: `${PER_GPU} SM` },
              { expr: `max by (node, gpu) (${selector(M.tensorActive.name, [GPU])})`, legend: `${PER_GPU} tensor` },
              { expr: `max by (node, gpu) (${selector(M.dramActive.name, [GPU])})`, legend: `${PER_GPU} DRAM` },
            ],
          }),
          timeseriesPanel({
            title: "MIG instance SM activity (GPM)",
            description: "SM activity of each MIG GPU instance (nvmlGpmMigSampleGet).",
            unit: "percentunit",
            min: 0,
            max: 1,
            queries: [
              {
                expr: `max by (node, gpu, gpu_instance, profile) (${selector(M.migSmActive.name, [GPU])})`,
                legend: `${PER_GPU} GI {{gpu_instance}} {{profile}}`,
              },
            ],
          }),
          timeseriesPanel({
            title: "Memory bandwidth utilization",
            description: "Share of each sample period in which device memory was read or written.",
            unit: "percentunit",
            min: 0,
            max: 1,
            queries: [{ expr: `max by (node, gpu) (${selector(M.memoryUtilization.name, [GPU])})`, legend: PER_GPU }],
          }),
          timeseriesPanel({
            title: "Memory used",
            description: "Device memory in use per GPU; the total is the dashed series.",
            unit: "bytes",
            min: 0,
            queries: [
              { expr: `max by (node, gpu) (${selector(M.memoryUsed.name, [GPU])})`, legend: PER_GPU },
              { expr: `max by (node, gpu) (${selector(M.memoryTotal.name, [GPU])})`, legend: `${PER_GPU} total` },
            ],
          }),
          timeseriesPanel({
            title: "Temperature",
            description: "GPU die temperature, and the HBM's beside it (its maximum operating temperature dashed).",
            unit: "celsius",
            queries: [
              { expr: `max by (node, gpu) (${selector(M.temperature.name, [GPU])})`, legend: PER_GPU },
              { expr: `max by (node, gpu) (${selector(M.memoryTemperature.name, [GPU])})`, legend: `${PER_GPU} HBM` },
              {
                expr: `max by (node, gpu) (${selector(M.memoryTemperatureMax.name, [GPU])})`,
                legend: `${PER_GPU} HBM max`,
              },
            ],
          }),
          timeseriesPanel({
            title: "Power and limit",
            description: "Power draw per GPU and its enforced power limit.",
            unit: "watt",
            min: 0,
            queries: [
              { expr: `max by (node, gpu) (${selector(M.power.name, [GPU])})`, legend: PER_GPU },
              { expr: `max by (node, gpu) (${selector(M.powerLimit.name, [GPU])})`, legend: `${PER_GPU} limit` },
            ],
          }),
          timeseriesPanel({
            title: "SM clock",
            description: "Current SM clock per GPU; a drop under load with a throttle reason below means throttling.",
            unit: "hertz",
            min: 0,
            queries: [{ expr: `max by (node, gpu) (${selector(M.smClock.name, [GPU])})`, legend: PER_GPU }],
          }),
          timeseriesPanel({
            title: "Clock throttle reasons",
            description:
              "1 while the GPU's clocks are held down for the reason (NVML clock-event reasons; gpu_idle is normal when idle).",
            unit: "short",
            min: 0,
            max: 1,
            queries: [
              {
                expr: `max by (node, gpu, reason) (${selector(M.throttled.name, [GPU])})`,
                legend: `${PER_GPU} {{reason}}`,
              },
            ],
          }),
          timeseriesPanel({
            title: "Throttle time",
            description:
              "Share of each interval the clocks were held down, by reason (NVML throttle-time counters): catches brakes shorter than a sample.",
            unit: "percentunit",
            min: 0,
            queries: [
              {
                expr: `sum by (node, gpu, reason) (rate(${selector(M.throttleTime.name, [GPU])}[${RATE}]))`,
                legend: `${PER_GPU} {{reason}}`,
              },
            ],
          }),
          timeseriesPanel({
            title: "PCIe replays",
            description: "PCIe replays per second (link-level retransmissions); over 8 a minute is a degrading link.",
            unit: "short",
            min: 0,
            queries: [
              { expr: `sum by (node, gpu) (rate(${selector(M.pcieReplays.name, [GPU])}[${RATE}]))`, legend: PER_GPU },
            ],
          }),
          timeseriesPanel({
            title: "ECC errors",
            description: "ECC memory errors per interval, by corrected|uncorrected; uncorrected errors page.",
            unit: "short",
            min: 0,
            queries: [
              {
                expr: `sum by (node, gpu, type) (increase(${selector(M.eccErrors.name, [GPU])}[${RATE}]))`,
                legend: `${PER_GPU} {{type}}`,
              },
            ],
          }),
          timeseriesPanel({
            title: "XID errors",
            description: "XID critical-error events per interval, by XID code (48, 62, 64, 74, 79, 95, 119, 120 page).",
            unit: "short",
            min: 0,
            queries: [
              {
                expr: `sum by (node, gpu, xid) (increase(${selector(M.xidErrors.name, [GPU])}[${RATE}]))`,
                legend: `${PER_GPU} XID {{xid}}`,
              },
            ],
          }),
          timeseriesPanel({
            title: "Row remapping",
            description:
              "1 when a row remapping waits for a GPU reset (pending) or has failed (the GPU needs service).",
            unit: "short",
            min: 0,
            max: 1,
            queries: [
              { expr: `max by (node, gpu) (${selector(M.remapPending.name, [GPU])})`, legend: `${PER_GPU} pending` },
              { expr: `max by (node, gpu) (${selector(M.remapFailure.name, [GPU])})`, legend: `${PER_GPU} failed` },
            ],
          }),
          timeseriesPanel({
            title: "NVLink links up",
            description: "Active NVLink links per GPU; a drop splits tensor-parallel replicas' NVLink domain.",
            unit: "short",
            min: 0,
            queries: [{ expr: `sum by (node, gpu) (${selector(M.nvlinkUp.name, [GPU])})`, legend: PER_GPU }],
          }),
          timeseriesPanel({
            title: "GPU up",
            description: "1 when the GPU answered its last NVML sample, 0 when lost or failing.",
            unit: "short",
            min: 0,
            max: 1,
            queries: [{ expr: `max by (node, gpu) (${selector(M.gpuUp.name, [GPU])})`, legend: PER_GPU }],
          }),
        ],
      },
      {
        title: "Processes and pods",
        panels: [
          timeseriesPanel({
            title: "GPU memory by process",
            description: "GPU memory of each compute process, labelled with the pod whose cgroup it runs in.",
            unit: "bytes",
            min: 0,
            queries: [
              {
                expr: `max by (node, gpu, namespace, pod, pid) (${selector(M.processMemory.name, [GPU])})`,
                legend: "{{namespace}}/{{pod}} pid {{pid}} (GPU {{gpu}})",
              },
            ],
          }),
          timeseriesPanel({
            title: "GPU memory by pod",
            description: "GPU memory of the pod's processes, summed over its GPUs.",
            unit: "bytes",
            min: 0,
            stacked: true,
            queries: [
              {
                expr: `sum by (namespace, pod) (${selector(M.processMemory.name, [GPU])})`,
                legend: "{{namespace}}/{{pod}}",
              },
            ],
          }),
          timeseriesPanel({
            title: "GPU utilization by pod",
            description:
              "Utilization of GPUs held by exactly one container, by its pod (a GPU shared by several carries no pod labels; see the holders table).",
            unit: "percentunit",
            min: 0,
            max: 1,
            queries: [
              {
                expr: `avg by (namespace, pod, model) (${selector(M.utilization.name, [GPU, matcher("pod", "!=", "")])})`,
                legend: "{{namespace}}/{{pod}} ({{model}})",
              },
            ],
          }),
          tablePanel({
            title: "GPU holders",
            description: "Every container the kubelet assigned a GPU to (inferwatch_gpu_pod_info).",
            unit: "short",
            queries: [{ expr: selector(M.gpuPodInfo.name, [GPU]), instant: true, format: "table" }],
          }),
        ],
      },
      {
        title: "Agent",
        panels: [
          timeseriesPanel({
            title: "Collector success",
            description: "1 when the collector's last run produced a sample.",
            unit: "short",
            min: 0,
            max: 1,
            queries: [
              {
                expr: `min by (node, collector) (${selector(M.collectorSuccess.name, [NODE])})`,
                legend: "{{node}} {{collector}}",
              },
            ],
          }),
          timeseriesPanel({
            title: "Sample age",
            description: "Age of the sample each scrape serves; more than a few intervals means a collector is stuck.",
            unit: "s",
            min: 0,
            queries: [
              {
                expr: `max by (node, collector) (${selector(M.sampleAge.name, [NODE])})`,
                legend: "{{node}} {{collector}}",
              },
            ],
          }),
        ],
      },
    ],
  );
}
