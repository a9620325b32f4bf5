import { MEMORY_V2_SIZE, MEMORY_V2_VERSION, NvmlReturn } from "./nvml-abi.js";
import { u64At, type NvmlCalls } from "./nvml-calls.js";
import type { DriverQuirks, ReadContext } from "./read-context.js";

/** Memory of a GPU or MIG device: v2 (separates driver-reserved memory) where the driver has it, else v1. */
export function readMemory(
  calls: NvmlCalls,
  handle: bigint,
  quirks: DriverQuirks,
): { rc: number; total?: number; used?: number; reserved?: number } {
  const buf = calls.struct;
  if (!quirks.memoryV2Unusable && calls.has("nvmlDeviceGetMemoryInfo_v2")) {
    buf.fill(0, 0, MEMORY_V2_SIZE);
    buf.writeUInt32LE(MEMORY_V2_VERSION, 0);
    const rc = calls.call("nvmlDeviceGetMemoryInfo_v2", handle, buf);
    if (rc === NvmlReturn.SUCCESS) {
      return {
        rc,
        total: u64At(buf, 8),
        reserved: u64At(buf, 16),
        used: u64At(buf, 32),
      };
    }
    if (rc !== NvmlReturn.ARGUMENT_VERSION_MISMATCH && rc !== NvmlReturn.FUNCTION_NOT_FOUND) return { rc };
    quirks.memoryV2Unusable = true;
  }
  const rc = calls.call("nvmlDeviceGetMemoryInfo", handle, buf);
  if (rc !== NvmlReturn.SUCCESS) return { rc };
  return { rc, total: u64At(buf, 0), used: u64At(buf, 16) };
}

/**
 * A GPU's memory. On a MIG-enabled GPU whose parent refuses (nvml.h: aggregate information "only
 * if the caller has appropriate privileges"), the sums over its MIG devices, read through their
 * own handles: memory of slices without an instance is then not counted. Runs after the MIG reader.
 */
export function readGpuMemory(ctx: ReadContext): void {
  const { out, memo } = ctx;
  if (out.migEnabled === true && memo.parentRefuses.has("memory")) {
    fillFromMigDevices(ctx);
    return;
  }
  const memory = readMemory(ctx.calls, ctx.handle, ctx.quirks);
  if (memory.rc === NvmlReturn.NO_PERMISSION && out.migEnabled === true) {
    memo.parentRefuses.add("memory");
    fillFromMigDevices(ctx);
    return;
  }
  if (!ctx.check("memory", memory.rc)) return;
  if (memory.total !== undefined) out.memoryTotalBytes = memory.total;
  if (memory.used !== undefined) out.memoryUsedBytes = memory.used;
  if (memory.reserved !== undefined) out.memoryReservedBytes = memory.reserved;
}

/** Sums over GPU instances: the compute instances of one GPU instance share its memory, so each instance counts once. */
function fillFromMigDevices(ctx: ReadContext): void {
  const devices = [...new Map((ctx.out.migDevices ?? []).map((d) => [d.gpuInstanceId, d])).values()];
  if (devices.length === 0 || devices.some((d) => d.memoryTotalBytes === undefined || d.memoryUsedBytes === undefined))
    return;
  ctx.out.memoryTotalBytes = devices.reduce((sum, d) => sum + (d.memoryTotalBytes ?? 0), 0);
  ctx.out.memoryUsedBytes = devices.reduce((sum, d) => sum + (d.memoryUsedBytes ?? 0), 0);
  ctx.check("memory", NvmlReturn.SUCCESS);
}
