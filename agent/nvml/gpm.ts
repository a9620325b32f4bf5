/**
 * GPU Performance Monitoring through NVML (nvml.h "GPM", Hopper and newer): SM, tensor and DRAM
 * activity per GPU and per MIG GPU instance, the figures dcgm-exporter exports as DCGM_FI_PROF_*.
 *
 * Each GPU (and each GPU instance) owns two nvmlGpmSample_t, allocated once and alternated: a
 * round takes one sample into the older buffer and computes the metrics from the previous sample
 * to the new one, so a round costs one nvmlGpmSampleGet and one nvmlGpmMetricsGet. Samples are
 * never taken less than 100 ms apart (nvml.h: "should be greater than 100ms due to the internal
 * sample refresh rate"); a faster round reports the previous figures. Each metric's own return
 * code is checked. Samples are freed when the GPU or instance goes away and when NVML closes.
 */
import {
  GPM_METRIC_SIZE,
  GPM_METRICS_GET_VERSION,
  GPM_METRICS_OFFSET,
  GPM_MIN_INTERVAL_MS,
  GpmMetric,
  NvmlReturn,
} from "./nvml-abi.js";
import type { NvmlCalls } from "./nvml-calls.js";
import type { GpmQuantity, GpmReading } from "./types.js";

/** The metric each quantity comes from. Every id is below 98, the oldest NVML_GPM_METRIC_MAX. */
export const GPM_METRIC_IDS: Readonly<Record<GpmQuantity, number>> = {
  graphics: GpmMetric.GRAPHICS_UTIL,
  sm: GpmMetric.SM_UTIL,
  smOccupancy: GpmMetric.SM_OCCUPANCY,
  tensor: GpmMetric.ANY_TENSOR_UTIL,
  dram: GpmMetric.DRAM_BW_UTIL,
  fp64: GpmMetric.FP64_UTIL,
  fp32: GpmMetric.FP32_UTIL,
  fp16: GpmMetric.FP16_UTIL,
  pcieTx: GpmMetric.PCIE_TX_PER_SEC,
  pcieRx: GpmMetric.PCIE_RX_PER_SEC,
  nvlinkTx: GpmMetric.NVLINK_TOTAL_TX_PER_SEC,
  nvlinkRx: GpmMetric.NVLINK_TOTAL_RX_PER_SEC,
};

const ASKED = Object.entries(GPM_METRIC_IDS) as [GpmQuantity, number][];

/** The longest span one GPM figure may describe: Prometheus's lookback delta, past which a sample is stale anyway. */
export const GPM_MAX_WINDOW_MS = 5 * 60_000;

/** The GPM entry points; a driver without any of them has no GPM for the agent. */
const GPM_FUNCTIONS = [
  "nvmlGpmQueryDeviceSupport",
  "nvmlGpmSampleAlloc",
  "nvmlGpmSampleFree",
  "nvmlGpmSampleGet",
  "nvmlGpmMetricsGet",
] as const;

/** Whether the library has every GPM function the agent calls. */
export function hasGpm(calls: NvmlCalls): boolean {
  return GPM_FUNCTIONS.every((name) => calls.has(name));
}

/** Two samples of one GPU or GPU instance, used alternately. */
export interface GpmPair {
  /** What the pair belongs to (a GPU instance's members): a reused GPU instance id with other members starts afresh. */
  readonly key: string;
  readonly samples: readonly [bigint, bigint];
  /** Which sample holds the latest reading's end; undefined until the first sample. */
  newest: 0 | 1 | undefined;
  takenAtMs: number;
  last: GpmReading | undefined;
}

/** GPM state of one GPU, kept between rounds. */
export interface GpmMemo {
  /** nvmlGpmQueryDeviceSupport's answer, asked once per GPU. */
  support: boolean | undefined;
  device: GpmPair | undefined;
  /** By GPU instance id. */
  readonly instances: Map<number, GpmPair>;
  /** Samples refused with NO_PERMISSION (unprivileged containers, NVIDIA/DCGM issue 214): counted and retried. */
  noPermission: number;
}

/** A fresh memo: nothing asked, no samples. */
export function newGpmMemo(): GpmMemo {
  return { support: undefined, device: undefined, instances: new Map(), noPermission: 0 };
}

/** Allocates a pair, or answers the failing return code (the first sample is freed again then). */
export function allocPair(calls: NvmlCalls, key: string): GpmPair | number {
  let rc = calls.call("nvmlGpmSampleAlloc", calls.handle);
  if (rc !== NvmlReturn.SUCCESS) return rc;
  const first = calls.lastHandle();
  rc = calls.call("nvmlGpmSampleAlloc", calls.handle);
  if (rc !== NvmlReturn.SUCCESS) {
    calls.call("nvmlGpmSampleFree", first);
    return rc;
  }
  return { key, samples: [first, calls.lastHandle()], newest: undefined, takenAtMs: 0, last: undefined };
}

export function freePair(calls: NvmlCalls, pair: GpmPair): void {
  for (const sample of pair.samples) calls.call("nvmlGpmSampleFree", sample);
}

/** Frees every sample of a GPU. Safe twice. */
export function freeGpm(calls: NvmlCalls, memo: GpmMemo): void {
  if (memo.device) freePair(calls, memo.device);
  memo.device = undefined;
  for (const pair of memo.instances.values()) freePair(calls, pair);
  memo.instances.clear();
}

/** The outcome of sampling a pair: the sample call's code, and a reading once two samples exist. */
export interface PairResult {
  readonly rc: number;
  readonly reading?: GpmReading;
}

/**
 * Takes one sample into the pair's older buffer with `take` and computes the metrics since the
 * previous one. Less than 100 ms after the last sample it takes none and returns the last reading.
 * A failed sample leaves the pair as it was, so the next success still has a baseline.
 */
export function samplePair(
  calls: NvmlCalls,
  pair: GpmPair,
  nowMs: number,
  take: (sample: bigint) => number,
): PairResult {
  // A baseline older than the longest span one figure may describe (the GPU was down, or sampling
  // stalled) would average over the gap: this round seeds a fresh one instead.
  if (pair.newest !== undefined && nowMs - pair.takenAtMs > GPM_MAX_WINDOW_MS) pair.newest = undefined;
  const { newest } = pair;
  if (newest !== undefined && nowMs - pair.takenAtMs < GPM_MIN_INTERVAL_MS)
    return { rc: NvmlReturn.SUCCESS, ...(pair.last ? { reading: pair.last } : {}) };
  const target = newest === 0 ? 1 : 0;
  const rc = take(pair.samples[target]);
  if (rc !== NvmlReturn.SUCCESS) return { rc };
  const result = newest === undefined ? undefined : metricsBetween(calls, pair.samples[newest], pair.samples[target]);
  pair.newest = target;
  pair.takenAtMs = nowMs;
  pair.last = result?.reading;
  if (result && result.rc !== NvmlReturn.SUCCESS) return { rc: result.rc };
  return { rc, ...(pair.last ? { reading: pair.last } : {}) };
}

/**
 * nvmlGpmMetricsGet from `older` to `newer`: version 1, the agent's metric ids, the struct
 * allocated at the largest header's size. A metric is kept only when its own nvmlReturn is
 * SUCCESS and its value finite.
 */
export function metricsBetween(calls: NvmlCalls, older: bigint, newer: bigint): { rc: number; reading?: GpmReading } {
  const buffer = calls.gpmMetricsGet();
  buffer.writeUInt32LE(GPM_METRICS_GET_VERSION, 0);
  buffer.writeUInt32LE(ASKED.length, 4);
  buffer.writeBigUInt64LE(older, 8);
  buffer.writeBigUInt64LE(newer, 16);
  buffer.fill(0, GPM_METRICS_OFFSET, GPM_METRICS_OFFSET + ASKED.length * GPM_METRIC_SIZE);
  for (let i = 0; i < ASKED.length; i++)
    buffer.writeUInt32LE((ASKED[i] as [GpmQuantity, number])[1], GPM_METRICS_OFFSET + i * GPM_METRIC_SIZE);
  const rc = calls.call("nvmlGpmMetricsGet", buffer);
  if (rc !== NvmlReturn.SUCCESS) return { rc };
  const reading: { [Q in GpmQuantity]?: number } = {};
  for (let i = 0; i < ASKED.length; i++) {
    const base = GPM_METRICS_OFFSET + i * GPM_METRIC_SIZE;
    if (buffer.readInt32LE(base + 4) !== NvmlReturn.SUCCESS) continue;
    const value = buffer.readDoubleLE(base + 8);
    if (Number.isFinite(value)) reading[(ASKED[i] as [GpmQuantity, number])[0]] = value;
  }
  return Object.keys(reading).length > 0 ? { rc, reading } : { rc };
}

/** Activity quantities (percent): the ones a GPU instance reports and a MIG GPU's figure is derived from. */
const ACTIVITY: readonly GpmQuantity[] = ["graphics", "sm", "smOccupancy", "tensor", "dram", "fp64", "fp32", "fp16"];

/**
 * A MIG-enabled GPU's activity from its GPU instances', for a parent that cannot be sampled itself:
 * each instance weighted by its compute slices (the `Ng` of its profile) out of the GPU's slices
 * (nvmlDeviceGetMaxMigDeviceCount: 7 on A100 and H100), so slices without an instance count as idle.
 * A quantity is derived only when every instance reports it; memory bandwidth is weighted the same
 * way, an approximation (memory slices are not compute slices).
 */
export function deriveFromInstances(
  instances: readonly { readonly slices: number; readonly reading: GpmReading | undefined }[],
  totalSlices: number,
): GpmReading {
  const derived: { [Q in GpmQuantity]?: number } = {};
  const used = instances.reduce((sum, instance) => sum + instance.slices, 0);
  const total = Math.max(totalSlices, used);
  if (instances.length === 0 || total <= 0 || instances.some((instance) => instance.slices <= 0)) return derived;
  for (const quantity of ACTIVITY) {
    let sum = 0;
    let isComplete = true;
    for (const { slices, reading } of instances) {
      const value = reading?.[quantity];
      if (value === undefined) isComplete = false;
      else sum += slices * value;
    }
    if (isComplete) derived[quantity] = sum / total;
  }
  return derived;
}

/** Compute slices of a MIG profile: `3g.40gb` → 3, `1c.3g.40gb` (a compute instance of a 3g instance) → 3; 0 when unknown. */
export function computeSlicesOf(profile: string): number {
  const match = /(?:^|\.)(\d+)g\./.exec(profile);
  return match ? Number(match[1]) : 0;
}
