import {
  NO_INSTANCE,
  PROCESS_INFO_R535_SIZE,
  PROCESS_INFO_SIZE,
  PROCESS_INFO_V1_SIZE,
  VALUE_NOT_AVAILABLE,
} from "./nvml-abi.js";
import type { ProcessRaw } from "./types.js";

/**
 * Process entries as drivers really write them. nvml.h declares that `_v3` fills 24-byte
 * nvmlProcessInfo_t entries; R535 drivers wrote 32 bytes (an added usedGpuCcProtectedMemory, no
 * version bump: nvitop PR #79, go-nvml #75, pynvml #48) and a 550 driver on Hopper was reported to
 * write 16 (nvmlProcessInfo_v1_t, nvitop PR #226). The stride is measured: the buffer is filled
 * with a sentinel first and the driver's writes show how far each entry reached.
 */
export type ProcessStride = 16 | 24 | 32;

/** The byte a process buffer is filled with before the driver writes into it. */
export const SENTINEL_BYTE = 0xaa;

/** Bytes to allocate for `capacity` entries: room for the largest stride any driver writes. */
export function processBufferBytes(capacity: number): number {
  return capacity * PROCESS_INFO_R535_SIZE;
}

function isWritten(buffer: Buffer, from: number, to: number): boolean {
  for (let offset = from; offset < to; offset++) if (buffer[offset] !== SENTINEL_BYTE) return true;
  return false;
}

/**
 * Tells the entry stride from a sentinel-filled buffer into which the driver wrote `count` entries:
 * with 32-byte entries the bytes between count·24 and count·32 were written, with 24-byte entries
 * those between count·16 and count·24 (and not beyond), with 16-byte entries neither. Undefined
 * when nothing was written (count 0).
 */
export function detectProcessStride(buffer: Buffer, count: number): ProcessStride | undefined {
  if (count === 0) return undefined;
  if (isWritten(buffer, count * PROCESS_INFO_SIZE, count * PROCESS_INFO_R535_SIZE)) return PROCESS_INFO_R535_SIZE;
  if (isWritten(buffer, count * PROCESS_INFO_V1_SIZE, count * PROCESS_INFO_SIZE)) return PROCESS_INFO_SIZE;
  return PROCESS_INFO_V1_SIZE;
}

/** Decodes `count` entries of the given stride (pid @0, usedGpuMemory @8, instance ids @16/@20 from 24 bytes on). */
export function decodeProcesses(buffer: Buffer, count: number, stride: ProcessStride): ProcessRaw[] {
  const processes: ProcessRaw[] = [];
  for (let i = 0; i < count; i++) {
    const base = i * stride;
    const used = buffer.readBigUInt64LE(base + 8);
    const gpuInstanceId = stride >= PROCESS_INFO_SIZE ? buffer.readUInt32LE(base + 16) : NO_INSTANCE;
    const computeInstanceId = stride >= PROCESS_INFO_SIZE ? buffer.readUInt32LE(base + 20) : NO_INSTANCE;
    processes.push({
      pid: buffer.readUInt32LE(base),
      usedMemoryBytes: used === VALUE_NOT_AVAILABLE ? null : Number(used),
      ...(gpuInstanceId === NO_INSTANCE ? {} : { gpuInstanceId }),
      ...(computeInstanceId === NO_INSTANCE ? {} : { computeInstanceId }),
    });
  }
  return processes;
}

/** PID_MAX_LIMIT on 64-bit Linux (include/linux/threads.h: 4 × 1024 × 1024): no pid is larger. */
const PID_MAX_LIMIT = 4 * 1024 * 1024;
/** MIG instance ids are small (an H100 has at most 7 GPU instances); anything larger is a misread. */
const MAX_INSTANCE_ID = 64;

/**
 * Whether a decoded entry can be real: a pid in 1..PID_MAX_LIMIT, memory not more than the GPU
 * has (or NOT_AVAILABLE), instance ids absent or small. A misread stride fails this: the next
 * entry's pid lands in an instance id, a 0xFFFFFFFF instance id lands in a pid.
 */
export function isPlausibleProcess(process: ProcessRaw, memoryLimitBytes: number): boolean {
  if (!Number.isInteger(process.pid) || process.pid < 1 || process.pid > PID_MAX_LIMIT) return false;
  if (process.usedMemoryBytes !== null && process.usedMemoryBytes > memoryLimitBytes) return false;
  return (process.gpuInstanceId ?? 0) <= MAX_INSTANCE_ID && (process.computeInstanceId ?? 0) <= MAX_INSTANCE_ID;
}

/** Strides to try after the measured one, most likely first. */
const OTHER_STRIDES: Readonly<Record<ProcessStride, readonly ProcessStride[]>> = {
  16: [24, 32],
  24: [32, 16],
  32: [24, 16],
};

/**
 * The measured stride's decoding when every entry is plausible, else the first other stride whose
 * decoding is; undefined when none is (the list is then not reported this round, never garbage).
 */
export function decodeCheckedProcesses(
  buffer: Buffer,
  count: number,
  measured: ProcessStride,
  memoryLimitBytes: number,
): { stride: ProcessStride; processes: ProcessRaw[] } | undefined {
  const measuredDecoding = decodeProcesses(buffer, count, measured);
  if (measuredDecoding.every((process) => isPlausibleProcess(process, memoryLimitBytes)))
    return { stride: measured, processes: measuredDecoding };
  for (const stride of OTHER_STRIDES[measured]) {
    const processes = decodeProcesses(buffer, count, stride);
    if (processes.every((process) => isPlausibleProcess(process, memoryLimitBytes))) return { stride, processes };
  }
  return undefined;
}
