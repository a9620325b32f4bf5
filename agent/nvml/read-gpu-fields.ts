import {
  CLOCK_MEM, CLOCK_SM, ECC_CORRECTED, ECC_UNCORRECTED, ECC_VOLATILE, FI_DEV_NVLINK_LINK_COUNT,
  MEMORY_V2_VERSION, NVLINK_PROBE_LINKS, NvmlReturn, TEMPERATURE_V1_VERSION, NAME_BUFFER, UUID_BUFFER,
} from "./nvml-abi.js";
import type { NvmlCalls } from "./nvml-calls.js";
import { decodeProcesses, detectProcessStride, processBufferBytes, SENTINEL_BYTE } from "./process-list.js";
import type { FieldGroup, MigDeviceRaw, ProcessRaw } from "./types.js";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The readings of one GPU being filled in; see GpuRaw for units. */
export type GpuFields = Mutable<Omit<import("./types.js").GpuRaw, "index" | "uuid" | "name" | "pciBusId" | "isUp" | "disabled" | "downReason">>;

/** How a field reader reports a return code: true on success, false when the field is skipped. */
export interface FieldCheck {
  (group: FieldGroup, rc: number): boolean;
}

/** Facts about the driver learnt while reading, shared by every GPU of one library. */
export interface DriverQuirks {
  /** nvmlDeviceGetMemoryInfo_v2 exists but rejects the struct version: use v1. */
  memoryV2Unusable: boolean;
  /** Entry stride the `_v3` process call was measured to write. */
  processStride: 24 | 32 | undefined;
}

/** Per-GPU facts learnt once (link count), kept between rounds. */
export interface GpuMemo {
  nvlinkCount: number | undefined;
}

/** One field group's reader. Reads into `out`; returns nothing; reports codes through `check`. */
type FieldReader = (calls: NvmlCalls, handle: bigint, out: GpuFields, check: FieldCheck, quirks: DriverQuirks, memo: GpuMemo) => void;

function readUtilization(calls: NvmlCalls, handle: bigint, out: GpuFields, check: FieldCheck): void {
  if (check("util", calls.call("nvmlDeviceGetUtilizationRates", handle, calls.struct))) {
    out.utilizationGpuPercent = calls.struct.readUInt32LE(0);
    out.utilizationMemoryPercent = calls.struct.readUInt32LE(4);
  }
}

/** Memory of a GPU or MIG device: v2 (separates driver-reserved memory) where the driver has it, else v1. */
export function readMemory(calls: NvmlCalls, handle: bigint, quirks: DriverQuirks): { rc: number; total?: number; used?: number; reserved?: number } {
  const buf = calls.struct;
  if (!quirks.memoryV2Unusable && calls.has("nvmlDeviceGetMemoryInfo_v2")) {
    buf.fill(0, 0, 40);
    buf.writeUInt32LE(MEMORY_V2_VERSION, 0);
    const rc = calls.call("nvmlDeviceGetMemoryInfo_v2", handle, buf);
    if (rc === NvmlReturn.SUCCESS) {
      return { rc, total: Number(buf.readBigUInt64LE(8)), reserved: Number(buf.readBigUInt64LE(16)), used: Number(buf.readBigUInt64LE(32)) };
    }
    if (rc !== NvmlReturn.ARGUMENT_VERSION_MISMATCH && rc !== NvmlReturn.FUNCTION_NOT_FOUND) return { rc };
    quirks.memoryV2Unusable = true;
  }
  const rc = calls.call("nvmlDeviceGetMemoryInfo", handle, buf);
  if (rc !== NvmlReturn.SUCCESS) return { rc };
  return { rc, total: Number(buf.readBigUInt64LE(0)), used: Number(buf.readBigUInt64LE(16)) };
}

function readMemoryField(calls: NvmlCalls, handle: bigint, out: GpuFields, check: FieldCheck, quirks: DriverQuirks): void {
  const memory = readMemory(calls, handle, quirks);
  if (!check("memory", memory.rc)) return;
  if (memory.total !== undefined) out.memoryTotalBytes = memory.total;
  if (memory.used !== undefined) out.memoryUsedBytes = memory.used;
  if (memory.reserved !== undefined) out.memoryReservedBytes = memory.reserved;
}

function readTemperature(calls: NvmlCalls, handle: bigint, out: GpuFields, check: FieldCheck): void {
  if (calls.has("nvmlDeviceGetTemperatureV")) {
    const buf = calls.struct;
    buf.writeUInt32LE(TEMPERATURE_V1_VERSION, 0);
    buf.writeUInt32LE(0, 4);
    const rc = calls.call("nvmlDeviceGetTemperatureV", handle, buf);
    if (rc !== NvmlReturn.ARGUMENT_VERSION_MISMATCH) {
      if (check("temp", rc)) out.temperatureCelsius = buf.readInt32LE(8);
      return;
    }
  }
  if (check("temp", calls.call("nvmlDeviceGetTemperature", handle, 0, calls.u32[0]))) out.temperatureCelsius = calls.lastU32();
}

function readPower(calls: NvmlCalls, handle: bigint, out: GpuFields, check: FieldCheck): void {
  if (check("power", calls.u32Out("nvmlDeviceGetPowerUsage", handle))) out.powerMilliwatts = calls.lastU32();
}

function readPowerLimit(calls: NvmlCalls, handle: bigint, out: GpuFields, check: FieldCheck): void {
  if (check("power_limit", calls.u32Out("nvmlDeviceGetEnforcedPowerLimit", handle))) out.powerLimitMilliwatts = calls.lastU32();
}

function readEnergy(calls: NvmlCalls, handle: bigint, out: GpuFields, check: FieldCheck): void {
  if (check("energy", calls.call("nvmlDeviceGetTotalEnergyConsumption", handle, calls.u64))) out.energyMillijoules = calls.lastU64();
}

function readClocks(calls: NvmlCalls, handle: bigint, out: GpuFields, check: FieldCheck): void {
  if (!check("clocks", calls.call("nvmlDeviceGetClockInfo", handle, CLOCK_SM, calls.u32[0]))) return;
  out.smClockMhz = calls.lastU32();
  if (check("clocks", calls.call("nvmlDeviceGetClockInfo", handle, CLOCK_MEM, calls.u32[0]))) out.memoryClockMhz = calls.lastU32();
}

function readThrottle(calls: NvmlCalls, handle: bigint, out: GpuFields, check: FieldCheck): void {
  const name = calls.has("nvmlDeviceGetCurrentClocksEventReasons")
    ? "nvmlDeviceGetCurrentClocksEventReasons"
    : "nvmlDeviceGetCurrentClocksThrottleReasons";
  if (check("throttle", calls.call(name, handle, calls.u64))) out.throttleReasons = calls.lastU64();
}

function readEcc(calls: NvmlCalls, handle: bigint, out: GpuFields, check: FieldCheck): void {
  if (!check("ecc", calls.call("nvmlDeviceGetTotalEccErrors", handle, ECC_CORRECTED, ECC_VOLATILE, calls.u64))) return;
  out.eccCorrected = calls.lastU64();
  if (check("ecc", calls.call("nvmlDeviceGetTotalEccErrors", handle, ECC_UNCORRECTED, ECC_VOLATILE, calls.u64))) out.eccUncorrected = calls.lastU64();
}

function readRemap(calls: NvmlCalls, handle: bigint, out: GpuFields, check: FieldCheck): void {
  const [a, b, c, d] = calls.u32;
  if (!check("remap", calls.call("nvmlDeviceGetRemappedRows", handle, a, b, c, d))) return;
  out.remappedRows = { correctable: calls.lastU32(0), uncorrectable: calls.lastU32(1), isPending: calls.lastU32(2) !== 0, hasFailed: calls.lastU32(3) !== 0 };
}

/** Number of NVLink links: the link-count field where the driver has it, else probed once. */
function countNvLinks(calls: NvmlCalls, handle: bigint): number {
  const fv = calls.struct;
  fv.fill(0, 0, 40);
  fv.writeUInt32LE(FI_DEV_NVLINK_LINK_COUNT, 0);
  if (calls.call("nvmlDeviceGetFieldValues", handle, 1, fv) === NvmlReturn.SUCCESS && fv.readInt32LE(28) === NvmlReturn.SUCCESS) {
    return fv.readUInt32LE(32);
  }
  let links = 0;
  while (links < NVLINK_PROBE_LINKS && calls.call("nvmlDeviceGetNvLinkState", handle, links, calls.u32[0]) === NvmlReturn.SUCCESS) links++;
  return links;
}

function readNvLink(calls: NvmlCalls, handle: bigint, out: GpuFields, check: FieldCheck, _quirks: DriverQuirks, memo: GpuMemo): void {
  memo.nvlinkCount ??= countNvLinks(calls, handle);
  if (memo.nvlinkCount === 0) {
    check("nvlink", NvmlReturn.NOT_SUPPORTED);
    return;
  }
  const active: boolean[] = [];
  for (let link = 0; link < memo.nvlinkCount; link++) {
    if (!check("nvlink", calls.call("nvmlDeviceGetNvLinkState", handle, link, calls.u32[0]))) return;
    active.push(calls.lastU32() !== 0);
  }
  out.nvlinkActive = active;
}

/** MIG devices of a MIG-enabled GPU, each with its ids, profile and memory. */
function readMig(calls: NvmlCalls, handle: bigint, out: GpuFields, check: FieldCheck, quirks: DriverQuirks): void {
  const [current, pending] = calls.u32;
  if (!check("mig", calls.call("nvmlDeviceGetMigMode", handle, current, pending))) return;
  out.migEnabled = calls.lastU32(0) === 1;
  if (!out.migEnabled) return;
  if (!check("mig", calls.u32Out("nvmlDeviceGetMaxMigDeviceCount", handle))) return;
  const max = calls.lastU32();
  const devices: MigDeviceRaw[] = [];
  for (let i = 0; i < max; i++) {
    const rc = calls.call("nvmlDeviceGetMigDeviceHandleByIndex", handle, i, calls.handle);
    if (rc === NvmlReturn.NOT_FOUND || rc === NvmlReturn.INVALID_ARGUMENT) continue;
    if (!check("mig", rc)) return;
    const mig = calls.lastHandle();
    const device = readMigDevice(calls, mig, quirks);
    if (device) devices.push(device);
  }
  out.migDevices = devices;
}

function readMigDevice(calls: NvmlCalls, mig: bigint, quirks: DriverQuirks): MigDeviceRaw | undefined {
  if (calls.textOut("nvmlDeviceGetUUID", UUID_BUFFER, mig) !== NvmlReturn.SUCCESS) return undefined;
  const uuid = calls.lastText();
  const name = calls.textOut("nvmlDeviceGetName", NAME_BUFFER, mig) === NvmlReturn.SUCCESS ? calls.lastText() : "";
  const gi = calls.u32Out("nvmlDeviceGetGpuInstanceId", mig) === NvmlReturn.SUCCESS ? calls.lastU32() : -1;
  const ci = calls.u32Out("nvmlDeviceGetComputeInstanceId", mig) === NvmlReturn.SUCCESS ? calls.lastU32() : -1;
  const memory = readMemory(calls, mig, quirks);
  return {
    uuid,
    gpuInstanceId: gi,
    computeInstanceId: ci,
    profile: migProfileOf(name),
    ...(memory.total === undefined ? {} : { memoryTotalBytes: memory.total }),
    ...(memory.used === undefined ? {} : { memoryUsedBytes: memory.used }),
  };
}

/** The profile of a MIG device from its name (`NVIDIA H100 80GB HBM3 MIG 1g.10gb` → `1g.10gb`). */
export function migProfileOf(name: string): string {
  return /\bMIG\s+(\S+)\s*$/.exec(name)?.[1] ?? "unknown";
}

/**
 * Running compute processes. Asks for the count first, allocates with headroom (2n + 5, as nvitop
 * does), fills the buffer with a sentinel and measures the stride the driver wrote; grows the buffer
 * when processes appear between the two calls (NVML_ERROR_INSUFFICIENT_SIZE).
 */
function readProcesses(calls: NvmlCalls, handle: bigint, out: GpuFields, check: FieldCheck, quirks: DriverQuirks): void {
  const isV3 = calls.has("nvmlDeviceGetComputeRunningProcesses_v3");
  const name = isV3 ? "nvmlDeviceGetComputeRunningProcesses_v3" : "nvmlDeviceGetComputeRunningProcesses_v2";
  const count = calls.u32[0];
  count.writeUInt32LE(0, 0);
  let rc = calls.call(name, handle, count, null);
  if (rc === NvmlReturn.SUCCESS) {
    out.processes = [];
    return;
  }
  for (let attempt = 0; attempt < 4 && rc === NvmlReturn.INSUFFICIENT_SIZE; attempt++) {
    const capacity = count.readUInt32LE(0) * 2 + 5;
    const bytes = processBufferBytes(capacity);
    const buffer = calls.processBuffer(bytes);
    buffer.fill(SENTINEL_BYTE, 0, bytes);
    count.writeUInt32LE(capacity, 0);
    rc = calls.call(name, handle, count, buffer);
    if (rc === NvmlReturn.SUCCESS) {
      const written = count.readUInt32LE(0);
      const stride = isV3 ? (detectProcessStride(buffer, written) ?? quirks.processStride ?? 24) : 24;
      if (isV3 && written > 0) quirks.processStride = stride;
      out.processes = decodeProcesses(buffer, written, stride) satisfies ProcessRaw[];
      return;
    }
  }
  check("processes", rc);
}

/** Every field group's reader, in reading order. */
export const FIELD_READERS: readonly (readonly [FieldGroup, FieldReader])[] = [
  ["util", readUtilization],
  ["memory", readMemoryField],
  ["temp", readTemperature],
  ["power", readPower],
  ["power_limit", readPowerLimit],
  ["energy", readEnergy],
  ["clocks", readClocks],
  ["throttle", readThrottle],
  ["ecc", readEcc],
  ["remap", readRemap],
  ["nvlink", readNvLink],
  ["mig", readMig],
  ["processes", readProcesses],
];
