import { setImmediate as yieldToLoop } from "node:timers/promises";
import { BoundedRegExp } from "../../common/config/safe-regex.js";
import { METRICS } from "../../common/conventions.js";
import type { LabeledValue, LatestReduce, MetricStore, QueryContext } from "../stores/metric-store.js";
import {
  FLEET_SNAPSHOT_VERSION,
  type FleetGpu,
  type FleetNode,
  type FleetReplica,
  type FleetSnapshot,
  type ModelSloState,
} from "./snapshot.js";
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
function utilizationOf(
  figure: { value: number; basis: UtilizationBasis } | undefined,
): Pick<FleetGpu, "utilizationRatio" | "utilizationBasis"> {
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

/** What the assembly reads besides the defaults. */
export interface AssembleOptions {
  /** Cost accounting and deadline of the queries. */
  readonly context?: QueryContext;
  /** Which activity family is each GPU's utilization (falling back to busy time); default `busy`. */
  readonly basis?: UtilizationBasis;
  /** GPUs with an active NVLink link, read earlier (loadNvlinkGpus); read now when absent. */
  readonly nvlinkGpus?: ReadonlySet<string>;
}

/**
 * The GPUs with at least one active NVLink link: `max by (uuid) (inferwatch_gpu_nvlink_link_up)`.
 * One bit per GPU, but Prometheus still reads every link's series (18 per H100: 180,000 for 10,000
 * GPUs), and links change state rarely: the analyzer reads it on its slow interval.
 */
export async function loadNvlinkGpus(
  store: MetricStore,
  atMs: number,
  context: QueryContext = {},
): Promise<ReadonlySet<string>> {
  const rows = await store.latest(
    { metric: METRICS.nvlinkUp.name, atMs, by: ["uuid"], reduce: "max" },
    { ...context, shardBy: "uuid" },
  );
  return new Set(rows.filter((row) => row.value === 1).map((row) => row.labels["uuid"] ?? ""));
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
 * Utilization is on `options.basis` where the GPU reports it, else busy time; a GPU with neither (a
 * MIG GPU without GPM) gets null: unknown, never 0 %.
 *
 * Every query is reduced in the store to the labels the snapshot uses: per-GPU gauges `by (uuid)`
 * (the holder's pod labels, which start new series at every rollout, never leave the store), the
 * NVLink links to one bit per GPU (`max by (uuid)`), the LLM gauges per pod or per node; per-GPU
 * and per-pod answers may be sharded by uuid and pod when they pass the answer-size limit.
 */
export async function assembleFleetSnapshot(
  store: MetricStore,
  atMs: number,
  poolOf: PoolOf,
  slo: Readonly<Record<string, ModelSloState>> = {},
  options: AssembleOptions = {},
): Promise<FleetSnapshot> {
  const context = options.context ?? {};
  const perGpu = { ...context, shardBy: "uuid" };
  const perPod = { ...context, shardBy: "pod" };
  const latest = (metric: string, by: readonly string[], reduce: LatestReduce, where: QueryContext) =>
    store.latest({ metric, atMs, by, reduce }, where);
  const families = basisFamilies(options.basis ?? "busy");
  const [
    [info, total, used, up, remapFailure, withNvlink, podInfo, lastRequest, requests],
    [kvUsage, preemptions],
    utilizationAnswers,
  ] = await Promise.all([
    Promise.all([
      latest(METRICS.gpuInfo.name, ["node", "uuid", "gpu", "gpu_model"], "max", perGpu),
      latest(METRICS.memoryTotal.name, ["uuid"], "max", perGpu),
      latest(METRICS.memoryUsed.name, ["uuid"], "max", perGpu),
      latest(METRICS.gpuUp.name, ["uuid"], "min", perGpu),
      latest(METRICS.remapFailure.name, ["uuid"], "max", perGpu),
      options.nvlinkGpus ?? loadNvlinkGpus(store, atMs, context),
      latest(METRICS.gpuPodInfo.name, ["node", "uuid", "namespace", "pod", "model"], "max", perGpu),
      latest(METRICS.llmLastRequest.name, ["namespace", "pod"], "max", perPod),
      store.increase(
        { metric: METRICS.llmRequests.name, windowMs: RATE_WINDOW_MS, atMs, by: ["namespace", "pod", "tier"] },
        perPod,
      ),
    ]),
    Promise.all([
      latest(METRICS.llmKvCacheUsage.name, ["node"], "max", context),
      store.increase({ metric: METRICS.llmPreemptions.name, windowMs: RATE_WINDOW_MS, atMs, by: ["node"] }, context),
    ]),
    Promise.all(families.map((family) => latest(BASIS_METRIC[family], ["uuid"], "max", perGpu))),
  ]);
  const kvByNode = new Map<string, number>();
  for (const series of kvUsage) {
    const node = series.labels["node"] ?? "";
    if (Number.isFinite(series.value))
      kvByNode.set(node, Math.max(kvByNode.get(node) ?? 0, Math.min(1, Math.max(0, series.value))));
  }
  const preemptionRateByNode = new Map(
    preemptions.map((series) => [series.labels["node"] ?? "", Math.max(0, series.value) / (RATE_WINDOW_MS / 1000)]),
  );
  const totals = index(total, "uuid");
  const useds = index(used, "uuid");
  const utils = new Map<string, { value: number; basis: UtilizationBasis }>();
  for (const { basis: used, value } of pickByBasis(
    families.map((family, i) => ({ basis: family, values: utilizationAnswers[i] ?? [] })),
  )) {
    const uuid = value.labels["uuid"];
    if (uuid !== undefined && Number.isFinite(value.value)) utils.set(uuid, { value: value.value, basis: used });
  }
  const ups = index(up, "uuid");
  const failures = index(remapFailure, "uuid");

  const nodes = new Map<string, FleetNode & { gpus: FleetGpu[] }>();
  const seen = new Set<string>();
  for (const series of info) {
    const { node = "", uuid = "", gpu = "0", gpu_model: gpuModel = "unknown" } = series.labels;
    if (node === "" || uuid === "" || seen.has(uuid)) continue;
    seen.add(uuid);
    const entry = nodes.get(node) ?? {
      name: node,
      pool: poolOf(node),
      labels: {},
      taints: [],
      gpus: [],
      ...(kvByNode.has(node) ? { kvCacheUsage: kvByNode.get(node) as number } : {}),
      ...(preemptionRateByNode.has(node) ? { preemptionRate: preemptionRateByNode.get(node) as number } : {}),
    };
    const memoryTotalBytes = Math.max(0, Math.round(totals.get(uuid) ?? 0));
    entry.gpus.push({
      uuid,
      index: Number(gpu),
      gpuModel,
      memoryTotalBytes,
      memoryUsedBytes: Math.min(memoryTotalBytes, Math.max(0, Math.round(useds.get(uuid) ?? 0))),
      ...utilizationOf(utils.get(uuid)),
      nvlinkDomain: withNvlink.has(uuid) ? `${node}/nvlink` : null,
      isHealthy: ups.get(uuid) !== 0 && failures.get(uuid) !== 1,
    });
    nodes.set(node, entry);
  }

  // The GPUs and the replicas are two passes over fleet-sized answers: let requests in between.
  await yieldToLoop();
  const gpuByUuid = new Map(
    [...nodes.values()].flatMap((node) => node.gpus.map((g) => [g.uuid, { node: node.name, gpu: g }] as const)),
  );
  const holders = new Map<string, number>();
  for (const series of podInfo)
    holders.set(series.labels["uuid"] ?? "", (holders.get(series.labels["uuid"] ?? "") ?? 0) + 1);
  const lastByPod = new Map<string, number>();
  for (const series of lastRequest) {
    const key = `${series.labels["namespace"] ?? ""}/${series.labels["pod"] ?? ""}`;
    lastByPod.set(key, Math.max(lastByPod.get(key) ?? 0, series.value * 1000));
  }
  const rateByPod = new Map<string, { rate: number; tier: string }>();
  for (const series of requests) {
    const key = `${series.labels["namespace"] ?? ""}/${series.labels["pod"] ?? ""}`;
    const previous = rateByPod.get(key);
    rateByPod.set(key, {
      rate: (previous?.rate ?? 0) + series.value / (RATE_WINDOW_MS / 1000),
      tier: series.labels["tier"] || previous?.tier || "default",
    });
  }

  const replicas = new Map<string, FleetReplica & { gpus: string[] }>();
  for (const series of podInfo) {
    const { namespace = "", pod = "", uuid = "", model = "" } = series.labels;
    const placed = gpuByUuid.get(uuid);
    if (!placed || namespace === "" || pod === "") continue;
    const key = `${namespace}/${pod}`;
    const replica = replicas.get(key) ?? {
      id: key,
      model: model || pod,
      namespace,
      pod,
      node: placed.node,
      gpus: [],
      memoryPerGpuBytes: 0,
      tier: rateByPod.get(key)?.tier ?? "default",
      tensorParallel: 0,
      lastRequestAtMs: lastByPod.has(key) ? Math.round(lastByPod.get(key) as number) : null,
      requestRate: rateByPod.get(key)?.rate ?? 0,
      isPinned: false,
      tolerations: [],
      nodeSelector: {},
    };
    if (placed.node !== replica.node || replica.gpus.includes(uuid)) continue;
    replica.gpus.push(uuid);
    replica.tensorParallel = replica.gpus.length;
    replica.memoryPerGpuBytes = Math.max(
      replica.memoryPerGpuBytes,
      Math.floor(placed.gpu.memoryUsedBytes / (holders.get(uuid) ?? 1)),
    );
    replicas.set(key, replica);
  }
  return {
    version: FLEET_SNAPSHOT_VERSION,
    takenAtMs: Math.round(atMs),
    nodes: [...nodes.values()],
    replicas: [...replicas.values()],
    slo: { ...slo },
  };
}
