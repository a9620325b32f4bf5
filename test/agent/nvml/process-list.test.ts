import { describe, expect, it } from "vitest";
import {
  decodeCheckedProcesses,
  decodeProcesses,
  detectProcessStride,
  isPlausibleProcess,
  processBufferBytes,
  SENTINEL_BYTE,
} from "../../../agent/nvml/process-list.js";

/** A buffer as a driver leaves it: sentinel-filled, then `entries` written at `stride`. */
function written(
  entries: readonly { pid: number; bytes: bigint; gi?: number; ci?: number }[],
  stride: number,
  capacity = entries.length * 2 + 5,
): Buffer {
  const buffer = Buffer.alloc(processBufferBytes(capacity), SENTINEL_BYTE);
  entries.forEach((entry, i) => {
    const base = i * stride;
    buffer.writeUInt32LE(entry.pid, base);
    buffer.writeUInt32LE(0, base + 4);
    buffer.writeBigUInt64LE(entry.bytes, base + 8);
    if (stride === 16) return;
    buffer.writeUInt32LE(entry.gi ?? 0xffffffff, base + 16);
    buffer.writeUInt32LE(entry.ci ?? 0xffffffff, base + 20);
    if (stride === 32) buffer.writeBigUInt64LE(0n, base + 24);
  });
  return buffer;
}

describe("process list decoding", () => {
  it.each([
    ["the 16-byte entries a 550 driver on Hopper wrote", 16, 1],
    ["the 16-byte entries a 550 driver on Hopper wrote, many", 16, 40],
    ["nvml.h's 24-byte entries", 24, 1],
    ["nvml.h's 24-byte entries, many", 24, 40],
    ["R535's 32-byte entries", 32, 1],
    ["R535's 32-byte entries, many", 32, 40],
  ] as const)("detects %s", (_name, stride, count) => {
    const entries = Array.from({ length: count }, (_, i) => ({ pid: 100 + i, bytes: BigInt((i + 1) * 1_048_576) }));
    const buffer = written(entries, stride);
    expect(detectProcessStride(buffer, count)).toBe(stride);
    expect(decodeProcesses(buffer, count, stride).at(-1)).toEqual({
      pid: 100 + count - 1,
      usedMemoryBytes: count * 1_048_576,
    });
  });

  it("cannot tell the stride when nothing was written", () => {
    expect(detectProcessStride(Buffer.alloc(64, SENTINEL_BYTE), 0)).toBeUndefined();
  });

  it("reads NVML_VALUE_NOT_AVAILABLE as unknown memory and keeps MIG instance ids", () => {
    const buffer = written([{ pid: 7, bytes: 0xffff_ffff_ffff_ffffn, gi: 3, ci: 1 }], 24);
    expect(decodeProcesses(buffer, 1, 24)).toEqual([
      { pid: 7, usedMemoryBytes: null, gpuInstanceId: 3, computeInstanceId: 1 },
    ]);
  });

  it("misreads 32-byte entries at a 24-byte stride, which is why the stride is measured", () => {
    const buffer = written(
      [
        { pid: 1, bytes: 10n },
        { pid: 2, bytes: 20n },
      ],
      32,
    );
    expect(decodeProcesses(buffer, 2, 24)[1]?.pid).not.toBe(2);
  });

  it.each([16, 24, 32] as const)(
    "decodes %i-byte entries at the measured stride when every entry is plausible",
    (stride) => {
      const entries = [
        { pid: 4242, bytes: 8n << 30n, gi: 1, ci: 0 },
        { pid: 4343, bytes: 1n << 30n, gi: 2, ci: 0 },
      ];
      const decoded = decodeCheckedProcesses(written(entries, stride), 2, stride, 80 * 2 ** 30);
      expect(decoded?.stride).toBe(stride);
      expect(decoded?.processes.map((p) => p.pid)).toEqual([4242, 4343]);
    },
  );

  it("falls back to the stride whose decoding is plausible when the measurement misleads", () => {
    // 24-byte entries whose last bytes happen to equal the sentinel would measure as 16.
    const entries = [
      { pid: 4242, bytes: 8n << 30n },
      { pid: 4343, bytes: 1n << 30n },
    ];
    const decoded = decodeCheckedProcesses(written(entries, 24), 2, 16, 80 * 2 ** 30);
    expect(decoded).toEqual({
      stride: 24,
      processes: [
        { pid: 4242, usedMemoryBytes: 8 * 2 ** 30 },
        { pid: 4343, usedMemoryBytes: 2 ** 30 },
      ],
    });
  });

  it("reports nothing rather than garbage when no stride decodes plausibly", () => {
    const buffer = Buffer.alloc(processBufferBytes(4), 0xff);
    expect(decodeCheckedProcesses(buffer, 2, 24, 80 * 2 ** 30)).toBeUndefined();
  });

  it.each([
    ["a pid of 0", { pid: 0, usedMemoryBytes: 1 }, false],
    ["a pid above PID_MAX_LIMIT", { pid: 4 * 1024 * 1024 + 1, usedMemoryBytes: 1 }, false],
    ["more memory than the GPU has", { pid: 10, usedMemoryBytes: 81 * 2 ** 30 }, false],
    ["an instance id that is another entry's pid", { pid: 10, usedMemoryBytes: 1, gpuInstanceId: 4343 }, false],
    ["unknown memory", { pid: 10, usedMemoryBytes: null }, true],
    ["a MIG process", { pid: 10, usedMemoryBytes: 1, gpuInstanceId: 7, computeInstanceId: 0 }, true],
  ] as const)("judges an entry with %s", (_name, process, isPlausible) => {
    expect(isPlausibleProcess(process, 80 * 2 ** 30)).toBe(isPlausible);
  });
});
