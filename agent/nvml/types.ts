/**
 * Raw NVML readings, as plain data that crosses the worker boundary by structured clone.
 * Units are NVML's own (percent, milliwatts, MHz, millijoules); `toGpuSamples` converts to base units.
 */

/** Field groups that can be disabled one GPU at a time. */
export const FIELD_GROUPS = [
  "util",
  "memory",
  "temp",
  "power",
  "power_limit",
  "energy",
  "clocks",
  "throttle",
  "ecc",
  "remap",
  "nvlink",
  "mig",
  "processes",
  "gpm",
  "memory_temp",
  "pcie_replay",
  "throttle_time",
  "nvlink_throughput",
] as const;
export type FieldGroup = (typeof FIELD_GROUPS)[number];

/**
 * What GPM (nvmlGpmMetricsGet) reports, one key per metric: activity in percent (0..100) and link
 * traffic in MiB/s, as NVML gives them. See GPM_QUANTITIES in gpm-metrics.ts for the metric ids.
 */
export const GPM_QUANTITIES = [
  "graphics",
  "sm",
  "smOccupancy",
  "tensor",
  "dram",
  "fp64",
  "fp32",
  "fp16",
  "pcieTx",
  "pcieRx",
  "nvlinkTx",
  "nvlinkRx",
] as const;
export type GpmQuantity = (typeof GPM_QUANTITIES)[number];
/** One GPM reading; a metric is absent when NVML did not report it (its own return code) or gave no finite value. */
export type GpmReading = { readonly [Q in GpmQuantity]?: number };

/**
 * Reasons with a throttle-time counter (nanoseconds the clocks were held down, nvmlDeviceGetFieldValues).
 * `power`, `thermal`, `sync_boost` and `board_limit` are NVML_FI_DEV_PERF_POLICY_* (ids 74..77 in every
 * header); the two hardware brakes exist from nvml.h 12.9 on, at ids that moved in 13.1.
 */
export const THROTTLE_TIME_REASONS = [
  "power",
  "thermal",
  "sync_boost",
  "board_limit",
  "hw_thermal_slowdown",
  "hw_power_brake_slowdown",
] as const;
export type ThrottleTimeReason = (typeof THROTTLE_TIME_REASONS)[number];

export interface GpuIdentity {
  readonly index: number;
  readonly uuid: string;
  readonly name: string;
  readonly pciBusId: string;
}

export interface ProcessRaw {
  readonly pid: number;
  /** Bytes; null when the driver cannot tell (NVML_VALUE_NOT_AVAILABLE). */
  readonly usedMemoryBytes: number | null;
  /** MIG instance ids; undefined on a GPU without MIG. */
  readonly gpuInstanceId?: number;
  readonly computeInstanceId?: number;
}

export interface MigDeviceRaw {
  readonly uuid: string;
  readonly gpuInstanceId: number;
  readonly computeInstanceId: number;
  /** Profile name such as `1g.10gb`, from the MIG device's name. */
  readonly profile: string;
  readonly memoryTotalBytes?: number;
  readonly memoryUsedBytes?: number;
  /** GPM activity of the device's GPU instance (nvmlGpmMigSampleGet; shared by the instance's compute instances). */
  readonly gpm?: GpmReading;
}

/** One GPU's readings. A field is absent when unsupported, disabled or failed this round. */
export interface GpuRaw extends GpuIdentity {
  /** False when the GPU is lost or failing; only identity fields are then present. */
  readonly isUp: boolean;
  /** Why the GPU is down (a return-code name), when it is. */
  readonly downReason?: string;
  readonly utilizationGpuPercent?: number;
  readonly utilizationMemoryPercent?: number;
  readonly memoryTotalBytes?: number;
  readonly memoryUsedBytes?: number;
  readonly memoryReservedBytes?: number;
  readonly temperatureCelsius?: number;
  readonly powerMilliwatts?: number;
  readonly powerLimitMilliwatts?: number;
  readonly energyMillijoules?: number;
  readonly smClockMhz?: number;
  readonly memoryClockMhz?: number;
  readonly throttleReasons?: number;
  readonly eccCorrected?: number;
  readonly eccUncorrected?: number;
  readonly remappedRows?: {
    readonly correctable: number;
    readonly uncorrectable: number;
    readonly isPending: boolean;
    readonly hasFailed: boolean;
  };
  /** Active state of each NVLink link, by link number. */
  readonly nvlinkActive?: readonly boolean[];
  readonly migEnabled?: boolean;
  readonly migDevices?: readonly MigDeviceRaw[];
  /** nvmlDeviceGetMaxMigDeviceCount on a MIG-enabled GPU: the GPU's compute slices (7 on A100/H100). */
  readonly migSlices?: number;
  readonly processes?: readonly ProcessRaw[];
  /** nvmlGpmQueryDeviceSupport's answer, once asked. */
  readonly isGpmSupported?: boolean;
  /** GPM of the whole GPU: measured, or on a MIG GPU whose parent refuses, derived from its GPU instances. */
  readonly gpm?: GpmReading;
  readonly gpmSource?: "device" | "instances";
  /** GPM samples refused with NO_PERMISSION since the agent started (retried every round). */
  readonly gpmNoPermission?: number;
  /** HBM temperature (NVML_FI_DEV_MEMORY_TEMP) and its maximum operating temperature, Celsius. */
  readonly memoryTemperatureCelsius?: number;
  readonly memoryTemperatureMaxCelsius?: number;
  /** PCIe replays since the driver loaded (NVML_FI_DEV_PCIE_REPLAY_COUNTER). */
  readonly pcieReplays?: number;
  /** Nanoseconds the clocks were held down, by reason, since the driver loaded. */
  readonly throttleNs?: { readonly [R in ThrottleTimeReason]?: number };
  /** NVLink data sent and received over every link since the driver loaded, KiB (NVML_FI_DEV_NVLINK_THROUGHPUT_DATA_TX/RX). */
  readonly nvlinkTxKiB?: number;
  readonly nvlinkRxKiB?: number;
  /** Field groups no longer asked for on this GPU. */
  readonly disabled: readonly FieldGroup[];
}

/** An XID critical-error event as NVML delivered it. */
export interface XidEventRaw {
  readonly uuid: string;
  readonly xid: number;
  readonly atMs: number;
  /** The MIG instance the event is attributed to (nvmlEventData_t gpuInstanceId/computeInstanceId), when it is. */
  readonly gpuInstanceId?: number;
  readonly computeInstanceId?: number;
}

/** A field group that stopped being asked for during this round, to be logged once. */
export interface DisabledField {
  readonly uuid: string;
  readonly field: FieldGroup;
  readonly reason: string;
}

/** One sampling round over every GPU. */
export interface NvmlSampleRaw {
  readonly takenAtMs: number;
  readonly durationMs: number;
  /** Number of NVML calls the round made (the benchmark's FFI floor uses the same count). */
  readonly calls: number;
  readonly gpus: readonly GpuRaw[];
  readonly xids: readonly XidEventRaw[];
  readonly newlyDisabled: readonly DisabledField[];
  /** Failures that did not disable a field: transient errors, a GPU going down. */
  readonly errors: readonly string[];
}

/** What NVML says about itself once initialised. */
export interface NvmlSystemInfo {
  readonly library: string;
  readonly driverVersion: string;
  readonly nvmlVersion: string;
  readonly cudaDriverVersion: string;
  readonly deviceCount: number;
  /** Driver functions the library lacks (looked up once at load). */
  readonly missingFunctions: readonly string[];
  /** Which header generation's field ids the agent asks this driver for (see field-numbering.ts). */
  readonly fieldNumbering: string;
}
