import {
  CLOCK_MEM,
  CLOCK_SM,
  ECC_CORRECTED,
  ECC_UNCORRECTED,
  ECC_VOLATILE,
  FI_DEV_NVLINK_LINK_COUNT,
  NVLINK_PROBE_LINKS,
  NvmlReturn,
  TEMPERATURE_V1_VERSION,
} from "./nvml-abi.js";
import type { NvmlCalls } from "./nvml-calls.js";
import { readFieldValues } from "./field-values.js";
import type { FieldReader, ReadContext } from "./read-context.js";
import { readGpm } from "./read-gpm.js";
import { readGpuMemory } from "./read-memory.js";
import { readMigDevices } from "./read-mig.js";
import { readProcesses } from "./read-processes.js";
import type { FieldGroup } from "./types.js";

export type { DriverQuirks, FieldCheck, GpuFields, GpuMemo, ReadContext } from "./read-context.js";
export { migProfileOf } from "./read-mig.js";
export { readMemory } from "./read-memory.js";

/**
 * Device utilization. NOT_SUPPORTED on a MIG-enabled GPU (nvml.h: "On MIG-enabled GPUs, querying
 * device utilization rates is not currently supported"): the field is disabled until the mode changes.
 */
function readUtilization({ calls, handle, out, check }: ReadContext): void {
  if (check("util", calls.call("nvmlDeviceGetUtilizationRates", handle, calls.struct))) {
    out.utilizationGpuPercent = calls.struct.readUInt32LE(0);
    out.utilizationMemoryPercent = calls.struct.readUInt32LE(4);
  }
}

function readTemperature({ calls, handle, out, check }: ReadContext): void {
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
  if (check("temp", calls.call("nvmlDeviceGetTemperature", handle, 0, calls.u32[0])))
    out.temperatureCelsius = calls.lastU32();
}

function readPower({ calls, handle, out, check }: ReadContext): void {
  if (check("power", calls.u32Out("nvmlDeviceGetPowerUsage", handle))) out.powerMilliwatts = calls.lastU32();
}

function readPowerLimit({ calls, handle, out, check }: ReadContext): void {
  if (check("power_limit", calls.u32Out("nvmlDeviceGetEnforcedPowerLimit", handle)))
    out.powerLimitMilliwatts = calls.lastU32();
}

function readEnergy({ calls, handle, out, check }: ReadContext): void {
  if (check("energy", calls.call("nvmlDeviceGetTotalEnergyConsumption", handle, calls.u64)))
    out.energyMillijoules = calls.lastU64();
}

function readClocks({ calls, handle, out, check }: ReadContext): void {
  if (!check("clocks", calls.call("nvmlDeviceGetClockInfo", handle, CLOCK_SM, calls.u32[0]))) return;
  out.smClockMhz = calls.lastU32();
  if (check("clocks", calls.call("nvmlDeviceGetClockInfo", handle, CLOCK_MEM, calls.u32[0])))
    out.memoryClockMhz = calls.lastU32();
}

function readThrottle({ calls, handle, out, check }: ReadContext): void {
  const name = calls.has("nvmlDeviceGetCurrentClocksEventReasons")
    ? "nvmlDeviceGetCurrentClocksEventReasons"
    : "nvmlDeviceGetCurrentClocksThrottleReasons";
  if (check("throttle", calls.call(name, handle, calls.u64))) out.throttleReasons = calls.lastU64();
}

function readEcc({ calls, handle, out, check }: ReadContext): void {
  if (!check("ecc", calls.call("nvmlDeviceGetTotalEccErrors", handle, ECC_CORRECTED, ECC_VOLATILE, calls.u64))) return;
  out.eccCorrected = calls.lastU64();
  if (check("ecc", calls.call("nvmlDeviceGetTotalEccErrors", handle, ECC_UNCORRECTED, ECC_VOLATILE, calls.u64)))
    out.eccUncorrected = calls.lastU64();
}

/** Remapped rows; NOT_SUPPORTED while MIG is on, so disabled until the mode changes. */
function readRemap({ calls, handle, out, check }: ReadContext): void {
  const [a, b, c, d] = calls.u32;
  if (!check("remap", calls.call("nvmlDeviceGetRemappedRows", handle, a, b, c, d))) return;
  out.remappedRows = {
    correctable: calls.lastU32(0),
    uncorrectable: calls.lastU32(1),
    isPending: calls.lastU32(2) !== 0,
    hasFailed: calls.lastU32(3) !== 0,
  };
}

/** Number of NVLink links: the link-count field where the driver has it, else probed once. */
function countNvLinks(calls: NvmlCalls, handle: bigint): number {
  const fv = calls.struct;
  fv.fill(0, 0, 40);
  fv.writeUInt32LE(FI_DEV_NVLINK_LINK_COUNT, 0);
  if (
    calls.call("nvmlDeviceGetFieldValues", handle, 1, fv) === NvmlReturn.SUCCESS &&
    fv.readInt32LE(28) === NvmlReturn.SUCCESS
  ) {
    return fv.readUInt32LE(32);
  }
  let links = 0;
  while (
    links < NVLINK_PROBE_LINKS &&
    calls.call("nvmlDeviceGetNvLinkState", handle, links, calls.u32[0]) === NvmlReturn.SUCCESS
  )
    links++;
  return links;
}

function readNvLink({ calls, handle, out, check, memo }: ReadContext): void {
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

/**
 * Every reader, in reading order, with the field group that switches it off (`fields`: the batched
 * field values, whose groups are switched off one by one inside). MIG devices come first: memory,
 * processes and GPM of a MIG-enabled GPU are read through them.
 */
export const FIELD_READERS: readonly (readonly [FieldGroup | "fields", FieldReader])[] = [
  ["mig", readMigDevices],
  ["util", readUtilization],
  ["memory", readGpuMemory],
  ["temp", readTemperature],
  ["power", readPower],
  ["power_limit", readPowerLimit],
  ["energy", readEnergy],
  ["clocks", readClocks],
  ["throttle", readThrottle],
  ["ecc", readEcc],
  ["remap", readRemap],
  ["nvlink", readNvLink],
  ["fields", readFieldValues],
  ["processes", readProcesses],
  ["gpm", readGpm],
];
