import { THROTTLE_REASONS } from "../../common/conventions.js";
import type { GpmQuantity, GpmReading, GpuRaw, NvmlSampleRaw, ThrottleTimeReason } from "../nvml/types.js";
import type { PodAttribution, PodRef } from "./pods/pod-attribution.js";
import { KIB, MIB } from "../../common/units.js";

/** A process on a GPU, in base units, with its container where known. */
export interface GpuProcessSample {
  readonly pid: number;
  readonly memoryBytes: number | null;
  readonly holder?: PodRef;
}

/**
 * GPM activity in base units: ratios 0..1 for the activity quantities (`sm`, `tensor`, `dram`, …)
 * and bytes per second for the link rates (`pcieTx`, `nvlinkRx`, …).
 */
export type Activity = { readonly [Q in GpmQuantity]?: number };

/** A MIG device in base units. */
export interface MigDeviceSample {
  readonly uuid: string;
  readonly gpuInstance: number;
  readonly computeInstance: number;
  readonly profile: string;
  readonly memoryTotalBytes?: number;
  readonly memoryUsedBytes?: number;
  /** Its GPU instance's activity. */
  readonly activity?: Activity;
}

/** One GPU's sample in base units (ratios 0..1, bytes, watts, joules, hertz), with its holders. */
export interface GpuSample {
  readonly index: number;
  readonly uuid: string;
  readonly model: string;
  readonly pciBusId: string;
  readonly isUp: boolean;
  readonly downReason?: string;
  /** Containers the kubelet assigned this GPU (or one of its MIG devices) to. */
  readonly holders: readonly PodRef[];
  /** The holder, when exactly one container holds the GPU: its labels go on the GPU's series. */
  readonly holder?: PodRef;
  readonly utilizationRatio?: number;
  readonly memoryUtilizationRatio?: number;
  readonly memoryUsedBytes?: number;
  readonly memoryTotalBytes?: number;
  readonly memoryReservedBytes?: number;
  readonly temperatureCelsius?: number;
  readonly powerWatts?: number;
  readonly powerLimitWatts?: number;
  readonly energyJoules?: number;
  readonly smClockHertz?: number;
  readonly memoryClockHertz?: number;
  /** Every known clock-event reason with whether it is active now. */
  readonly throttle?: readonly { readonly reason: string; readonly isActive: boolean }[];
  readonly eccCorrected?: number;
  readonly eccUncorrected?: number;
  readonly remappedRows?: GpuRaw["remappedRows"];
  readonly nvlinkActive?: readonly boolean[];
  readonly migEnabled?: boolean;
  readonly migDevices?: readonly MigDeviceSample[];
  readonly processes?: readonly GpuProcessSample[];
  readonly isGpmSupported?: boolean;
  readonly activity?: Activity;
  /** `device` when the GPU itself was sampled, `instances` when derived from its MIG GPU instances. */
  readonly activitySource?: "device" | "instances";
  readonly gpmPermissionErrors?: number;
  readonly memoryTemperatureCelsius?: number;
  readonly memoryTemperatureMaxCelsius?: number;
  readonly pcieReplays?: number;
  readonly throttleSeconds?: { readonly [R in ThrottleTimeReason]?: number };
  readonly nvlinkTxBytes?: number;
  readonly nvlinkRxBytes?: number;
  readonly unsupported: readonly string[];
}

/** How processes are mapped to containers (a cache lookup, no I/O). */
export type PidLookup = (pid: number) => PodRef | undefined;

const MHZ = 1e6;
const NS = 1e-9;
const RATES = new Set<GpmQuantity>(["pcieTx", "pcieRx", "nvlinkTx", "nvlinkRx"]);

/** A GPM reading (percent, MiB/s) in base units (ratio, bytes/s). */
export function toActivity(reading: GpmReading | undefined): Activity | undefined {
  if (reading === undefined) return undefined;
  const activity: { [Q in GpmQuantity]?: number } = {};
  for (const [quantity, value] of Object.entries(reading) as [GpmQuantity, number][]) {
    // GPM reports link traffic in MiB/s (nvml.h: "PCIe traffic from this GPU in MiB/sec").
    activity[quantity] = RATES.has(quantity) ? value * MIB : value / 100;
  }
  return activity;
}

function throttleSecondsOf(raw: GpuRaw): GpuSample["throttleSeconds"] {
  if (raw.throttleNs === undefined) return undefined;
  return Object.fromEntries(Object.entries(raw.throttleNs).map(([reason, ns]) => [reason, ns * NS]));
}

function holdersOf(raw: GpuRaw, attribution: PodAttribution): PodRef[] {
  const keys = [raw.uuid, `nvidia${raw.index}`, ...(raw.migDevices ?? []).map((mig) => mig.uuid)];
  const seen = new Map<string, PodRef>();
  for (const key of keys) {
    for (const ref of attribution.byDevice.get(key) ?? [])
      seen.set(`${ref.namespace}/${ref.pod}/${ref.container}`, ref);
  }
  return [...seen.values()];
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** Converts one GPU's raw NVML readings into base units and attaches its holders. Pure. */
export function toGpuSample(raw: GpuRaw, attribution: PodAttribution, pidLookup: PidLookup): GpuSample {
  const holders = holdersOf(raw, attribution);
  const reasons = raw.throttleReasons;
  // The mask is a 64-bit value carried as a Number; division keeps bits above 31 that `&` would drop.
  const throttle =
    reasons === undefined
      ? undefined
      : THROTTLE_REASONS.map(({ bit, reason }) => ({ reason, isActive: Math.floor(reasons / bit) % 2 === 1 }));
  return {
    index: raw.index,
    uuid: raw.uuid,
    model: raw.name,
    pciBusId: raw.pciBusId,
    isUp: raw.isUp,
    ...optional("downReason", raw.downReason),
    holders,
    ...optional("holder", holders.length === 1 ? holders[0] : undefined),
    ...optional(
      "utilizationRatio",
      raw.utilizationGpuPercent === undefined ? undefined : raw.utilizationGpuPercent / 100,
    ),
    ...optional(
      "memoryUtilizationRatio",
      raw.utilizationMemoryPercent === undefined ? undefined : raw.utilizationMemoryPercent / 100,
    ),
    ...optional("memoryUsedBytes", raw.memoryUsedBytes),
    ...optional("memoryTotalBytes", raw.memoryTotalBytes),
    ...optional("memoryReservedBytes", raw.memoryReservedBytes),
    ...optional("temperatureCelsius", raw.temperatureCelsius),
    ...optional("powerWatts", raw.powerMilliwatts === undefined ? undefined : raw.powerMilliwatts / 1000),
    ...optional(
      "powerLimitWatts",
      raw.powerLimitMilliwatts === undefined ? undefined : raw.powerLimitMilliwatts / 1000,
    ),
    ...optional("energyJoules", raw.energyMillijoules === undefined ? undefined : raw.energyMillijoules / 1000),
    ...optional("smClockHertz", raw.smClockMhz === undefined ? undefined : raw.smClockMhz * MHZ),
    ...optional("memoryClockHertz", raw.memoryClockMhz === undefined ? undefined : raw.memoryClockMhz * MHZ),
    ...optional("throttle", throttle),
    ...optional("eccCorrected", raw.eccCorrected),
    ...optional("eccUncorrected", raw.eccUncorrected),
    ...optional("remappedRows", raw.remappedRows),
    ...optional("nvlinkActive", raw.nvlinkActive),
    ...optional("migEnabled", raw.migEnabled),
    ...optional(
      "migDevices",
      raw.migDevices?.map((mig) => ({
        uuid: mig.uuid,
        gpuInstance: mig.gpuInstanceId,
        computeInstance: mig.computeInstanceId,
        profile: mig.profile,
        ...optional("memoryTotalBytes", mig.memoryTotalBytes),
        ...optional("memoryUsedBytes", mig.memoryUsedBytes),
        ...optional("activity", toActivity(mig.gpm)),
      })),
    ),
    ...optional(
      "processes",
      raw.processes?.map((p) => ({
        pid: p.pid,
        memoryBytes: p.usedMemoryBytes,
        ...optional("holder", pidLookup(p.pid)),
      })),
    ),
    ...optional("isGpmSupported", raw.isGpmSupported),
    ...optional("activity", toActivity(raw.gpm)),
    ...optional("activitySource", raw.gpmSource),
    ...optional("gpmPermissionErrors", raw.gpmNoPermission),
    ...optional("memoryTemperatureCelsius", raw.memoryTemperatureCelsius),
    ...optional("memoryTemperatureMaxCelsius", raw.memoryTemperatureMaxCelsius),
    ...optional("pcieReplays", raw.pcieReplays),
    ...optional("throttleSeconds", throttleSecondsOf(raw)),
    ...optional("nvlinkTxBytes", raw.nvlinkTxKiB === undefined ? undefined : raw.nvlinkTxKiB * KIB),
    ...optional("nvlinkRxBytes", raw.nvlinkRxKiB === undefined ? undefined : raw.nvlinkRxKiB * KIB),
    unsupported: raw.disabled,
  };
}

/** Converts a whole round. Pure. */
export function toGpuSamples(raw: NvmlSampleRaw, attribution: PodAttribution, pidLookup: PidLookup): GpuSample[] {
  return raw.gpus.map((gpu) => toGpuSample(gpu, attribution, pidLookup));
}
