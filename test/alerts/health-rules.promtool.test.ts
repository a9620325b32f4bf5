/**
 * Every GPU, agent and capacity alert under `promtool test rules`, each with a case where it must
 * fire (labels and rendered annotations checked) and cases where it must not.
 */
import { describe, expect, it } from "vitest";
import { APPLICATION_XIDS, CRITICAL_XIDS, WARNING_XIDS } from "../../alerts/health-rules.js";
import { ALERTS, METRICS } from "../../common/conventions.js";
import { expectedAlert, runPromtoolTests, seriesOf, type TestGroup } from "./promtool.js";
import { GIB } from "../../common/units.js";

const GPU_MODEL = "NVIDIA H100 80GB HBM3";

function gpuLabels(gpu: number, node = "gpu-node-1"): Record<string, string> {
  return { node, gpu: String(gpu), uuid: `GPU-${gpu}`, gpu_model: GPU_MODEL };
}

/** One alert's table row: the series, then when it must fire (with what) and when it must not. */
interface Case {
  readonly name: string;
  readonly interval?: string;
  readonly input: TestGroup["input_series"];
  readonly alert: string;
  readonly fires: { readonly at: string; readonly labels: Record<string, string>; readonly value: string }[];
  readonly silentAt: readonly string[];
}

const XIDS = [...CRITICAL_XIDS, ...WARNING_XIDS, ...APPLICATION_XIDS, 92];
/** Each XID on its own GPU, seen at t = 60 s; the alerts hold for 15 minutes after. */
const xidInput = XIDS.map((xid, index) => ({
  series: seriesOf(METRICS.xidLast.name, { ...gpuLabels(index), xid: String(xid) }),
  values: "60x30",
}));
const xidFires = (xids: readonly number[]) =>
  xids.map((xid) => ({ at: "5m", labels: { ...gpuLabels(XIDS.indexOf(xid)), xid: String(xid) }, value: "" }));

const CASES: readonly Case[] = [
  {
    name: "critical XIDs page; 94, application faults and unlisted XIDs do not",
    input: xidInput,
    alert: ALERTS.gpuXidCritical,
    fires: xidFires(CRITICAL_XIDS),
    silentAt: ["20m"],
  },
  {
    name: "XID 94 opens a ticket",
    input: xidInput,
    alert: ALERTS.gpuXidContainedEcc,
    fires: xidFires(WARNING_XIDS),
    silentAt: ["20m"],
  },
  {
    name: "XIDs 13, 31 and 43 are informational",
    input: xidInput,
    alert: ALERTS.gpuXidApplication,
    fires: xidFires(APPLICATION_XIDS),
    silentAt: ["20m"],
  },
  {
    name: "an uncorrectable ECC error is a ticket; corrected ones are not",
    input: [
      { series: seriesOf(METRICS.eccErrors.name, { ...gpuLabels(0), type: "uncorrected" }), values: "0x5 1x20" },
      { series: seriesOf(METRICS.eccErrors.name, { ...gpuLabels(1), type: "corrected" }), values: "0+5x25" },
    ],
    alert: ALERTS.gpuEccUncorrectable,
    fires: [{ at: "8m", labels: { ...gpuLabels(0), type: "uncorrected" }, value: "1" }],
    silentAt: ["3m", "20m"],
  },
  {
    name: "a failed row remapping pages",
    input: [
      { series: seriesOf(METRICS.remapFailure.name, gpuLabels(0)), values: "0x3 1x5" },
      { series: seriesOf(METRICS.remapFailure.name, gpuLabels(1)), values: "0x8" },
    ],
    alert: ALERTS.gpuRowRemapFailure,
    fires: [{ at: "5m", labels: gpuLabels(0), value: "" }],
    silentAt: ["2m"],
  },
  {
    name: "thermal throttling sustained for 10 minutes is a ticket",
    input: [
      { series: seriesOf(METRICS.throttled.name, { ...gpuLabels(0), reason: "hw_thermal_slowdown" }), values: "1x20" },
      { series: seriesOf(METRICS.throttled.name, { ...gpuLabels(1), reason: "sw_power_cap" }), values: "1x20" },
      // GPU 2 throttles throughout while its holder is rescheduled at 5 minutes: one alert, its `for` not restarted.
      {
        series: seriesOf(METRICS.throttled.name, {
          ...gpuLabels(2),
          namespace: "llm",
          pod: "vllm-a",
          container: "vllm",
          model: "m",
          reason: "hw_thermal_slowdown",
        }),
        values: "1x4",
      },
      {
        series: seriesOf(METRICS.throttled.name, {
          ...gpuLabels(2),
          namespace: "llm",
          pod: "vllm-b",
          container: "vllm",
          model: "m",
          reason: "hw_thermal_slowdown",
        }),
        values: "_x5 1x15",
      },
    ],
    alert: ALERTS.gpuThermalThrottling,
    fires: [
      { at: "12m", labels: gpuLabels(0), value: "" },
      { at: "12m", labels: gpuLabels(2), value: "" },
    ],
    silentAt: ["9m"],
  },
  {
    name: "a power brake sustained for 10 minutes is a ticket; running at the power cap is not",
    input: [
      {
        series: seriesOf(METRICS.throttled.name, { ...gpuLabels(0), reason: "hw_power_brake_slowdown" }),
        values: "1x20",
      },
      { series: seriesOf(METRICS.throttled.name, { ...gpuLabels(1), reason: "sw_power_cap" }), values: "1x20" },
    ],
    alert: ALERTS.gpuPowerThrottling,
    fires: [{ at: "12m", labels: gpuLabels(0), value: "" }],
    silentAt: ["9m"],
  },
  {
    name: "a GPU down for 2 minutes pages",
    input: [
      { series: seriesOf(METRICS.gpuUp.name, gpuLabels(0)), values: "1x2 0x10" },
      { series: seriesOf(METRICS.gpuUp.name, gpuLabels(1)), values: "1x12" },
    ],
    alert: ALERTS.gpuDown,
    fires: [{ at: "6m", labels: gpuLabels(0), value: "" }],
    silentAt: ["3m"],
  },
  {
    name: "a process holding 99% of a GPU's memory is a ticket; vLLM's 90% is not",
    input: [
      {
        series: seriesOf(METRICS.processMemory.name, {
          ...gpuLabels(0),
          namespace: "llm",
          pod: "big-0",
          container: "vllm",
          model: "m",
          pid: "42",
        }),
        values: `${79.2 * GIB}x10`,
      },
      {
        series: seriesOf(METRICS.processMemory.name, {
          ...gpuLabels(1),
          namespace: "llm",
          pod: "ok-0",
          container: "vllm",
          model: "m",
          pid: "43",
        }),
        values: `${72 * GIB}x10`,
      },
      {
        series: seriesOf(METRICS.memoryTotal.name, {
          ...gpuLabels(0),
          namespace: "llm",
          pod: "big-0",
          container: "vllm",
          model: "m",
        }),
        values: `${80 * GIB}x10`,
      },
      {
        series: seriesOf(METRICS.memoryTotal.name, {
          ...gpuLabels(1),
          namespace: "llm",
          pod: "ok-0",
          container: "vllm",
          model: "m",
        }),
        values: `${80 * GIB}x10`,
      },
    ],
    alert: ALERTS.gpuProcessMemoryFull,
    fires: [
      {
        at: "7m",
        labels: { ...gpuLabels(0), namespace: "llm", pod: "big-0", container: "vllm", model: "m", pid: "42" },
        value: "99%",
      },
    ],
    silentAt: ["3m"],
  },
  {
    name: "HBM within 5 °C of its maximum for 5 minutes is a ticket; a cooler GPU or one without a maximum is not",
    input: [
      {
        series: seriesOf(METRICS.memoryTemperature.name, {
          ...gpuLabels(0),
          namespace: "llm",
          pod: "a",
          container: "vllm",
          model: "m",
        }),
        values: "80x2 91x12",
      },
      { series: seriesOf(METRICS.memoryTemperatureMax.name, gpuLabels(0)), values: "95x14" },
      { series: seriesOf(METRICS.memoryTemperature.name, gpuLabels(1)), values: "89x14" },
      { series: seriesOf(METRICS.memoryTemperatureMax.name, gpuLabels(1)), values: "95x14" },
      { series: seriesOf(METRICS.memoryTemperature.name, gpuLabels(2)), values: "99x14" },
    ],
    alert: ALERTS.gpuMemoryOverTemperature,
    fires: [{ at: "9m", labels: gpuLabels(0), value: "91" }],
    silentAt: ["5m"],
  },
  {
    name: "more than 8 PCIe replays a minute for 5 minutes is a ticket; a few are not",
    input: [
      { series: seriesOf(METRICS.pcieReplays.name, gpuLabels(0)), values: "0+20x25" },
      { series: seriesOf(METRICS.pcieReplays.name, gpuLabels(1)), values: "0+5x25" },
    ],
    alert: ALERTS.gpuPcieReplayStorm,
    fires: [{ at: "20m", labels: gpuLabels(0), value: "20" }],
    silentAt: ["2m"],
  },
  {
    name: "a few seconds of hardware power brake in 10 minutes is a ticket; time at the power cap is not",
    input: [
      // GPU 0: braked 1 s every minute for 10 minutes (1.7 % of the time): too short for any gauge sample.
      {
        series: seriesOf(METRICS.throttleTime.name, { ...gpuLabels(0), reason: "hw_power_brake_slowdown" }),
        values: "0+1x20",
      },
      { series: seriesOf(METRICS.throttleTime.name, { ...gpuLabels(1), reason: "power" }), values: "0+30x20" },
      {
        series: seriesOf(METRICS.throttleTime.name, { ...gpuLabels(2), reason: "hw_thermal_slowdown" }),
        values: "0x20",
      },
    ],
    alert: ALERTS.gpuHardwareSlowdown,
    fires: [{ at: "12m", labels: gpuLabels(0), value: "1.667%" }],
    silentAt: [],
  },
  {
    name: "NVML down for 5 minutes is a ticket",
    input: [
      { series: seriesOf(METRICS.nvmlUp.name, { node: "n1" }), values: "0x10" },
      { series: seriesOf(METRICS.nvmlUp.name, { node: "n2" }), values: "1x10" },
    ],
    alert: ALERTS.nvmlDown,
    fires: [{ at: "7m", labels: { node: "n1" }, value: "" }],
    silentAt: ["3m"],
  },
  {
    name: "an agent Prometheus cannot scrape for 5 minutes is a ticket; other jobs are not ours",
    input: [
      { series: seriesOf("up", { job: "inferwatch-agent", instance: "10.0.0.1:9464" }), values: "0x10" },
      { series: seriesOf("up", { job: "node-exporter", instance: "10.0.0.1:9100" }), values: "0x10" },
    ],
    alert: ALERTS.agentDown,
    fires: [{ at: "7m", labels: { job: "inferwatch-agent", instance: "10.0.0.1:9464" }, value: "" }],
    silentAt: ["3m"],
  },
  {
    name: "a GPU node without agent series is a ticket; nodes with an agent or without GPUs are not",
    input: [
      { series: seriesOf("kube_node_status_capacity", { node: "gpu-a", resource: "nvidia_com_gpu" }), values: "8x20" },
      { series: seriesOf("kube_node_status_capacity", { node: "gpu-b", resource: "nvidia_com_gpu" }), values: "8x20" },
      { series: seriesOf("kube_node_status_capacity", { node: "cpu-a", resource: "nvidia_com_gpu" }), values: "0x20" },
      {
        series: seriesOf(METRICS.buildInfo.name, { node: "gpu-a", version: "0.1.0", node_version: "v20" }),
        values: "1x20",
      },
    ],
    alert: ALERTS.agentAbsent,
    fires: [{ at: "17m", labels: { node: "gpu-b" }, value: "8" }],
    silentAt: ["10m"],
  },
  {
    name: "an agent serving 2-minute-old samples for 5 minutes is a ticket",
    input: [
      { series: seriesOf(METRICS.sampleAge.name, { node: "n1", collector: "gpu" }), values: "120x10" },
      { series: seriesOf(METRICS.sampleAge.name, { node: "n1", collector: "host" }), values: "3x10" },
    ],
    alert: ALERTS.agentSamplesStale,
    fires: [{ at: "7m", labels: { node: "n1", collector: "gpu" }, value: "2m 0s" }],
    silentAt: ["3m"],
  },
  {
    name: "a pool averaging 30% over a day is a ticket; one at 80% is not",
    interval: "10m",
    input: [
      { series: seriesOf(METRICS.fleetUtilization.name, { pool: "batch" }), values: "0.3x170" },
      { series: seriesOf(METRICS.fleetUtilization.name, { pool: "latency" }), values: "0.8x170" },
    ],
    alert: ALERTS.poolUtilizationLow,
    fires: [{ at: "26h", labels: { pool: "batch" }, value: "30%" }],
    silentAt: ["30m"],
  },
  {
    name: "fragmentation above half for 6 hours is a ticket",
    interval: "4m",
    input: [
      { series: seriesOf(METRICS.fleetFragmentation.name, { pool: "batch" }), values: "0.7x110" },
      { series: seriesOf(METRICS.fleetFragmentation.name, { pool: "latency" }), values: "0.2x110" },
    ],
    alert: ALERTS.poolFragmentationHigh,
    fires: [{ at: "7h", labels: { pool: "batch" }, value: "70%" }],
    silentAt: ["5h"],
  },
  {
    name: "two GPUs reclaimable for a day is a ticket; one is not",
    interval: "4m",
    input: [
      { series: seriesOf(METRICS.recommendationGpus.name, { pool: "batch" }), values: "3x380" },
      { series: seriesOf(METRICS.recommendationGpus.name, { pool: "latency" }), values: "1x380" },
    ],
    alert: ALERTS.gpusReclaimable,
    fires: [{ at: "25h", labels: { pool: "batch" }, value: "3" }],
    silentAt: ["23h"],
  },
  {
    name: "idle replicas flagged for an hour are a ticket",
    interval: "4m",
    input: [
      { series: seriesOf(METRICS.recommendationIdle.name, { pool: "batch" }), values: "2x35" },
      { series: seriesOf(METRICS.recommendationIdle.name, { pool: "latency" }), values: "0x35" },
    ],
    alert: ALERTS.idleModelsHoldingGpus,
    fires: [{ at: "2h", labels: { pool: "batch" }, value: "2" }],
    silentAt: ["50m"],
  },
];

/** The cases as promtool test groups; the health and capacity groups only (the SLO groups have their own suite). */
function toGroup(c: Case): TestGroup {
  const byTime = new Map<string, Case["fires"]>();
  for (const fire of c.fires) byTime.set(fire.at, [...(byTime.get(fire.at) ?? []), fire]);
  return {
    name: c.name,
    interval: c.interval ?? "1m",
    input_series: c.input,
    alert_rule_test: [
      ...[...byTime.entries()].map(([at, fires]) => ({
        eval_time: at,
        alertname: c.alert,
        exp_alerts: fires.map((f) => expectedAlert(c.alert, f.labels, f.value)),
      })),
      ...c.silentAt.map((at) => ({ eval_time: at, alertname: c.alert, exp_alerts: [] })),
    ],
  };
}

describe("GPU, agent and capacity alerts under promtool", { timeout: 120_000 }, () => {
  it("cover every alert outside the SLO groups", () => {
    const covered = new Set(CASES.map((c) => c.alert));
    const expected = Object.values(ALERTS).filter(
      (name) => name !== ALERTS.sloBurn && name !== ALERTS.sloBudgetExhausted,
    );
    expect([...covered].sort()).toEqual([...expected].sort());
  });

  it("sort the XIDs as the runbooks list them (the cases below are built from these lists)", () => {
    expect([...CRITICAL_XIDS].sort((a, b) => a - b)).toEqual([48, 62, 64, 74, 79, 95, 119, 120]);
    expect([...WARNING_XIDS]).toEqual([94]);
    expect([...APPLICATION_XIDS].sort((a, b) => a - b)).toEqual([13, 31, 43]);
  });

  it.each(CASES.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const result = await runPromtoolTests([toGroup(c)], /^inferwatch-(gpu|agent|capacity)/);
    expect(result.code, result.output).toBe(0);
  });
});
