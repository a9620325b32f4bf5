import { NO_INSTANCE, PROCESS_INFO_R535_SIZE, PROCESS_INFO_SIZE, VALUE_NOT_AVAILABLE } from "./nvml-abi.js";
import type { ProcessRaw } from "./types.js";

/**
 * The byte a process buffer is filled with before the driver writes into it. R535 drivers write
 * 32-byte entries into `nvmlDeviceGetComputeRunningProcesses_v3` where nvml.h declares 24 (an added
 * usedGpuCcProtectedMemory, no version bump: nvitop PR #79, go-nvml #75, pynvml #48), so the stride
 * is measured by seeing how far the driver wrote (the probe nvitop PR #226 describes).
 */
export const SENTINEL_BYTE = 0xaa;

/** Bytes to allocate for `capacity` entries: room for the largest stride any driver writes. */
export function processBufferBytes(capacity: number): number {
  return capacity * PROCESS_INFO_R535_SIZE;
}

/**
 * Tells the entry stride from a sentinel-filled buffer into which the driver wrote `count` entries.
 * With 24-byte entries the bytes between count·24 and count·32 keep the sentinel; with 32-byte entries
 * they hold the tail of written entries. Returns undefined when nothing was written (count 0).
 */
export function detectProcessStride(buffer: Buffer, count: number): 24 | 32 | undefined {
  if (count === 0) return undefined;
  const from = count * PROCESS_INFO_SIZE;
  const to = count * PROCESS_INFO_R535_SIZE;
  for (let offset = from; offset < to; offset++) {
    if (buffer[offset] !== SENTINEL_BYTE) return PROCESS_INFO_R535_SIZE;
  }
  return PROCESS_INFO_SIZE;
}

/** Decodes `count` process entries of the given stride (pid @0, usedGpuMemory @8, instance ids @16/@20). */
export function decodeProcesses(buffer: Buffer, count: number, stride: number): ProcessRaw[] {
  const processes: ProcessRaw[] = [];
  for (let i = 0; i < count; i++) {
    const base = i * stride;
    const used = buffer.readBigUInt64LE(base + 8);
    const gpuInstanceId = buffer.readUInt32LE(base + 16);
    const computeInstanceId = buffer.readUInt32LE(base + 20);
    processes.push({
      pid: buffer.readUInt32LE(base),
      usedMemoryBytes: used === VALUE_NOT_AVAILABLE ? null : Number(used),
      ...(gpuInstanceId === NO_INSTANCE ? {} : { gpuInstanceId }),
      ...(computeInstanceId === NO_INSTANCE ? {} : { computeInstanceId }),
    });
  }
  return processes;
}
