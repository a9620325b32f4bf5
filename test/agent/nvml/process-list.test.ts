import { describe, expect, it } from "vitest";
import { decodeProcesses, detectProcessStride, processBufferBytes, SENTINEL_BYTE } from "../../../agent/nvml/process-list.js";

/** A buffer as a driver leaves it: sentinel-filled, then `entries` written at `stride`. */
function written(entries: readonly { pid: number; bytes: bigint; gi?: number; ci?: number }[], stride: number, capacity = entries.length * 2 + 5): Buffer {
  const buffer = Buffer.alloc(processBufferBytes(capacity), SENTINEL_BYTE);
  entries.forEach((entry, i) => {
    const base = i * stride;
    buffer.writeUInt32LE(entry.pid, base);
    buffer.writeUInt32LE(0, base + 4);
    buffer.writeBigUInt64LE(entry.bytes, base + 8);
    buffer.writeUInt32LE(entry.gi ?? 0xffffffff, base + 16);
    buffer.writeUInt32LE(entry.ci ?? 0xffffffff, base + 20);
    if (stride === 32) buffer.writeBigUInt64LE(0n, base + 24);
  });
  return buffer;
}

describe("process list decoding", () => {
  it.each([
    ["nvml.h's 24-byte entries", 24, 1],
    ["nvml.h's 24-byte entries, many", 24, 40],
    ["R535's 32-byte entries", 32, 1],
    ["R535's 32-byte entries, many", 32, 40],
  ] as const)("detects %s", (_name, stride, count) => {
    const entries = Array.from({ length: count }, (_, i) => ({ pid: 100 + i, bytes: BigInt((i + 1) * 1_048_576) }));
    const buffer = written(entries, stride);
    expect(detectProcessStride(buffer, count)).toBe(stride);
    expect(decodeProcesses(buffer, count, stride).at(-1)).toEqual({ pid: 100 + count - 1, usedMemoryBytes: count * 1_048_576 });
  });

  it("cannot tell the stride when nothing was written", () => {
    expect(detectProcessStride(Buffer.alloc(64, SENTINEL_BYTE), 0)).toBeUndefined();
  });

  it("reads NVML_VALUE_NOT_AVAILABLE as unknown memory and keeps MIG instance ids", () => {
    const buffer = written([{ pid: 7, bytes: 0xffff_ffff_ffff_ffffn, gi: 3, ci: 1 }], 24);
    expect(decodeProcesses(buffer, 1, 24)).toEqual([{ pid: 7, usedMemoryBytes: null, gpuInstanceId: 3, computeInstanceId: 1 }]);
  });

  it("misreads 32-byte entries at a 24-byte stride, which is why the stride is measured", () => {
    const buffer = written([{ pid: 1, bytes: 10n }, { pid: 2, bytes: 20n }], 32);
    expect(decodeProcesses(buffer, 2, 24)[1]?.pid).not.toBe(2);
  });
});
