import {
  EVENT_XID_CRITICAL,
  NAME_BUFFER,
  NO_INSTANCE,
  NvmlReturn,
  PCI_INFO_BUS_ID_OFFSET,
  returnName,
  UUID_BUFFER,
  VERSION_BUFFER,
} from "./nvml-abi.js";
import { NvmlCalls } from "./nvml-calls.js";
import type { NvmlLibrary } from "./nvml-library.js";
import { cString } from "./nvml-library.js";
import { fieldNumberingOf } from "./field-numbering.js";
import { fieldSpecs } from "./field-values.js";
import { freeGpm, newGpmMemo } from "./gpm.js";
import { FIELD_READERS, type DriverQuirks, type GpuFields, type GpuMemo } from "./read-gpu-fields.js";
import { readMigMode } from "./read-mig.js";
import { GpuLostError, RoundContext } from "./round-context.js";
import type {
  DisabledField,
  FieldGroup,
  GpuIdentity,
  GpuRaw,
  NvmlSampleRaw,
  NvmlSystemInfo,
  XidEventRaw,
} from "./types.js";

/** Rounds in a row in which every field of a GPU failed before the GPU is marked down. */
const FAILURES_BEFORE_DOWN = 3;
const FIRST_BACKOFF_MS = 1_000;
/** Events drained per round at most, so an event storm cannot stall sampling. */
const MAX_EVENTS_PER_ROUND = 256;

/**
 * Field groups that change only by an administrator's action or a hardware fault (the enforced
 * power limit, ECC totals, remapped rows, NvLink link state; and the MIG mode, which needs a GPU
 * reset): a batch of rounds reads them in its first round only and carries their values into the
 * rest (nvml-worker.ts), which saves 9 of the 19 calls a GPU with four NvLink links costs a round.
 * The keys of GpuRaw each group fills.
 */
const SLOW_FIELDS = {
  power_limit: ["powerLimitMilliwatts"],
  ecc: ["eccCorrected", "eccUncorrected"],
  remap: ["remappedRows"],
  nvlink: ["nvlinkActive"],
} as const satisfies Partial<Record<FieldGroup, readonly (keyof GpuFields)[]>>;

type SlowGroup = keyof typeof SLOW_FIELDS;
const SLOW_GROUPS = Object.keys(SLOW_FIELDS) as SlowGroup[];

function isSlowGroup(group: FieldGroup | "fields"): group is SlowGroup {
  return Object.hasOwn(SLOW_FIELDS, group);
}

/** Copies a slow group's values from one round's fields into another's, which has none of them yet. */
function copySlowFields(from: Partial<GpuFields>, to: Partial<GpuFields>, group: SlowGroup): void {
  for (const key of SLOW_FIELDS[group]) {
    const value = from[key];
    if (value !== undefined) Object.assign(to, { [key]: value });
  }
}

/** Options of one round. */
export interface RoundOptions {
  /** Read the slow field groups too (default true); false carries their last values. */
  readonly isSlowRound?: boolean;
}

function newMemo(): GpuMemo {
  return {
    nvlinkCount: undefined,
    migMode: undefined,
    migHandles: [],
    parentRefuses: new Set(),
    droppedFieldIds: new Set(),
    memoryTemperatureMax: undefined,
    gpm: newGpmMemo(),
    slowFields: undefined,
  };
}

interface GpuState {
  identity: GpuIdentity;
  handle: bigint | undefined;
  isUp: boolean;
  downReason: string | undefined;
  disabled: Set<FieldGroup>;
  /** `disabled` as the array a round reports, kept while the set only grows and is the same size. */
  disabledList: FieldGroup[] | undefined;
  consecutiveFailures: number;
  backoffMs: number;
  retryAtMs: number;
  memo: GpuMemo;
  /** The GPU's read context, made on its first round and reused. */
  ctx: RoundContext | undefined;
}

/** Options for {@link NvmlReader}. */
export interface NvmlReaderOptions {
  readonly maxBackoffMs: number;
  /** Read GPM activity where GPUs have it (default true); false never touches GPM. */
  readonly isGpmEnabled?: boolean;
  readonly now?: () => number;
}

/**
 * Reads every GPU through a loaded NVML library, synchronously. It owns the per-GPU state that
 * makes one broken GPU or field cost only itself: fields that answer NOT_SUPPORTED are disabled for
 * that GPU, a lost or repeatedly failing GPU is marked down and retried with exponential backoff,
 * and XID events are drained from an event set each round. Runs on the sampling worker thread.
 */
export class NvmlReader {
  private readonly calls: NvmlCalls;
  private readonly gpus: GpuState[] = [];
  private readonly quirks: DriverQuirks = {
    memoryV2Unusable: false,
    detailListUnusable: false,
    processStride: undefined,
    fields: [],
  };
  private readonly handleToUuid = new Map<bigint, string>();
  private eventSet: bigint | undefined;
  private isOpen = false;
  private readonly now: () => number;

  constructor(
    private readonly lib: NvmlLibrary,
    private readonly options: NvmlReaderOptions,
  ) {
    this.calls = new NvmlCalls(lib);
    this.now = options.now ?? Date.now;
  }

  /**
   * nvmlInit_v2, system facts, GPU enumeration and the XID event set. The driver's versions decide
   * which field ids it is asked for (field-numbering.ts). Throws when init fails.
   */
  open(): NvmlSystemInfo {
    const rc = this.calls.call("nvmlInit_v2");
    if (rc !== NvmlReturn.SUCCESS)
      throw new Error(`nvml: nvmlInit_v2 failed: ${returnName(rc)} (${this.calls.describe(rc)})`);
    this.isOpen = true;
    const driverVersion = this.systemText("nvmlSystemGetDriverVersion");
    const cudaDriverVersion =
      this.calls.call("nvmlSystemGetCudaDriverVersion", this.calls.u32[0]) === NvmlReturn.SUCCESS
        ? String(this.calls.lastU32())
        : "";
    const fieldNumbering = fieldNumberingOf(cudaDriverVersion, driverVersion);
    this.quirks.fields = fieldSpecs(fieldNumbering);
    const count = this.calls.u32Out("nvmlDeviceGetCount_v2") === NvmlReturn.SUCCESS ? this.calls.lastU32() : 0;
    if (this.calls.call("nvmlEventSetCreate", this.calls.handle) === NvmlReturn.SUCCESS)
      this.eventSet = this.calls.lastHandle();
    for (let index = 0; index < count; index++) {
      const state: GpuState = {
        identity: { index, uuid: `unknown-${index}`, name: "unknown", pciBusId: "" },
        handle: undefined,
        isUp: false,
        downReason: undefined,
        disabled: new Set(),
        disabledList: undefined,
        consecutiveFailures: 0,
        backoffMs: FIRST_BACKOFF_MS,
        retryAtMs: 0,
        memo: newMemo(),
        ctx: undefined,
      };
      this.gpus.push(state);
      this.attach(state, []);
    }
    return {
      library: this.lib.path,
      driverVersion,
      nvmlVersion: this.systemText("nvmlSystemGetNVMLVersion"),
      cudaDriverVersion,
      deviceCount: count,
      missingFunctions: this.lib.missing,
      fieldNumbering,
    };
  }

  /**
   * One round over every GPU. Never throws for a GPU's failure; that GPU is reported down. A round
   * that is not a slow round reads the slow groups only for a GPU that has no values of them yet.
   */
  sample(options: RoundOptions = {}): NvmlSampleRaw {
    const started = performance.now();
    const takenAtMs = this.now();
    const isSlowRound = options.isSlowRound ?? true;
    this.calls.count = 0;
    const errors: string[] = [];
    const newlyDisabled: DisabledField[] = [];
    const gpus = this.gpus.map((state) => this.sampleGpu(state, takenAtMs, isSlowRound, errors, newlyDisabled));
    const xids = this.drainEvents(takenAtMs);
    return {
      takenAtMs,
      durationMs: performance.now() - started,
      calls: this.calls.count,
      gpus,
      xids,
      newlyDisabled,
      errors,
    };
  }

  /** nvmlShutdown after freeing the GPM samples and the event set. Safe twice. */
  close(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    for (const state of this.gpus) freeGpm(this.calls, state.memo.gpm);
    if (this.eventSet !== undefined) this.calls.call("nvmlEventSetFree", this.eventSet);
    this.eventSet = undefined;
    this.calls.call("nvmlShutdown");
  }

  private systemText(name: "nvmlSystemGetDriverVersion" | "nvmlSystemGetNVMLVersion"): string {
    return this.calls.textOut(name, VERSION_BUFFER) === NvmlReturn.SUCCESS ? this.calls.lastText() : "";
  }

  /** Gets the GPU's handle and identity and registers it for XID events; marks it down on failure. */
  private attach(state: GpuState, errors: string[]): boolean {
    const calls = this.calls;
    let rc = calls.call("nvmlDeviceGetHandleByIndex_v2", state.identity.index, calls.handle);
    if (rc === NvmlReturn.SUCCESS) {
      const handle = calls.lastHandle();
      rc = calls.textOut("nvmlDeviceGetUUID", UUID_BUFFER, handle);
      if (rc === NvmlReturn.SUCCESS) {
        const uuid = calls.lastText();
        const name =
          calls.textOut("nvmlDeviceGetName", NAME_BUFFER, handle) === NvmlReturn.SUCCESS
            ? calls.lastText()
            : state.identity.name;
        const pciBusId =
          calls.call("nvmlDeviceGetPciInfo_v3", handle, calls.struct) === NvmlReturn.SUCCESS
            ? cString(calls.struct, PCI_INFO_BUS_ID_OFFSET, 32)
            : state.identity.pciBusId;
        if (uuid !== state.identity.uuid) {
          freeGpm(calls, state.memo.gpm);
          state.memo = newMemo();
        }
        state.identity = { index: state.identity.index, uuid, name, pciBusId };
        state.handle = handle;
        state.isUp = true;
        state.downReason = undefined;
        this.handleToUuid.set(handle, uuid);
        if (this.eventSet !== undefined)
          calls.call("nvmlDeviceRegisterEvents", handle, EVENT_XID_CRITICAL, this.eventSet);
        return true;
      }
    }
    this.markDown(state, returnName(rc), errors);
    return false;
  }

  private markDown(state: GpuState, reason: string, errors: string[]): void {
    const wasUp = state.isUp;
    state.isUp = false;
    state.downReason = reason;
    state.retryAtMs = this.now() + state.backoffMs;
    state.backoffMs = Math.min(state.backoffMs * 2, this.options.maxBackoffMs);
    if (wasUp)
      errors.push(
        `gpu ${state.identity.index} (${state.identity.uuid}) down: ${reason}; retry in ${state.retryAtMs - this.now()} ms`,
      );
  }

  private sampleGpu(
    state: GpuState,
    nowMs: number,
    isSlowRound: boolean,
    errors: string[],
    newlyDisabled: DisabledField[],
  ): GpuRaw {
    if (!state.isUp) {
      if (nowMs < state.retryAtMs || !this.attach(state, errors)) return this.downRaw(state);
    }
    const handle = state.handle as bigint;
    // The readers fill the result object itself: spreading ~40 fields into a new object each round
    // cost more than every NVML call of the round together (nvml bench: 0.65 → 0.14 ms for 8 GPUs).
    const { index, uuid, name, pciBusId } = state.identity;
    const fields: GpuFields & {
      index: number;
      uuid: string;
      name: string;
      pciBusId: string;
      isUp: boolean;
      disabled: FieldGroup[];
    } = {
      index,
      uuid,
      name,
      pciBusId,
      isUp: true,
      disabled: [],
    };
    const ctx = (state.ctx ??= new RoundContext(this.calls, this.quirks, () => state));
    ctx.begin(handle, fields, nowMs, errors, newlyDisabled);
    try {
      const slow = state.memo.slowFields;
      const isSlow = isSlowRound || slow === undefined;
      // The MIG mode changes only with a GPU reset: asked in slow rounds, carried in the others.
      if (!state.disabled.has("mig")) {
        if (isSlow || state.memo.migMode === undefined) this.followMigMode(state, readMigMode(ctx), errors);
        else fields.migEnabled = state.memo.migMode;
      }
      for (const [group, read] of FIELD_READERS) {
        if (group === "gpm" && this.options.isGpmEnabled === false) continue;
        if (group !== "fields" && state.disabled.has(group)) continue;
        if (!isSlow && isSlowGroup(group)) copySlowFields(slow, fields, group);
        else read(ctx);
      }
      if (isSlow) {
        const kept: Partial<GpuFields> = {};
        for (const group of SLOW_GROUPS) copySlowFields(fields, kept, group);
        state.memo.slowFields = kept;
      }
      if (state.memo.gpm.support !== undefined) fields.isGpmSupported = state.memo.gpm.support;
    } catch (err) {
      if (!(err instanceof GpuLostError)) throw err;
      this.markDown(state, err.message, errors);
      return this.downRaw(state);
    }
    if (ctx.attempted > 0 && ctx.failed === ctx.attempted) {
      state.consecutiveFailures++;
      if (state.consecutiveFailures >= FAILURES_BEFORE_DOWN) {
        state.consecutiveFailures = 0;
        this.markDown(state, "REPEATED_FAILURES", errors);
        return this.downRaw(state);
      }
    } else {
      state.consecutiveFailures = 0;
      state.backoffMs = FIRST_BACKOFF_MS;
    }
    if (state.disabledList?.length !== state.disabled.size) state.disabledList = [...state.disabled];
    fields.disabled = state.disabledList;
    return fields;
  }

  /**
   * A GPU whose MIG mode changed answers differently (utilization and remapped rows are
   * NOT_SUPPORTED only under MIG; memory and processes go through MIG devices): every field
   * disabled under the old mode is asked again, and GPM starts from fresh samples.
   */
  private followMigMode(state: GpuState, mode: boolean | undefined, errors: string[]): void {
    const memo = state.memo;
    if (mode === undefined || mode === memo.migMode) return;
    const previous = memo.migMode;
    memo.migMode = mode;
    if (previous === undefined) return;
    freeGpm(this.calls, memo.gpm);
    memo.gpm = { ...newGpmMemo(), support: memo.gpm.support, noPermission: memo.gpm.noPermission };
    memo.parentRefuses.clear();
    memo.droppedFieldIds.clear();
    memo.slowFields = undefined;
    state.disabled.clear();
    state.disabledList = undefined;
    errors.push(
      `gpu ${state.identity.index} (${state.identity.uuid}) MIG mode ${mode ? "enabled" : "disabled"}: fields disabled before are asked again`,
    );
  }

  private downRaw(state: GpuState): GpuRaw {
    return {
      ...state.identity,
      isUp: false,
      ...(state.downReason ? { downReason: state.downReason } : {}),
      disabled: [...state.disabled],
    };
  }

  /** Drains pending XID events without waiting (timeout 0), so sampling never blocks on events. */
  private drainEvents(nowMs: number): XidEventRaw[] {
    if (this.eventSet === undefined) return [];
    const events: XidEventRaw[] = [];
    const data = this.calls.struct;
    for (let i = 0; i < MAX_EVENTS_PER_ROUND; i++) {
      if (this.calls.call("nvmlEventSetWait_v2", this.eventSet, data, 0) !== NvmlReturn.SUCCESS) break;
      if ((data.readBigUInt64LE(8) & EVENT_XID_CRITICAL) === 0n) continue;
      const uuid = this.handleToUuid.get(data.readBigUInt64LE(0)) ?? "unknown";
      const gpuInstanceId = data.readUInt32LE(24);
      const computeInstanceId = data.readUInt32LE(28);
      events.push({
        uuid,
        xid: Number(data.readBigUInt64LE(16)),
        atMs: nowMs,
        ...(gpuInstanceId === NO_INSTANCE ? {} : { gpuInstanceId }),
        ...(computeInstanceId === NO_INSTANCE ? {} : { computeInstanceId }),
      });
    }
    return events;
  }
}
