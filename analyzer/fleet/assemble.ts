import { BoundedRegExp } from "../../common/config/safe-regex.js";
import { METRICS } from "../../common/conventions.js";
import type { LabeledValue, MetricStore } from "../stores/metric-store.js";
import { FLEET_SNAPSHOT_VERSION, type FleetGpu, type FleetNode, type FleetReplica, type FleetSnapshot, type ModelSloState } from "./snapshot.js";
import { BASIS_METRIC, basisFamilies, pickByBasis, type UtilizationBasis } from "./utilization-basis.js";

/** Maps a node name to its pool. */
export type PoolOf = (node: string) => string;

/** A pool function from `{ name, nodes: regex }` rules; unmatched nodes are in `default`. */
export function poolResolver(rules: readonly { readonly name: string; readonly nodes: string }[]): PoolOf {
  const compiled = rules.map((rule) => ({ name: rule.name, pattern: new BoundedRegExp(rule.nodes) }));
  return (node) => compiled.find((rule) => rule.pattern.test(node))?.name ?? "default";
}

const RATE_WINDOW_MS = 5 * 60_000;

/** A GPU's utilization and its basis; null and `unknown` without a figure (never 0 %). */
function utilizationOf(figure: { value: number; basis: UtilizationBasis } | undefined): Pick<FleetGpu, "utilizationRatio" | "utilizationBasis"> {
  if (figure === undefined) return { utilizationRatio: null, utilizationBasis: "unknown" };
  return { utilizationRatio: Math.min(1, Math.max(0, figure.value)), utilizationBasis: figure.basis };
}

function index(values: readonly LabeledValue[], key: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const value of values) {
    const id = value.labels[key];
    if (id !== undefined) map.set(id, value.value);
  }
  return map;
}

/**
 * Assembles the fleet snapshot from the store's latest values: nodes and GPUs from
 * `inferwatch_gpu_info` and the GPU gauges, replicas from `inferwatch_gpu_pod_info` (one replica per
 * pod, its GPUs those the kubelet assigned it), their request rate and last request from the span
 * metrics. A node's KV-cache usage is the highest `inferwatch_llm_kv_cache_usage_ratio` of its
 * runtimes and its preemption rate the increase of `inferwatch_llm_preemptions_total` over five
 * minutes, per second (both absent when no runtime on it is scraped).
 * Memory per GPU of a replica is its GPU's used memory shared among the GPU's holders.
 * A GPU reported down, or whose row remapping failed, is unhealthy (one without an up series yet is not). NVLink peers are the GPUs of a
 * node with an active link (one domain per node: the agent does not report the NVSwitch topology).
 * Utilization is on `basis` where the GPU reports it, else busy time; a GPU with neither (a MIG GPU
 * without GPM) gets null: unknown, never 0 %.
 */
export async function assembleFleetSnapshot(
  store: MetricStore, atMs: number, poolOf: PoolOf, slo: Readonly<Record<string, ModelSloState>> = {}, basis: UtilizationBasis = "busy",
): Promise<FleetSnapshot> {
  const latest = (metric: string) => store.latest({ metric, atMs });
  const families = basisFamilies(basis);
  const [[info, total, used, up, remapFailure, nvlink, podInfo, lastRequest, requests], [kvUsage, preemptions], utilizationAnswers] = await Promise.all([Promise.all([
    latest(METRICS.gpuInfo.name), latest(METRICS.memoryTotal.name), latest(METRICS.memoryUsed.name),
    latest(METRICS.gpuUp.name), latest(METRICS.remapFailure.name), latest(METRICS.nvlinkUp.name), latest(METRICS.gpuPodInfo.name),
    latest(METRICS.llmLastRequest.name), store.increase({ metric: METRICS.llmRequests.name, windowMs: RATE_WINDOW_MS, atMs, by: ["namespace", "pod", "tier"] }),
  ]), Promise.all([
    latest(METRICS.llmKvCacheUsage.name), store.increase({ metric: METRICS.llmPreemptions.name, windowMs: RATE_WINDOW_MS, atMs, by: ["node"] }),
  ]), Promise.all(families.map((family) => latest(BASIS_METRIC[family])))]);
  const kvByNode = new Map<string, number>();
  for (const series of kvUsage) {
    const node = series.labels["node"] ?? "";
    if (Number.isFinite(series.value)) kvByNode.set(node, Math.max(kvByNode.get(node) ?? 0, Math.min(1, Math.max(0, series.value))));
  }
  const preemptionRateByNode = new Map(preemptions.map((series) => [series.labels["node"] ?? "", Math.max(0, series.value) / (RATE_WINDOW_MS / 1000)]));
  const totals = index(total, "uuid");
  const useds = index(used, "uuid");
  const utils = new Map<string, { value: number; basis: UtilizationBasis }>();
  for (const { basis: used, value } of pickByBasis(families.map((family, i) => ({ basis: family, values: utilizationAnswers[i] ?? [] })))) {
    const uuid = value.labels["uuid"];
    if (uuid !== undefined && Number.isFinite(value.value)) utils.set(uuid, { value: value.value, basis: used });
  }
  const ups = index(up, "uuid");
  const failures = index(remapFailure, "uuid");
  const withNvlink = new Set(nvlink.filter((v) => v.value === 1).map((v) => v.labels["uuid"] ?? ""));

  const nodes = new Map<string, FleetNode & { gpus: FleetGpu[] }>();
  const seen = new Set<string>();
  for (const series of info) {
    const { node = "", uuid = "", gpu = "0", gpu_model: gpuModel = "unknown" } = series.labels;
    if (node === "" || uuid === "" || seen.has(uuid)) continue;
    seen.add(uuid);
    const entry = nodes.get(node) ?? {
      name: node, pool: poolOf(node), labels: {}, taints: [], gpus: [],
      ...(kvByNode.has(node) ? { kvCacheUsage: kvByNode.get(node) as number } : {}),
      ...(preemptionRateByNode.has(node) ? { preemptionRate: preemptionRateByNode.get(node) as number } : {}),
    };
    const memoryTotalBytes = Math.max(0, Math.round(totals.get(uuid) ?? 0));
    entry.gpus.push({
      uuid, index: Number(gpu), gpuModel, memoryTotalBytes,
      memoryUsedBytes: Math.min(memoryTotalBytes, Math.max(0, Math.round(useds.get(uuid) ?? 0))),
      ...utilizationOf(utils.get(uuid)),
      nvlinkDomain: withNvlink.has(uuid) ? `${node}/nvlink` : null,
      isHealthy: ups.get(uuid) !== 0 && failures.get(uuid) !== 1,
    });
    nodes.set(node, entry);
  }

  const gpuByUuid = new Map([...nodes.values()].flatMap((node) => node.gpus.map((g) => [g.uuid, { node: node.name, gpu: g }] as const)));
  const holders = new Map<string, number>();
  for (const series of podInfo) holders.set(series.labels["uuid"] ?? "", (holders.get(series.labels["uuid"] ?? "") ?? 0) + 1);
  const lastByPod = new Map<string, number>();
  for (const series of lastRequest) {
    const key = `${series.labels["namespace"] ?? ""}/${series.labels["pod"] ?? ""}`;
    lastByPod.set(key, Math.max(lastByPod.get(key) ?? 0, series.value * 1000));
  }
  const rateByPod = new Map<string, { rate: number; tier: string }>();
  for (const series of requests) {
    const key = `${series.labels["namespace"] ?? ""}/${series.labels["pod"] ?? ""}`;
    const previous = rateByPod.get(key);
    rateByPod.set(key, { rate: (previous?.rate ?? 0) + series.value / (RATE_WINDOW_MS / 1000), tier: series.labels["tier"] || previous?.tier || "default" });
  }

  const replicas = new Map<string, FleetReplica & { gpus: string[] }>();
  for (const series of podInfo) {
    const { namespace = "", pod = "", uuid = "", model = "" } = series.labels;
    const placed = gpuByUuid.get(uuid);
    if (!placed || namespace === "" || pod === "") continue;
    const key = `${namespace}/${pod}`;
    const replica = replicas.get(key) ?? {
      id: key, model: model || pod, namespace, pod, node: placed.node, gpus: [], memoryPerGpuBytes: 0,
      tier: rateByPod.get(key)?.tier ?? "default", tensorParallel: 0,
      lastRequestAtMs: lastByPod.has(key) ? Math.round(lastByPod.get(key) as number) : null,
      requestRate: rateByPod.get(key)?.rate ?? 0, isPinned: false, tolerations: [], nodeSelector: {},
    };
    if (placed.node !== replica.node || replica.gpus.includes(uuid)) continue;
    replica.gpus.push(uuid);
    replica.tensorParallel = replica.gpus.length;
    replica.memoryPerGpuBytes = Math.max(replica.memoryPerGpuBytes, Math.floor(placed.gpu.memoryUsedBytes / (holders.get(uuid) ?? 1)));
    replicas.set(key, replica);
  }
  return { version: FLEET_SNAPSHOT_VERSION, takenAtMs: Math.round(atMs), nodes: [...nodes.values()], replicas: [...replicas.values()], slo: { ...slo } };
}
