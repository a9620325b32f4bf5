import { EVENT_XID_CRITICAL, NAME_BUFFER, NvmlReturn, PCI_INFO_BUS_ID_OFFSET, returnName, UUID_BUFFER, VERSION_BUFFER } from "./nvml-abi.js";
import { NvmlCalls } from "./nvml-calls.js";
import type { NvmlLibrary } from "./nvml-library.js";
import { cString } from "./nvml-library.js";
import { FIELD_READERS, type DriverQuirks, type GpuFields, type GpuMemo } from "./read-gpu-fields.js";
import type { DisabledField, FieldGroup, GpuIdentity, GpuRaw, NvmlSampleRaw, NvmlSystemInfo, XidEventRaw } from "./types.js";

/** Return codes that mean "this field will never answer here": the field is disabled for that GPU. */
const PERMANENT = new Set<number>([NvmlReturn.NOT_SUPPORTED, NvmlReturn.NO_PERMISSION, NvmlReturn.FUNCTION_NOT_FOUND]);
/** Rounds in a row in which every field of a GPU failed before the GPU is marked down. */
const FAILURES_BEFORE_DOWN = 3;
const FIRST_BACKOFF_MS = 1_000;
/** Events drained per round at most, so an event storm cannot stall sampling. */
const MAX_EVENTS_PER_ROUND = 256;

class GpuLostError extends Error {}

interface GpuState {
  identity: GpuIdentity;
  handle: bigint | undefined;
  isUp: boolean;
  downReason: string | undefined;
  disabled: Set<FieldGroup>;
  consecutiveFailures: number;
  backoffMs: number;
  retryAtMs: number;
  memo: GpuMemo;
}

/** Options for {@link NvmlReader}. */
export interface NvmlReaderOptions {
  readonly maxBackoffMs: number;
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
  private readonly quirks: DriverQuirks = { memoryV2Unusable: false, processStride: undefined };
  private readonly handleToUuid = new Map<bigint, string>();
  private eventSet: bigint | undefined;
  private isOpen = false;
  private readonly now: () => number;

  constructor(private readonly lib: NvmlLibrary, private readonly options: NvmlReaderOptions) {
    this.calls = new NvmlCalls(lib);
    this.now = options.now ?? Date.now;
  }

  /** nvmlInit_v2, system facts, GPU enumeration and the XID event set. Throws when init fails. */
  open(): NvmlSystemInfo {
    const rc = this.calls.call("nvmlInit_v2");
    if (rc !== NvmlReturn.SUCCESS) throw new Error(`nvml: nvmlInit_v2 failed: ${returnName(rc)} (${this.calls.describe(rc)})`);
    this.isOpen = true;
    const count = this.calls.u32Out("nvmlDeviceGetCount_v2") === NvmlReturn.SUCCESS ? this.calls.lastU32() : 0;
    if (this.calls.call("nvmlEventSetCreate", this.calls.handle) === NvmlReturn.SUCCESS) this.eventSet = this.calls.lastHandle();
    for (let index = 0; index < count; index++) {
      const state: GpuState = {
        identity: { index, uuid: `unknown-${index}`, name: "unknown", pciBusId: "" },
        handle: undefined, isUp: false, downReason: undefined, disabled: new Set(),
        consecutiveFailures: 0, backoffMs: FIRST_BACKOFF_MS, retryAtMs: 0, memo: { nvlinkCount: undefined },
      };
      this.gpus.push(state);
      this.attach(state, []);
    }
    return {
      library: this.lib.path,
      driverVersion: this.systemText("nvmlSystemGetDriverVersion"),
      nvmlVersion: this.systemText("nvmlSystemGetNVMLVersion"),
      cudaDriverVersion: this.calls.call("nvmlSystemGetCudaDriverVersion", this.calls.u32[0]) === NvmlReturn.SUCCESS ? String(this.calls.lastU32()) : "",
      deviceCount: count,
      missingFunctions: this.lib.missing,
    };
  }

  /** One round over every GPU. Never throws for a GPU's failure; that GPU is reported down. */
  sample(): NvmlSampleRaw {
    const started = performance.now();
    const takenAtMs = this.now();
    this.calls.count = 0;
    const errors: string[] = [];
    const newlyDisabled: DisabledField[] = [];
    const gpus = this.gpus.map((state) => this.sampleGpu(state, takenAtMs, errors, newlyDisabled));
    const xids = this.drainEvents(takenAtMs);
    return { takenAtMs, durationMs: performance.now() - started, calls: this.calls.count, gpus, xids, newlyDisabled, errors };
  }

  /** nvmlShutdown after freeing the event set. Safe twice. */
  close(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
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
        const name = calls.textOut("nvmlDeviceGetName", NAME_BUFFER, handle) === NvmlReturn.SUCCESS ? calls.lastText() : state.identity.name;
        const pciBusId = calls.call("nvmlDeviceGetPciInfo_v3", handle, calls.struct) === NvmlReturn.SUCCESS
          ? cString(calls.struct, PCI_INFO_BUS_ID_OFFSET, 32) : state.identity.pciBusId;
        if (uuid !== state.identity.uuid) state.memo = { nvlinkCount: undefined };
        state.identity = { index: state.identity.index, uuid, name, pciBusId };
        state.handle = handle;
        state.isUp = true;
        state.downReason = undefined;
        this.handleToUuid.set(handle, uuid);
        if (this.eventSet !== undefined) calls.call("nvmlDeviceRegisterEvents", handle, EVENT_XID_CRITICAL, this.eventSet);
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
    if (wasUp) errors.push(`gpu ${state.identity.index} (${state.identity.uuid}) down: ${reason}; retry in ${state.retryAtMs - this.now()} ms`);
  }

  private sampleGpu(state: GpuState, nowMs: number, errors: string[], newlyDisabled: DisabledField[]): GpuRaw {
    if (!state.isUp) {
      if (nowMs < state.retryAtMs || !this.attach(state, errors)) return this.downRaw(state);
    }
    const handle = state.handle as bigint;
    const fields: GpuFields = {};
    let attempted = 0;
    let failed = 0;
    const check = (group: FieldGroup, rc: number): boolean => {
      attempted++;
      if (rc === NvmlReturn.SUCCESS) return true;
      if (rc === NvmlReturn.GPU_IS_LOST) throw new GpuLostError(returnName(rc));
      if (PERMANENT.has(rc)) {
        if (!state.disabled.has(group)) {
          state.disabled.add(group);
          newlyDisabled.push({ uuid: state.identity.uuid, field: group, reason: returnName(rc) });
        }
        return false;
      }
      failed++;
      errors.push(`gpu ${state.identity.index} (${state.identity.uuid}) ${group}: ${returnName(rc)}`);
      return false;
    };
    try {
      for (const [group, read] of FIELD_READERS) {
        if (!state.disabled.has(group)) read(this.calls, handle, fields, check, this.quirks, state.memo);
      }
    } catch (err) {
      if (!(err instanceof GpuLostError)) throw err;
      this.markDown(state, err.message, errors);
      return this.downRaw(state);
    }
    if (attempted > 0 && failed === attempted) {
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
    return { ...state.identity, isUp: true, disabled: [...state.disabled], ...fields };
  }

  private downRaw(state: GpuState): GpuRaw {
    return { ...state.identity, isUp: false, ...(state.downReason ? { downReason: state.downReason } : {}), disabled: [...state.disabled] };
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
      events.push({ uuid, xid: Number(data.readBigUInt64LE(16)), atMs: nowMs });
    }
    return events;
  }
}
