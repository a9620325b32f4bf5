import type { NvmlCalls } from "./nvml-calls.js";
import type { GpmMemo } from "./gpm.js";
import type { FieldGroup, GpuRaw, ThrottleTimeReason } from "./types.js";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The readings of one GPU being filled in; see GpuRaw for units. */
export type GpuFields = Mutable<
  Omit<GpuRaw, "index" | "uuid" | "name" | "pciBusId" | "isUp" | "disabled" | "downReason" | "throttleNs">
> & {
  throttleNs?: { [R in ThrottleTimeReason]?: number };
};

/** One field asked for through nvmlDeviceGetFieldValues, and where its value goes. */
export interface FieldSpec {
  readonly id: number;
  readonly scopeId: number;
  readonly group: FieldGroup;
  readonly apply: (out: GpuFields, value: number) => void;
}

/** Facts about the driver learnt at open or while reading, shared by every GPU of one library. */
export interface DriverQuirks {
  /** nvmlDeviceGetMemoryInfo_v2 exists but rejects the struct version: use v1. */
  memoryV2Unusable: boolean;
  /** nvmlDeviceGetRunningProcessDetailList exists but rejects the versioned struct: use `_v3`. */
  detailListUnusable: boolean;
  /** Entry stride the `_v3` process call was last measured to write. */
  processStride: 16 | 24 | 32 | undefined;
  /** The field values asked for in one nvmlDeviceGetFieldValues call, for this driver's numbering. */
  fields: readonly FieldSpec[];
}

/** A MIG device handle of the current round, for the readers that go through MIG devices. */
export interface MigHandle {
  readonly handle: bigint;
  readonly uuid: string;
  readonly gpuInstanceId: number;
  readonly computeInstanceId: number;
}

/** Parent-GPU queries a MIG-enabled GPU refused (no privilege); answered through its MIG devices until the mode changes. */
export type ParentQuery = "memory" | "gpm";

/** Per-GPU facts kept between rounds; forgotten (and its GPM samples freed) when the GPU's identity changes. */
export interface GpuMemo {
  nvlinkCount: number | undefined;
  /** MIG mode seen last round; a change re-probes every disabled field. */
  migMode: boolean | undefined;
  migHandles: readonly MigHandle[];
  parentRefuses: Set<ParentQuery>;
  /** Field ids this GPU answered NOT_SUPPORTED (or that its driver does not define): no longer asked for. */
  droppedFieldIds: Set<number>;
  /** The fields still asked, cached with the key (dropped ids, disabled groups) it was computed for. */
  activeFields?: readonly FieldSpec[];
  activeFieldsKey?: number;
  /** NVML_TEMPERATURE_THRESHOLD_MEM_MAX: undefined until asked, null when the GPU does not report it. */
  memoryTemperatureMax: number | null | undefined;
  gpm: GpmMemo;
  /** The slow field groups' values as last read (nvml-reader.ts), carried into rounds that skip them; undefined until read. */
  slowFields: Partial<GpuFields> | undefined;
}

/**
 * Reports a return code for a field group: true on success. A permanent code (NOT_SUPPORTED,
 * NO_PERMISSION, FUNCTION_NOT_FOUND) disables the group on this GPU; GPU_IS_LOST throws.
 */
export type FieldCheck = (group: FieldGroup, rc: number) => boolean;

/** Everything a field reader needs for one GPU in one round. */
export interface ReadContext {
  readonly calls: NvmlCalls;
  readonly handle: bigint;
  readonly out: GpuFields;
  readonly check: FieldCheck;
  /** Records a failure to be retried next round, whatever the code (GPM NO_PERMISSION mid-run); never disables. */
  readonly retry: (group: FieldGroup, rc: number) => void;
  readonly isDisabled: (group: FieldGroup) => boolean;
  readonly quirks: DriverQuirks;
  readonly memo: GpuMemo;
  readonly nowMs: number;
}

/** One reader; fills `ctx.out` and reports codes through `ctx.check`. Never throws except for a lost GPU. */
export type FieldReader = (ctx: ReadContext) => void;
