import { NvmlReturn, PROCESS_DETAIL_LIST_V1_VERSION, PROCESS_DETAIL_SIZE, PROCESS_MODE_COMPUTE } from "./nvml-abi.js";
import type { NvmlCalls } from "./nvml-calls.js";
import { decodeCheckedProcesses, detectProcessStride, processBufferBytes, SENTINEL_BYTE } from "./process-list.js";
import type { DriverQuirks, ReadContext } from "./read-context.js";
import type { ProcessRaw } from "./types.js";

/** What one process query answered: its code, and the list on success. */
interface ProcessAnswer {
  readonly rc: number;
  readonly processes?: readonly ProcessRaw[];
}

/** Retries of the count protocol when processes start between the two calls. */
const ATTEMPTS = 4;
/** Codes from nvmlDeviceGetRunningProcessDetailList that mean "this driver cannot do it": use `_v3`. */
const DETAIL_LIST_UNUSABLE = new Set<number>([
  NvmlReturn.NOT_SUPPORTED,
  NvmlReturn.INVALID_ARGUMENT,
  NvmlReturn.ARGUMENT_VERSION_MISMATCH,
  NvmlReturn.FUNCTION_NOT_FOUND,
]);
/** Without a known memory size, the plausibility limit of one process's memory (1 PiB). */
const NO_MEMORY_LIMIT = 2 ** 50;

/** Headroom when allocating (nvitop allocates 2n + 5). */
function capacityFor(count: number): number {
  return count * 2 + 5;
}

/**
 * nvmlDeviceGetRunningProcessDetailList (nvml.h 12.4+): a versioned list struct whose procArray
 * points at 32-byte nvmlProcessDetail_v1_t entries. Same count protocol as `_v3`.
 */
function readDetailList(calls: NvmlCalls, handle: bigint, memoryLimit: number): ProcessAnswer {
  const plist = calls.detailList;
  plist.fill(0);
  plist.writeUInt32LE(PROCESS_DETAIL_LIST_V1_VERSION, 0);
  plist.writeUInt32LE(PROCESS_MODE_COMPUTE, 4);
  let rc = calls.call("nvmlDeviceGetRunningProcessDetailList", handle, plist);
  if (rc === NvmlReturn.SUCCESS) return { rc, processes: [] };
  for (let attempt = 0; attempt < ATTEMPTS && rc === NvmlReturn.INSUFFICIENT_SIZE; attempt++) {
    const capacity = capacityFor(plist.readUInt32LE(8));
    const entries = calls.processBuffer(capacity * PROCESS_DETAIL_SIZE);
    plist.writeUInt32LE(capacity, 8);
    plist.writeBigUInt64LE(calls.processBufferAddress(), 16);
    rc = calls.call("nvmlDeviceGetRunningProcessDetailList", handle, plist);
    if (rc === NvmlReturn.SUCCESS) {
      const decoded = decodeCheckedProcesses(entries, plist.readUInt32LE(8), PROCESS_DETAIL_SIZE, memoryLimit);
      return decoded ? { rc, processes: decoded.processes } : { rc: NvmlReturn.UNKNOWN };
    }
  }
  return { rc };
}

/**
 * `_v3` (or `_v2` on drivers without it): asks for the count, allocates with headroom, fills the
 * buffer with a sentinel, measures the stride the driver wrote and checks the decoded entries.
 */
function readComputeProcesses(
  calls: NvmlCalls,
  handle: bigint,
  quirks: DriverQuirks,
  memoryLimit: number,
): ProcessAnswer {
  const isV3 = calls.has("nvmlDeviceGetComputeRunningProcesses_v3");
  const name = isV3 ? "nvmlDeviceGetComputeRunningProcesses_v3" : "nvmlDeviceGetComputeRunningProcesses_v2";
  const count = calls.u32[0];
  count.writeUInt32LE(0, 0);
  let rc = calls.call(name, handle, count, null);
  if (rc === NvmlReturn.SUCCESS) return { rc, processes: [] };
  for (let attempt = 0; attempt < ATTEMPTS && rc === NvmlReturn.INSUFFICIENT_SIZE; attempt++) {
    const capacity = capacityFor(count.readUInt32LE(0));
    const bytes = processBufferBytes(capacity);
    const buffer = calls.processBuffer(bytes);
    buffer.fill(SENTINEL_BYTE, 0, bytes);
    count.writeUInt32LE(capacity, 0);
    rc = calls.call(name, handle, count, buffer);
    if (rc === NvmlReturn.SUCCESS) {
      const written = count.readUInt32LE(0);
      const measured = isV3 ? (detectProcessStride(buffer, written) ?? quirks.processStride ?? 24) : 24;
      const decoded = decodeCheckedProcesses(buffer, written, measured, memoryLimit);
      if (!decoded) return { rc: NvmlReturn.UNKNOWN };
      if (isV3 && written > 0) quirks.processStride = decoded.stride;
      return { rc, processes: decoded.processes };
    }
  }
  return { rc };
}

/** The compute processes of one device handle (a GPU or a MIG device): the detail list where the driver has it, else `_v3`. */
export function readProcessList(
  calls: NvmlCalls,
  handle: bigint,
  quirks: DriverQuirks,
  memoryLimitBytes: number | undefined,
): ProcessAnswer {
  const limit = memoryLimitBytes ?? NO_MEMORY_LIMIT;
  if (!quirks.detailListUnusable && calls.has("nvmlDeviceGetRunningProcessDetailList")) {
    const answer = readDetailList(calls, handle, limit);
    if (!DETAIL_LIST_UNUSABLE.has(answer.rc)) return answer;
    quirks.detailListUnusable = true;
  }
  return readComputeProcesses(calls, handle, quirks, limit);
}

/**
 * Running compute processes of a GPU. On a MIG-enabled GPU they are read through each MIG device
 * handle (the parent answers only a privileged caller, nvml.h), each tagged with its instance.
 */
export function readProcesses(ctx: ReadContext): void {
  const { calls, out, quirks } = ctx;
  if (out.migEnabled !== true) {
    const answer = readProcessList(calls, ctx.handle, quirks, out.memoryTotalBytes);
    if (ctx.check("processes", answer.rc)) out.processes = answer.processes ?? [];
    return;
  }
  const processes: ProcessRaw[] = [];
  for (const mig of ctx.memo.migHandles) {
    const memoryLimit = out.migDevices?.find((device) => device.uuid === mig.uuid)?.memoryTotalBytes;
    const answer = readProcessList(calls, mig.handle, quirks, memoryLimit);
    if (!ctx.check("processes", answer.rc)) return;
    for (const process of answer.processes ?? []) {
      processes.push({ gpuInstanceId: mig.gpuInstanceId, computeInstanceId: mig.computeInstanceId, ...process });
    }
  }
  out.processes = processes;
}
