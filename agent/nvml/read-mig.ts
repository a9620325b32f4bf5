import { NAME_BUFFER, NvmlReturn, UUID_BUFFER } from "./nvml-abi.js";
import type { NvmlCalls } from "./nvml-calls.js";
import type { DriverQuirks, MigHandle, ReadContext } from "./read-context.js";
import { readMemory } from "./read-memory.js";
import type { MigDeviceRaw } from "./types.js";

/** The profile of a MIG device from its name (`NVIDIA H100 80GB HBM3 MIG 1g.10gb` → `1g.10gb`). */
export function migProfileOf(name: string): string {
  return /\bMIG\s+(\S+)\s*$/.exec(name)?.[1] ?? "unknown";
}

/**
 * The GPU's current MIG mode (nvmlDeviceGetMigMode), or undefined when it cannot tell this round.
 * Read first in every slow round (nvml-reader.ts): a change re-probes the fields disabled under the other mode.
 */
export function readMigMode(ctx: ReadContext): boolean | undefined {
  const [current, pending] = ctx.calls.u32;
  if (!ctx.check("mig", ctx.calls.call("nvmlDeviceGetMigMode", ctx.handle, current, pending))) return undefined;
  ctx.out.migEnabled = ctx.calls.lastU32(0) === 1;
  return ctx.out.migEnabled;
}

function readMigDevice(
  calls: NvmlCalls,
  mig: bigint,
  quirks: DriverQuirks,
): { device: MigDeviceRaw; handle: MigHandle } | undefined {
  if (calls.textOut("nvmlDeviceGetUUID", UUID_BUFFER, mig) !== NvmlReturn.SUCCESS) return undefined;
  const uuid = calls.lastText();
  const name = calls.textOut("nvmlDeviceGetName", NAME_BUFFER, mig) === NvmlReturn.SUCCESS ? calls.lastText() : "";
  const gi = calls.u32Out("nvmlDeviceGetGpuInstanceId", mig) === NvmlReturn.SUCCESS ? calls.lastU32() : -1;
  const ci = calls.u32Out("nvmlDeviceGetComputeInstanceId", mig) === NvmlReturn.SUCCESS ? calls.lastU32() : -1;
  const memory = readMemory(calls, mig, quirks);
  return {
    device: {
      uuid,
      gpuInstanceId: gi,
      computeInstanceId: ci,
      profile: migProfileOf(name),
      ...(memory.total === undefined ? {} : { memoryTotalBytes: memory.total }),
      ...(memory.used === undefined ? {} : { memoryUsedBytes: memory.used }),
    },
    handle: { handle: mig, uuid, gpuInstanceId: gi, computeInstanceId: ci },
  };
}

/**
 * The MIG devices of a MIG-enabled GPU, each with its ids, profile and memory (read through its
 * own handle, which needs no privilege). Their handles are kept for this round's process reader:
 * handles "become invalid when instances are destroyed and may be reused" (nvml.h), so they are
 * looked up again every round. Empty slots answer NOT_FOUND or INVALID_ARGUMENT.
 */
export function readMigDevices(ctx: ReadContext): void {
  const { calls, out, memo } = ctx;
  memo.migHandles = [];
  if (out.migEnabled !== true) return;
  if (!ctx.check("mig", calls.u32Out("nvmlDeviceGetMaxMigDeviceCount", ctx.handle))) return;
  const max = calls.lastU32();
  const devices: MigDeviceRaw[] = [];
  const handles: MigHandle[] = [];
  for (let i = 0; i < max; i++) {
    const rc = calls.call("nvmlDeviceGetMigDeviceHandleByIndex", ctx.handle, i, calls.handle);
    if (rc === NvmlReturn.NOT_FOUND || rc === NvmlReturn.INVALID_ARGUMENT) continue;
    if (!ctx.check("mig", rc)) return;
    const read = readMigDevice(calls, calls.lastHandle(), ctx.quirks);
    if (!read) continue;
    devices.push(read.device);
    handles.push(read.handle);
  }
  out.migSlices = max;
  out.migDevices = devices;
  memo.migHandles = handles;
}
