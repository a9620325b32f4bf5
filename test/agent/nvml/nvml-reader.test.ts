/**
 * NvmlReader against the fake NVML library (a real shared library with the NVML ABI), loaded
 * through the same koffi binding as production. Each test starts a session on its own scenario.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadNvmlLibrary, type NvmlLibrary } from "../../../agent/nvml/nvml-library.js";
import { NvmlReader } from "../../../agent/nvml/nvml-reader.js";
import type { GpuRaw } from "../../../agent/nvml/types.js";
import { buildFakeNvml, type FakeNvmlLibraries } from "../../setup/build-fake-nvml.js";
import { gpu, RELOAD_WAIT_MS, scenarioFile, type ScenarioSettings } from "../../fixtures/nvml-scenario.js";
import { GIB } from "../../../common/units.js";

let libs: FakeNvmlLibraries;
let reader: NvmlReader | undefined;
const loaded: NvmlLibrary[] = [];

beforeAll(async () => {
  libs = await buildFakeNvml();
});

afterEach(() => {
  reader?.close();
  reader = undefined;
});

async function open(settings: ScenarioSettings, library: "full" | "old" = "full", now?: () => number) {
  const file = await scenarioFile(settings);
  process.env["FAKE_NVML_SCENARIO"] = file.path;
  const lib = loadNvmlLibrary(libs[library]);
  loaded.push(lib);
  reader = new NvmlReader(lib, { maxBackoffMs: 8_000, ...(now ? { now } : {}) });
  const info = reader.open();
  return { file, info, reader };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function byIndex(gpus: readonly GpuRaw[], index: number): GpuRaw {
  const found = gpus.find((g) => g.index === index);
  if (!found) throw new Error(`no gpu ${index}`);
  return found;
}

describe("NvmlReader", () => {
  it("reads identity and every field of each GPU in NVML's units", async () => {
    const { info, reader } = await open({
      gpus: [
        gpu(0, {
          procs: [
            [4242, 8 * GIB],
            [4343, GIB],
          ],
        }),
        gpu(1),
      ],
    });
    expect(info).toMatchObject({
      driverVersion: "550.54.15",
      nvmlVersion: "12.550.54.15",
      cudaDriverVersion: "12040",
      deviceCount: 2,
      missingFunctions: [],
    });
    const sample = reader.sample();
    expect(sample.errors).toEqual([]);
    const g0 = byIndex(sample.gpus, 0);
    expect(g0).toMatchObject({
      index: 0,
      uuid: "GPU-00000000-1111-2222-3333-444444444444",
      name: "NVIDIA H100 80GB HBM3",
      pciBusId: "00000000:17:00.0",
      isUp: true,
      utilizationGpuPercent: 50,
      utilizationMemoryPercent: 20,
      memoryTotalBytes: 80 * GIB,
      memoryUsedBytes: 10 * GIB,
      memoryReservedBytes: 512 * 1024 * 1024,
      temperatureCelsius: 60,
      powerMilliwatts: 300_000,
      powerLimitMilliwatts: 700_000,
      smClockMhz: 1980,
      memoryClockMhz: 2619,
      throttleReasons: 4,
      eccCorrected: 0,
      eccUncorrected: 0,
      remappedRows: { correctable: 1, uncorrectable: 0, isPending: false, hasFailed: false },
      nvlinkActive: [true, true, true, true],
      migEnabled: false,
      disabled: [],
      processes: [
        { pid: 4242, usedMemoryBytes: 8 * GIB },
        { pid: 4343, usedMemoryBytes: GIB },
      ],
    });
    expect(g0.energyMillijoules).toBeGreaterThanOrEqual(1_000_000);
    expect(byIndex(sample.gpus, 1)).toMatchObject({
      uuid: "GPU-00000001-1111-2222-3333-444444444444",
      utilizationGpuPercent: 51,
      temperatureCelsius: 61,
      eccCorrected: 1,
    });
    expect(sample.calls).toBeGreaterThan(30);
  });

  it.each([24, 32])("decodes %i-byte process entries from the _v3 call by measuring the stride", async (size) => {
    const procs = [
      [101, 3 * GIB],
      [202, 5 * GIB],
      [303, 7 * GIB],
    ] as const;
    const { reader } = await open({ process_entry_size: size, gpus: [gpu(0, { procs })] });
    const processes = reader.sample().gpus[0]?.processes;
    expect(processes).toEqual(procs.map(([pid, bytes]) => ({ pid, usedMemoryBytes: bytes })));
  });

  it("grows the process buffer when many processes run", async () => {
    const procs = Array.from({ length: 100 }, (_, i) => [1000 + i, (i + 1) * 1024 * 1024] as const);
    const { reader } = await open({ process_entry_size: 32, gpus: [gpu(0, { procs })] });
    const processes = reader.sample().gpus[0]?.processes ?? [];
    expect(processes).toHaveLength(100);
    expect(processes[99]).toEqual({ pid: 1099, usedMemoryBytes: 100 * 1024 * 1024 });
  });

  it("falls back on an old driver that lacks the newer functions", async () => {
    const { info, reader } = await open({ gpus: [gpu(0, { procs: [[7, GIB]] })] }, "old");
    expect(info.missingFunctions).toEqual(
      expect.arrayContaining([
        "nvmlDeviceGetMemoryInfo_v2",
        "nvmlDeviceGetTemperatureV",
        "nvmlDeviceGetCurrentClocksEventReasons",
        "nvmlDeviceGetComputeRunningProcesses_v3",
        "nvmlDeviceGetRemappedRows",
      ]),
    );
    const sample = reader.sample();
    const g0 = byIndex(sample.gpus, 0);
    // v1 memory counts reserved memory as used and cannot report it separately.
    expect(g0).toMatchObject({
      memoryTotalBytes: 80 * GIB,
      memoryUsedBytes: 10 * GIB + 512 * 1024 * 1024,
      temperatureCelsius: 60,
      throttleReasons: 4,
      processes: [{ pid: 7, usedMemoryBytes: GIB }],
    });
    expect(g0.memoryReservedBytes).toBeUndefined();
    expect(g0.remappedRows).toBeUndefined();
    // The old driver has no GPM functions either (GPM came with R520 / nvml.h 11.8).
    expect(g0.disabled).toEqual(["remap", "gpm"]);
    expect(sample.newlyDisabled).toEqual([
      { uuid: g0.uuid, field: "remap", reason: "FUNCTION_NOT_FOUND" },
      { uuid: g0.uuid, field: "gpm", reason: "FUNCTION_NOT_FOUND" },
    ]);
    expect(reader.sample().newlyDisabled).toEqual([]);
  });

  it("disables a NOT_SUPPORTED field on that GPU only, and reports it once", async () => {
    const { reader } = await open({ gpus: [gpu(0, { not_supported: "temp,power" }), gpu(1)] });
    const first = reader.sample();
    expect(byIndex(first.gpus, 0).temperatureCelsius).toBeUndefined();
    expect(byIndex(first.gpus, 0).powerMilliwatts).toBeUndefined();
    expect(byIndex(first.gpus, 0).utilizationGpuPercent).toBe(50);
    expect(byIndex(first.gpus, 1)).toMatchObject({ temperatureCelsius: 61, powerMilliwatts: 301_000, disabled: [] });
    expect(first.newlyDisabled.map((d) => d.field).sort()).toEqual(["power", "temp"]);
    const second = reader.sample();
    expect(second.newlyDisabled).toEqual([]);
    expect(byIndex(second.gpus, 0).disabled.slice().sort()).toEqual(["power", "temp"]);
  });

  it("marks a lost GPU down, keeps the others, and brings it back after the backoff", async () => {
    let clock = 1_000_000;
    const settings = { gpus: [gpu(0), gpu(1), gpu(2)] };
    const { file, reader } = await open(settings, "full", () => clock);
    expect(reader.sample().gpus.every((g) => g.isUp)).toBe(true);

    await file.write({ gpus: [gpu(0), gpu(1, { lost: 1 }), gpu(2)] });
    await sleep(RELOAD_WAIT_MS);
    const lost = reader.sample();
    expect(byIndex(lost.gpus, 1)).toMatchObject({
      isUp: false,
      downReason: "GPU_IS_LOST",
      uuid: "GPU-00000001-1111-2222-3333-444444444444",
    });
    expect(byIndex(lost.gpus, 1).utilizationGpuPercent).toBeUndefined();
    expect(byIndex(lost.gpus, 0)).toMatchObject({ isUp: true, utilizationGpuPercent: 50 });
    expect(byIndex(lost.gpus, 2)).toMatchObject({ isUp: true, utilizationGpuPercent: 52 });
    expect(lost.errors.some((e) => e.includes("GPU_IS_LOST"))).toBe(true);

    await file.write(settings);
    await sleep(RELOAD_WAIT_MS);
    clock += 500; // inside the first 1 s backoff: not retried yet
    expect(byIndex(reader.sample().gpus, 1).isUp).toBe(false);
    clock += 600;
    expect(byIndex(reader.sample().gpus, 1)).toMatchObject({ isUp: true, utilizationGpuPercent: 51 });
  });

  it("doubles the backoff while a GPU stays lost, up to the maximum", async () => {
    let clock = 0;
    const { reader } = await open({ gpus: [gpu(0, { lost: 1 })] }, "full", () => clock);
    const retries: number[] = [];
    for (let t = 0; t <= 40_000; t += 250) {
      clock = t;
      // One call each round drains the event set; a retry adds the handle lookup.
      if (reader.sample().calls > 1 && t > 0) retries.push(t);
    }
    // Attach at open failed at t=0 (retry at 1 s); then 2 s, 4 s, 8 s, and 8 s (the maximum) apart.
    expect(retries.slice(0, 6)).toEqual([1_000, 3_000, 7_000, 15_000, 23_000, 31_000]);
  });

  it("counts XID events from the event set, once each", async () => {
    const settings = { gpus: [gpu(0), gpu(1)] };
    const { file, reader } = await open(settings);
    expect(reader.sample().xids).toEqual([]);
    await file.write({
      ...settings,
      events: [
        [1, 1, 79],
        [2, 0, 48],
      ],
    });
    await sleep(RELOAD_WAIT_MS);
    // The library reloads during the round's device calls; events are drained at its end.
    const all = [...reader.sample().xids, ...reader.sample().xids];
    expect(all.map((x) => [x.uuid, x.xid])).toEqual([
      ["GPU-00000001-1111-2222-3333-444444444444", 79],
      ["GPU-00000000-1111-2222-3333-444444444444", 48],
    ]);
    expect(reader.sample().xids).toEqual([]);
  });

  it("reads MIG devices with their profile and memory", async () => {
    const { reader } = await open({
      gpus: [
        gpu(0, {
          mig_mode: 1,
          migs: [
            [1, 0, "1g.10gb", 10 * GIB, GIB],
            [2, 0, "3g.40gb", 40 * GIB, 20 * GIB],
          ],
        }),
      ],
    });
    const g0 = reader.sample().gpus[0];
    expect(g0?.migEnabled).toBe(true);
    expect(g0?.migDevices).toEqual([
      {
        uuid: expect.stringMatching(/^MIG-/),
        gpuInstanceId: 1,
        computeInstanceId: 0,
        profile: "1g.10gb",
        memoryTotalBytes: 10 * GIB,
        memoryUsedBytes: GIB,
      },
      {
        uuid: expect.stringMatching(/^MIG-/),
        gpuInstanceId: 2,
        computeInstanceId: 0,
        profile: "3g.40gb",
        memoryTotalBytes: 40 * GIB,
        memoryUsedBytes: 20 * GIB,
      },
    ]);
  });

  it("reports inactive NVLink links and a GPU without NVLink", async () => {
    const { reader } = await open({
      gpus: [gpu(0, { nvlink_count: 6, nvlink_down: "1,4" }), gpu(1, { nvlink_count: 0 })],
    });
    const sample = reader.sample();
    expect(byIndex(sample.gpus, 0).nvlinkActive).toEqual([true, false, true, true, false, true]);
    expect(byIndex(sample.gpus, 1).nvlinkActive).toBeUndefined();
    // Without NVLink there is no NVLink traffic counter either (field 138/139 answer NOT_SUPPORTED).
    expect(byIndex(sample.gpus, 1).disabled).toEqual(["nvlink", "nvlink_throughput"]);
  });

  it("a round that is not a slow round carries the slow groups' last values, with 9 calls a GPU fewer", async () => {
    const { file, reader: r } = await open({ gpus: [gpu(0, { nvlink_down: "2" }), gpu(1)] });
    r.sample(); // the calls made once per GPU (link count, thresholds, GPM support and baseline)
    await sleep(RELOAD_WAIT_MS);
    const slow = r.sample();
    // The power limit, ECC and link state change on the driver's side: a fast round does not see it.
    await file.write({
      gpus: [gpu(0, { power_limit_mw: 350_000, ecc_corrected: 9, nvlink_down: "" }), gpu(1, { util_gpu: 77 })],
    });
    await sleep(RELOAD_WAIT_MS);
    const fast = r.sample({ isSlowRound: false });
    const slowFields = (g: GpuRaw) => [
      g.migEnabled,
      g.powerLimitMilliwatts,
      g.eccCorrected,
      g.eccUncorrected,
      g.remappedRows,
      g.nvlinkActive,
    ];
    expect(fast.gpus.map(slowFields)).toEqual(slow.gpus.map(slowFields));
    expect(byIndex(fast.gpus, 0).nvlinkActive).toEqual([true, true, false, true]);
    expect(byIndex(fast.gpus, 0).migEnabled).toBe(false);
    expect(byIndex(fast.gpus, 1).utilizationGpuPercent).toBe(77);
    // MIG mode 1, power limit 1, ECC 2, remapped rows 1, four NvLink links 4: per GPU.
    expect(slow.calls - fast.calls).toBe(2 * 9);
    const next = r.sample();
    expect(byIndex(next.gpus, 0)).toMatchObject({ powerLimitMilliwatts: 350_000, eccCorrected: 9 });
    expect(byIndex(next.gpus, 0).nvlinkActive).toEqual([true, true, true, true]);
  });

  it("a GPU's first round reads the slow groups even when it is not a slow round", async () => {
    const first = (await open({ gpus: [gpu(0)] })).reader.sample({ isSlowRound: false });
    expect(byIndex(first.gpus, 0)).toMatchObject({ powerLimitMilliwatts: 700_000, eccCorrected: 0 });
    expect(byIndex(first.gpus, 0).nvlinkActive).toHaveLength(4);
  });

  it("follows values that change over time", async () => {
    const { reader } = await open({ gpus: [gpu(0, { util_gpu: 10, "util_gpu.ramp": 100 })] });
    const first = reader.sample().gpus[0]?.utilizationGpuPercent ?? 0;
    await sleep(300);
    const second = reader.sample().gpus[0]?.utilizationGpuPercent ?? 0;
    expect(second - first).toBeGreaterThanOrEqual(20);
  });

  it("fails to open when nvmlInit fails, naming the return code", async () => {
    await expect(open({ init_result: 9, gpus: [gpu(0)] })).rejects.toThrow(/nvmlInit_v2 failed: DRIVER_NOT_LOADED/);
    reader = undefined;
  });

  it("refuses a library that is not NVML", () => {
    expect(() => loadNvmlLibrary("libc.so.6")).toThrow(/lacks required functions nvmlInit_v2/);
    expect(() => loadNvmlLibrary("/nonexistent/libnvidia-ml.so.1")).toThrow(/cannot load \/nonexistent/);
  });
});
