/**
 * A few hours of fleet history as OpenMetrics text for `promtool tsdb create-blocks-from
 * openmetrics`: the simulated fleet's agent series exactly as `writeHistory` produces them for the
 * analyzer's stores (GPU utilization, memory, power, energy, holders, the LLM histograms, requests,
 * tokens), plus, for every other metric of the METRICS catalog and every recording rule the
 * dashboards read, synthetic series with the catalog's labels, taking label values from the
 * simulated fleet where the label is shared (node, gpu, uuid, model, pod, …) so joins and filters
 * behave as on a real fleet. Counters grow, gauges hold plausible values, histograms fill buckets.
 */
import { writeHistory } from "../../cli/simulate/history.js";
import { windowDurationsMs } from "../../common/slo/windows.js";
import { formatDurationMs } from "../../common/config/duration.js";
import {
  GPU_LABELS,
  LLM_LABELS,
  METRICS,
  POD_LABELS,
  RECORDING_RULES,
  type MetricDef,
} from "../../common/conventions.js";
import { compileFleet } from "../../cli/simulate/fleet-model.js";
import type { Scenario } from "../../cli/simulate/scenario.js";

type Labels = Readonly<Record<string, string>>;

interface Family {
  readonly type: "gauge" | "counter" | "histogram";
  /** Series key → labels and samples `[value, seconds]` in time order. */
  readonly series: Map<
    string,
    { readonly name: string; readonly labels: Labels; readonly samples: [number, number][] }
  >;
}

/** Values of labels no simulated series carries. */
const FIXED_LABELS: Readonly<Record<string, string>> = {
  reason: "sw_power_cap",
  xid: "79",
  link: "0",
  field: "power_limit",
  pid: "4242",
  gpu_instance: "1",
  compute_instance: "0",
  profile: "1g.10gb",
  mig_uuid: "MIG-00000000-0000-0000-0000-000000000001",
  collector: "gpu",
  period: "1m",
  path: "/models",
  mount: "/models",
  device: "nvme0n1",
  interface: "eth0",
  outcome: "recorded",
  result: "sent",
  version: "0.1.0",
  node_version: "v20.19.0",
  driver_version: "550.54.15",
  nvml_version: "12.550.54.15",
  cuda_driver_version: "12040",
  library: "libnvidia-ml.so.1",
  pci_bus_id: "00000000:01:00.0",
  source: "simulated",
  slo: "13b-latency",
  model_class: "13b",
  window: "5m",
  severity: "page",
  type: "uncorrected",
  runtime: "vllm",
  status: "ok",
  sink: "influx",
  kind: "latency",
};

function key(labels: Labels): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** What {@link syntheticHistory} wrote, for assertions. */
export interface SyntheticHistory {
  readonly openMetrics: string;
  readonly nodes: readonly string[];
  readonly gpus: number;
  readonly models: readonly string[];
  readonly pools: readonly string[];
  /** Node names of each pool, and GPUs per pool, in the scenario. */
  readonly poolNodes: Readonly<Record<string, readonly string[]>>;
  readonly gpusByPool: Readonly<Record<string, number>>;
  readonly gpusByNode: Readonly<Record<string, number>>;
  /** Models whose replicas hold GPUs and serve no traffic in the scenario. */
  readonly idleModels: readonly string[];
  /** Catalog metrics that came from the synthetic generator (not the fleet simulation). */
  readonly synthesized: readonly string[];
}

/**
 * `hours` of history ending at `endMs`, one sample a `stepMs`, of the scenario's fleet, with every
 * catalog metric present.
 */
export function syntheticHistory(
  scenario: Scenario,
  options: { readonly endMs: number; readonly hours: number; readonly stepMs: number },
): SyntheticHistory {
  const families = new Map<string, Family>();
  const typeOf = new Map<string, MetricDef["type"]>(Object.values(METRICS).map((m) => [m.name, m.type]));
  const add = (
    family: string,
    type: Family["type"],
    name: string,
    labels: Labels,
    value: number,
    atMs: number,
  ): void => {
    let f = families.get(family);
    if (!f) families.set(family, (f = { type, series: new Map() }));
    const k = `${name}{${key(labels)}}`;
    let s = f.series.get(k);
    if (!s) f.series.set(k, (s = { name, labels, samples: [] }));
    s.samples.push([value, atMs / 1000]);
  };
  const seen = new Set<string>();
  const gpuTemplates = new Map<string, Labels>();
  const llmTemplates = new Map<string, Labels>();
  // 400 draws per latency table (the default is 2,000) is plenty for dashboards and 5× faster.
  writeHistory(
    scenario,
    {
      endMs: options.endMs,
      originMs: options.endMs,
      days: options.hours / 24,
      stepMs: options.stepMs,
      samplesPerTable: 400,
    },
    (name, labels, value, atMs) => {
      const base = name.replace(/_(bucket|sum|count)$/, "");
      const histogram = base !== name && typeOf.get(base) === "histogram";
      const family = histogram ? base : name;
      const type = typeOf.get(family) ?? "gauge";
      seen.add(family);
      if (family === METRICS.utilization.name) gpuTemplates.set(labels["uuid"] ?? "", labels);
      if (family === METRICS.llmRequests.name) {
        const { status: _status, ...rest } = labels;
        llmTemplates.set(key(rest), rest);
      }
      add(type === "counter" ? family.replace(/_total$/, "") : family, type, name, labels, value, atMs);
    },
  );

  const fleet = compileFleet(scenario, { originMs: options.endMs });
  const nodes = fleet.nodes.map((n) => n.name);
  const pools = [...new Set(fleet.nodes.map((n) => n.pool))];
  const steps = Math.floor((options.hours * 3_600_000) / options.stepMs);
  const startMs = options.endMs - steps * options.stepMs;
  const gpuLabelSet = new Set<string>([...GPU_LABELS, ...POD_LABELS]);
  const llmLabelSet = new Set<string>(LLM_LABELS);

  /** The label sets of a synthesized metric: one per GPU, per LLM series, per node, per pool, or one. */
  const labelSets = (def: MetricDef): Labels[] => {
    const project = (template: Labels): Labels => {
      const out: Record<string, string> = {};
      for (const label of def.labels) {
        const value = template[label] ?? FIXED_LABELS[label];
        if (value !== undefined) out[label] = value;
      }
      return out;
    };
    if (def.labels.includes("uuid")) return [...gpuTemplates.values()].map(project);
    if (
      def.labels.includes("model") &&
      def.labels.every((l) => llmLabelSet.has(l) || FIXED_LABELS[l] !== undefined) &&
      !def.labels.some((l) => gpuLabelSet.has(l) && !llmLabelSet.has(l))
    ) {
      return [...llmTemplates.values()].map(project);
    }
    if (def.labels.includes("pool")) return pools.map((pool) => project({ pool }));
    if (def.labels.includes("node")) return nodes.map((node) => project({ node }));
    return [project({})];
  };

  const gaugeValue = (name: string, step: number, atMs: number): number => {
    if (name.endsWith("_timestamp_seconds")) return atMs / 1000 - 30;
    if (name.endsWith("_ratio")) return 0.3 + 0.4 * ((step % 10) / 10);
    if (name.endsWith("_bytes")) return 8 * 1024 ** 3;
    if (name.endsWith("_hertz")) return 1.4e9;
    if (name.endsWith("_watts")) return 400;
    if (name.endsWith("_seconds")) return 0.5;
    return 1;
  };

  const synthesized: string[] = [];
  for (const def of Object.values(METRICS)) {
    if (seen.has(def.name)) continue;
    synthesized.push(def.name);
    const sets = labelSets(def);
    for (let step = 0; step <= steps; step++) {
      const atMs = startMs + step * options.stepMs;
      for (const labels of sets) {
        if (def.type === "counter") add(def.name.replace(/_total$/, ""), "counter", def.name, labels, step * 3, atMs);
        else if (def.type === "gauge") add(def.name, "gauge", def.name, labels, gaugeValue(def.name, step, atMs), atMs);
        else {
          const bounds = [
            ["0.01", 1],
            ["0.05", 3],
            ["0.1", 5],
            ["+Inf", 5],
          ] as const;
          for (const [le, per] of bounds)
            add(def.name, "histogram", `${def.name}_bucket`, { ...labels, le }, step * per, atMs);
          add(def.name, "histogram", `${def.name}_sum`, labels, step * 0.2, atMs);
          add(def.name, "histogram", `${def.name}_count`, labels, step * 5, atMs);
        }
      }
    }
  }
  // The recording rules of alerts/ (their inputs are the series above; here only their outputs).
  const sloLabels = [
    { slo: "13b-latency", model_class: "13b" },
    { slo: "7b-latency", model_class: "7b" },
  ];
  const recorded = [
    ...windowDurationsMs().map((ms) => `${RECORDING_RULES.sloGoodRatio}${formatDurationMs(ms)}`),
    RECORDING_RULES.sloBudgetRemaining,
  ];
  for (let step = 0; step <= steps; step++) {
    const atMs = startMs + step * options.stepMs;
    for (const name of recorded) for (const labels of sloLabels) add(name, "gauge", name, labels, 0.97, atMs);
  }

  const lines: string[] = [];
  for (const [family, { type, series }] of families) {
    lines.push(`# TYPE ${family} ${type}`);
    for (const { name, labels, samples } of series.values()) {
      const text = Object.entries(labels)
        .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
        .join(",");
      for (const [value, seconds] of samples) lines.push(`${name}{${text}} ${value} ${seconds}`);
    }
  }
  lines.push("# EOF", "");
  return {
    openMetrics: lines.join("\n"),
    nodes,
    gpus: fleet.gpus.length,
    models: [...new Set(fleet.replicas.map((r) => r.model.name))],
    pools,
    idleModels: [...new Set(fleet.replicas.filter((r) => r.peakRps === 0).map((r) => r.model.name))],
    synthesized,
    poolNodes: Object.fromEntries(
      pools.map((pool) => [pool, fleet.nodes.filter((n) => n.pool === pool).map((n) => n.name)]),
    ),
    gpusByNode: Object.fromEntries(fleet.nodes.map((n) => [n.name, n.gpus.length])),
    gpusByPool: Object.fromEntries(
      pools.map((pool) => [
        pool,
        fleet.nodes.filter((n) => n.pool === pool).reduce((sum, n) => sum + n.gpus.length, 0),
      ]),
    ),
  };
}
