/**
 * GPU and agent health alerts on the agent's own series (common/conventions.ts METRICS).
 *
 * XIDs: NVIDIA's XID catalog (https://docs.nvidia.com/deploy/xid-errors/) sorts the codes by who
 * must act. The ones below need the GPU reset, drained or replaced and page; 94 (a contained ECC
 * error: the driver killed the affected application, the GPU keeps serving) opens a ticket; 13, 31
 * and 43 are faults of the application (illegal address, MMU fault, a stopped channel) and never
 * page. The alert reads `inferwatch_gpu_xid_last_timestamp_seconds`, not `increase()` of the
 * counter, which misses a series' first event (nvidia_gpu_exporter docs/METRICS.md).
 */
import { ALERTS, EXTERNAL_METRICS, METRICS } from "../common/conventions.js";
import { promString } from "../common/promql.js";
import { MINUTE_MS } from "../common/units.js";
import { alertRule, scaled, type RuleContext, type RuleGroup } from "./rule-model.js";

/** XIDs that page: double-bit ECC (48), internal micro-controller halt (62), ECC page retirement or row-remap failure (64), NVLink error (74), GPU fallen off the bus (79), uncontained ECC (95), GSP timeouts and errors (119, 120). */
export const CRITICAL_XIDS: readonly number[] = [48, 62, 64, 74, 79, 95, 119, 120];
/** Contained ECC error: a ticket. */
export const WARNING_XIDS: readonly number[] = [94];
/** Application faults: informational, never routed to a person. */
export const APPLICATION_XIDS: readonly number[] = [13, 31, 43];

/** Thresholds of the health alerts; each is a reading of the signal, not a window (the time scale leaves them alone). */
export const HEALTH_THRESHOLDS = {
  /** An XID alert holds this long after the event (the agent records when it last saw each XID). */
  xidRecentMs: 15 * MINUTE_MS,
  /** A process at this share of the GPU's memory is at the limit (vLLM reserves 90% by default, so below is normal). */
  processMemoryRatio: 0.98,
  /** Seconds a served sample may be old before the agent counts as stale (a hung NVML round, a stuck collector). */
  sampleAgeSeconds: 60,
  /**
   * Degrees below the HBM's maximum operating temperature (NVML_TEMPERATURE_THRESHOLD_MEM_MAX,
   * nvml.h: "Memory Temperature at which the GPU will begin SW slowdown") at which to warn.
   */
  memoryTemperatureMarginCelsius: 5,
  /** PCIe replays per minute above which a link is unhealthy: "8 replays per minute is the maximum recommended by RM" (NVIDIA/DCGM DCGM_LIMIT_MAX_PCIREPLAY_RATE, used by modules/health/DcgmHealthWatch.cpp). */
  pcieReplaysPerMinute: 8,
  /** Share of time under a hardware brake (thermal or power) that alerts: 1 % of ten minutes is six seconds at half clock or less. */
  hardwareSlowdownShare: 0.01,
} as const;

/**
 * Throttle reasons that mean heat; sw_power_cap is left out: a busy GPU runs at its power cap by design.
 * The throttling alerts aggregate to the GPU's own labels: the gauge also carries its holder's pod
 * labels, and a holder rescheduled mid-throttle must not restart the alert's `for`.
 */
const THERMAL_REASONS = ["sw_thermal_slowdown", "hw_thermal_slowdown"];
const POWER_REASONS = ["hw_slowdown", "hw_power_brake_slowdown"];

function xidSelector(xids: readonly number[]): string {
  return `${METRICS.xidLast.name}{xid=~${promString(xids.join("|"))}}`;
}

const GPU = "{{ $labels.node }} GPU {{ $labels.gpu }} ({{ $labels.gpu_model }}, {{ $labels.uuid }})";
/** A GPU's own labels: gauges with pod labels are reduced to them so a rescheduled holder never restarts an alert's `for`. */
const BY_GPU = "by (node, gpu, uuid, gpu_model)";
const HARDWARE_BRAKES = ["hw_thermal_slowdown", "hw_power_brake_slowdown"];

/** HBM temperature, PCIe replays and hardware-brake time: the dcgm-exporter parity alerts. */
function parityAlerts(context: RuleContext) {
  const t = HEALTH_THRESHOLDS;
  const window = scaled(context, 10 * MINUTE_MS);
  return [
    alertRule(context, {
      name: ALERTS.gpuMemoryOverTemperature,
      expr: `max ${BY_GPU} (${METRICS.memoryTemperature.name})\n>= on (node, gpu, uuid) group_left ()\n(max by (node, gpu, uuid) (${METRICS.memoryTemperatureMax.name}) - ${t.memoryTemperatureMarginCelsius})`,
      forMs: 5 * MINUTE_MS,
      severity: "warning",
      summary: "A GPU's HBM is near its maximum operating temperature.",
      description: `${GPU} has memory at {{ $value }} °C, within ${t.memoryTemperatureMarginCelsius} °C of the temperature at which the GPU slows down to protect it; check the node's cooling.`,
    }),
    alertRule(context, {
      name: ALERTS.gpuPcieReplayStorm,
      expr: `rate(${METRICS.pcieReplays.name}[${window}]) * 60 > ${t.pcieReplaysPerMinute}`,
      forMs: 5 * MINUTE_MS,
      severity: "warning",
      summary: "A GPU's PCIe link keeps retransmitting.",
      description: `${GPU} replays {{ $value | humanize }} PCIe transfers a minute (more than ${t.pcieReplaysPerMinute}): the link is degrading; reseat the card or check the riser at the next maintenance window.`,
    }),
    alertRule(context, {
      name: ALERTS.gpuHardwareSlowdown,
      expr: `sum ${BY_GPU} (rate(${METRICS.throttleTime.name}{reason=~${promString(HARDWARE_BRAKES.join("|"))}}[${window}])) > ${t.hardwareSlowdownShare}`,
      severity: "warning",
      summary: "A GPU was braked by hardware (heat or power) for part of the last ten minutes.",
      description: `${GPU} spent {{ $value | humanizePercentage }} of the last 10 minutes under a hardware thermal or power brake, brief slowdowns a sampled gauge misses; check the node's power supplies and cooling.`,
    }),
  ];
}

/** The GPU health group: XIDs, ECC, row remapping, throttling, lost GPUs, memory at the limit, HBM heat, PCIe replays, hardware brakes. */
export function gpuHealthGroup(context: RuleContext): RuleGroup {
  const recent = (xids: readonly number[]) =>
    `time() - ${xidSelector(xids)} < ${Math.round(HEALTH_THRESHOLDS.xidRecentMs / context.timeScale / 1000)}`;
  return {
    name: "inferwatch-gpu-health",
    rules: [
      alertRule(context, {
        name: ALERTS.gpuXidCritical,
        expr: recent(CRITICAL_XIDS),
        severity: "critical",
        summary: "A GPU reported an XID error that needs the GPU reset or serviced.",
        description: `${GPU} reported XID {{ $labels.xid }}; the replicas on it are likely failing. Drain the node and reset or replace the GPU.`,
      }),
      alertRule(context, {
        name: ALERTS.gpuXidContainedEcc,
        expr: recent(WARNING_XIDS),
        severity: "warning",
        summary: "A GPU contained an ECC error by stopping the application that hit it.",
        description: `${GPU} reported XID {{ $labels.xid }} (contained ECC error); the affected process was killed and the GPU keeps serving. Reset it at the next maintenance window.`,
      }),
      alertRule(context, {
        name: ALERTS.gpuXidApplication,
        expr: recent(APPLICATION_XIDS),
        severity: "info",
        summary: "An application on a GPU hit a fault of its own.",
        description: `${GPU} reported XID {{ $labels.xid }}, an application fault (illegal memory access, MMU fault or a stopped channel); look at the runtime's logs, not the hardware.`,
      }),
      alertRule(context, {
        name: ALERTS.gpuEccUncorrectable,
        expr: `increase(${METRICS.eccErrors.name}{type="uncorrected"}[${scaled(context, 10 * MINUTE_MS)}]) > 0`,
        severity: "warning",
        summary: "A GPU reported uncorrectable ECC memory errors.",
        description: `${GPU} counted {{ $value | humanize }} uncorrectable ECC errors in the last 10 minutes; results computed on it may be wrong until it is reset.`,
      }),
      alertRule(context, {
        name: ALERTS.gpuRowRemapFailure,
        expr: `${METRICS.remapFailure.name} == 1`,
        severity: "critical",
        summary: "A GPU failed to remap a faulty memory row and needs service.",
        description: `${GPU} reports a failed row remapping: its memory has a fault it can no longer hide. Drain the node and replace the GPU.`,
      }),
      alertRule(context, {
        name: ALERTS.gpuThermalThrottling,
        expr: `max by (node, gpu, uuid, gpu_model) (${METRICS.throttled.name}{reason=~${promString(THERMAL_REASONS.join("|"))}}) == 1`,
        forMs: 10 * MINUTE_MS,
        severity: "warning",
        summary: "A GPU has been slowed down by heat for ten minutes.",
        description: `${GPU} has held its clocks down for temperature for 10 minutes; check the node's cooling and airflow.`,
      }),
      alertRule(context, {
        name: ALERTS.gpuPowerThrottling,
        expr: `max by (node, gpu, uuid, gpu_model) (${METRICS.throttled.name}{reason=~${promString(POWER_REASONS.join("|"))}}) == 1`,
        forMs: 10 * MINUTE_MS,
        severity: "warning",
        summary: "A GPU has been slowed down by its power supply for ten minutes.",
        description: `${GPU} has been slowed down by a hardware power brake or slowdown signal for 10 minutes; check the node's power supplies.`,
      }),
      alertRule(context, {
        name: ALERTS.gpuDown,
        expr: `${METRICS.gpuUp.name} == 0`,
        forMs: 2 * MINUTE_MS,
        severity: "critical",
        summary: "A GPU stopped answering NVML.",
        description: `${GPU} has not answered NVML for 2 minutes (lost or failing); the replicas on it are down.`,
      }),
      alertRule(context, {
        name: ALERTS.gpuProcessMemoryFull,
        expr: `${METRICS.processMemory.name}\n/ on (node, gpu, uuid) group_left ()\nmax by (node, gpu, uuid) (${METRICS.memoryTotal.name})\n>= ${HEALTH_THRESHOLDS.processMemoryRatio}`,
        forMs: 5 * MINUTE_MS,
        severity: "warning",
        summary: "A process holds nearly all of a GPU's memory.",
        description: `Process {{ $labels.pid }} of {{ $labels.namespace }}/{{ $labels.pod }} holds {{ $value | humanizePercentage }} of ${GPU}'s memory; it will fail to allocate (CUDA out of memory).`,
      }),
      ...parityAlerts(context),
    ],
  };
}

/** The agent health group: NVML, the agent's scrape target, its presence on every GPU node, stale samples. */
export function agentHealthGroup(context: RuleContext): RuleGroup {
  const job = promString(context.agentJob);
  return {
    name: "inferwatch-agent-health",
    rules: [
      alertRule(context, {
        name: ALERTS.nvmlDown,
        expr: `${METRICS.nvmlUp.name} == 0`,
        forMs: 5 * MINUTE_MS,
        severity: "warning",
        summary: "The agent cannot use NVML on a node.",
        description:
          "NVML has been down on {{ $labels.node }} for 5 minutes: no GPU telemetry, XID or ECC alerts from this node until it is back.",
      }),
      alertRule(context, {
        name: ALERTS.agentDown,
        expr: `${EXTERNAL_METRICS.up}{job=${job}} == 0`,
        forMs: 5 * MINUTE_MS,
        severity: "warning",
        summary: "Prometheus cannot scrape an inferwatch agent.",
        description: "The agent at {{ $labels.instance }} has not answered scrapes for 5 minutes.",
      }),
      alertRule(context, {
        name: ALERTS.agentAbsent,
        expr: `max by (node) (${EXTERNAL_METRICS.kubeNodeCapacity}{resource="nvidia_com_gpu"}) > 0\nunless on (node)\nmax by (node) (${METRICS.buildInfo.name})`,
        forMs: 15 * MINUTE_MS,
        severity: "warning",
        summary: "A GPU node has no inferwatch agent reporting.",
        description:
          "{{ $labels.node }} has {{ $value }} GPUs (kube-state-metrics) and no agent series for 15 minutes: check the DaemonSet's nodeSelector, tolerations and pod status.",
      }),
      alertRule(context, {
        name: ALERTS.agentSamplesStale,
        expr: `${METRICS.sampleAge.name} > ${HEALTH_THRESHOLDS.sampleAgeSeconds}`,
        forMs: 5 * MINUTE_MS,
        severity: "warning",
        summary: "An agent keeps serving old samples.",
        description:
          "The {{ $labels.collector }} collector on {{ $labels.node }} serves a sample {{ $value | humanizeDuration }} old: its source is hung or failing.",
      }),
    ],
  };
}
