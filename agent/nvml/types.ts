/**
 * Raw NVML readings, as plain data that crosses the worker boundary by structured clone.
 * Units are NVML's own (percent, milliwatts, MHz, millijoules); `toGpuSamples` converts to base units.
 */

/** Field groups that can be disabled one GPU at a time. */
export const FIELD_GROUPS = [
  "util", "memory", "temp", "power", "power_limit", "energy", "clocks", "throttle",
  "ecc", "remap", "nvlink", "mig", "processes",
] as const;
export type FieldGroup = (typeof FIELD_GROUPS)[number];

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
  readonly remappedRows?: { readonly correctable: number; readonly uncorrectable: number; readonly isPending: boolean; readonly hasFailed: boolean };
  /** Active state of each NVLink link, by link number. */
  readonly nvlinkActive?: readonly boolean[];
  readonly migEnabled?: boolean;
  readonly migDevices?: readonly MigDeviceRaw[];
  readonly processes?: readonly ProcessRaw[];
  /** Field groups no longer asked for on this GPU. */
  readonly disabled: readonly FieldGroup[];
}

/** An XID critical-error event as NVML delivered it. */
export interface XidEventRaw {
  readonly uuid: string;
  readonly xid: number;
  readonly atMs: number;
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
}
