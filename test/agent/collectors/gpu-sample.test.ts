import { describe, expect, it } from "vitest";
import { toGpuSample } from "../../../agent/collectors/gpu-sample.js";
import type { PodAttribution, PodRef } from "../../../agent/collectors/pods/pod-attribution.js";
import type { GpuRaw } from "../../../agent/nvml/types.js";

function raw(overrides: Partial<GpuRaw> = {}): GpuRaw {
  return {
    index: 0,
    uuid: "GPU-a",
    name: "NVIDIA L4",
    pciBusId: "00000000:01:00.0",
    isUp: true,
    disabled: [],
    ...overrides,
  };
}

const pod = (name: string, model?: string): PodRef => ({
  namespace: "llm",
  pod: name,
  container: "server",
  ...(model ? { model } : {}),
});

function attribution(entries: Record<string, PodRef[]>): PodAttribution {
  return { byDevice: new Map(Object.entries(entries)), refreshedAtMs: 0, isUp: true };
}

const none = attribution({});
const noPids = () => undefined;

describe("toGpuSample", () => {
  it.each([
    ["utilization percent becomes a ratio", { utilizationGpuPercent: 87 }, { utilizationRatio: 0.87 }],
    ["memory-controller percent becomes a ratio", { utilizationMemoryPercent: 5 }, { memoryUtilizationRatio: 0.05 }],
    [
      "milliwatts become watts",
      { powerMilliwatts: 312_500, powerLimitMilliwatts: 700_000 },
      { powerWatts: 312.5, powerLimitWatts: 700 },
    ],
    ["millijoules become joules", { energyMillijoules: 123_456_789 }, { energyJoules: 123_456.789 }],
    [
      "megahertz become hertz",
      { smClockMhz: 1980, memoryClockMhz: 2619 },
      { smClockHertz: 1.98e9, memoryClockHertz: 2.619e9 },
    ],
    [
      "bytes stay bytes",
      { memoryUsedBytes: 42, memoryTotalBytes: 100, memoryReservedBytes: 3 },
      { memoryUsedBytes: 42, memoryTotalBytes: 100, memoryReservedBytes: 3 },
    ],
  ] as const)("%s", (_name, input, expected) => {
    expect(toGpuSample(raw(input), none, noPids)).toMatchObject(expected);
  });

  it("leaves out fields the GPU did not report", () => {
    const sample = toGpuSample(raw(), none, noPids);
    expect(sample).not.toHaveProperty("utilizationRatio");
    expect(sample).not.toHaveProperty("throttle");
  });

  it("names every clock-event reason and marks the active ones, including bits above 31", () => {
    const sample = toGpuSample(raw({ throttleReasons: 0x4 | 0x40 }), none, noPids);
    const active = sample.throttle?.filter((t) => t.isActive).map((t) => t.reason);
    expect(active).toEqual(["sw_power_cap", "hw_thermal_slowdown"]);
    expect(sample.throttle).toHaveLength(9);
    const high = toGpuSample(raw({ throttleReasons: 2 ** 40 + 0x1 }), none, noPids);
    expect(high.throttle?.filter((t) => t.isActive).map((t) => t.reason)).toEqual(["gpu_idle"]);
  });

  it("attaches the single holder of a GPU, found by UUID", () => {
    const sample = toGpuSample(raw(), attribution({ "GPU-a": [pod("vllm-0", "llama-7b")] }), noPids);
    expect(sample.holder).toEqual(pod("vllm-0", "llama-7b"));
    expect(sample.holders).toHaveLength(1);
  });

  it("finds holders by device name (nvidia<index>) and by MIG device UUID", () => {
    const mig = { uuid: "MIG-x", gpuInstanceId: 1, computeInstanceId: 0, profile: "1g.10gb" };
    const sample = toGpuSample(
      raw({ index: 3, migDevices: [mig] }),
      attribution({ nvidia3: [pod("a")], "MIG-x": [pod("b")] }),
      noPids,
    );
    expect(sample.holders.map((h) => h.pod).sort()).toEqual(["a", "b"]);
    expect(sample.holder).toBeUndefined();
  });

  it("maps each process to its container through the PID lookup", () => {
    const lookup = (pid: number) => (pid === 10 ? pod("vllm-1") : undefined);
    const sample = toGpuSample(
      raw({
        processes: [
          { pid: 10, usedMemoryBytes: 5 },
          { pid: 11, usedMemoryBytes: null },
        ],
      }),
      none,
      lookup,
    );
    expect(sample.processes).toEqual([
      { pid: 10, memoryBytes: 5, holder: pod("vllm-1") },
      { pid: 11, memoryBytes: null },
    ]);
  });

  it("keeps a down GPU's identity and reason", () => {
    expect(toGpuSample(raw({ isUp: false, downReason: "GPU_IS_LOST" }), none, noPids)).toMatchObject({
      uuid: "GPU-a",
      isUp: false,
      downReason: "GPU_IS_LOST",
    });
  });
});
