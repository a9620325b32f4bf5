import { describe, expect, it } from "vitest";
import {
  ALL_BLOCK_DEVICES,
  createHostCollector,
  pickVolume,
  toCpuRatio,
  toHostSample,
  type FsMount,
  type HostOs,
  type HostReadings,
  type HostSystemInfo,
} from "../../../agent/collectors/host-collector.js";
import type { HostConfig } from "../../../common/config/schema.js";

const GiB = 1024 ** 3;

function mount(path: string, fs = `/dev/${path.replaceAll("/", "_") || "root"}`): FsMount {
  return { fs, mount: path, size: 100 * GiB, available: 40 * GiB };
}

function ok<T>(value: T): PromiseFulfilledResult<T> {
  return { status: "fulfilled", value };
}

function failed(reason: unknown): PromiseRejectedResult {
  return { status: "rejected", reason };
}

/** Readings where every source succeeded, with fields overridden per test. */
function readings(over: Partial<HostReadings> = {}): HostReadings {
  return {
    takenAtMs: 1_700_000_000_000,
    modelPath: "/models",
    resolvedModelPath: "/models",
    currentLoad: ok({ currentLoad: 37.5 }),
    cpus: ok([{}, {}, {}, {}]),
    loadavg: ok([1.5, 1.25, 0.75]),
    mem: ok({ total: 64 * GiB, available: 48 * GiB }),
    fsSize: ok([mount("/", "/dev/sda1"), mount("/models", "/dev/nvme0n1")]),
    fsStats: ok({ rx: 5_000, wx: 7_000 }),
    networkStats: ok([
      { iface: "lo", rx_bytes: 1, tx_bytes: 1 },
      { iface: "eth0", rx_bytes: 1_000, tx_bytes: 2_000 },
    ]),
    ...over,
  };
}

const config: HostConfig = { enabled: true, interval: 15_000, modelPath: "/models" };

describe("pickVolume", () => {
  const mounts = [mount("/"), mount("/data"), mount("/data/models"), mount("/database"), mount("/mnt/weights/")];
  it.each([
    ["a file deep under a nested mount belongs to the nested mount", "/data/models/llama/model.safetensors", "/data/models"],
    ["the mount point itself belongs to that mount", "/data/models", "/data/models"],
    ["a trailing slash on the path is ignored", "/data/models/", "/data/models"],
    ["a sibling with a common string prefix is not under the shorter mount", "/database/x", "/database"],
    ["a path whose name only starts like a mount falls back to its parent mount", "/data/modelsX", "/data"],
    ["a path outside every other mount belongs to the root", "/opt/models", "/"],
    ["a trailing slash on the mount point is ignored", "/mnt/weights/llama", "/mnt/weights/"],
    ["dot segments are normalised before matching", "/data/x/../models/a", "/data/models"],
  ])("%s", (_name, path, expected) => {
    expect(pickVolume(mounts, path)?.mount).toBe(expected);
  });

  it("the last of two mounts on the same directory wins, as it hides the first", () => {
    const picked = pickVolume([mount("/"), mount("/models", "/dev/old"), mount("/models", "/dev/new")], "/models/a");
    expect(picked?.fs).toBe("/dev/new");
  });

  it("no mount is picked when none contains the path", () => {
    expect(pickVolume([mount("/data")], "/models")).toBeUndefined();
  });
});

describe("toCpuRatio", () => {
  it.each([
    [0, 0],
    [37.5, 0.375],
    [100, 1],
    [100.0000001, 1],
    [-0.01, 0],
  ])("%s percent is a ratio of %s", (percent, ratio) => {
    expect(toCpuRatio(percent)).toBe(ratio);
  });
});

/** The optional sample fields the tests below may knock out. */
const absentField = { cpuUtilization: 0, cpuCores: 0, load: 0, memory: 0, volume: 0 } as const;

describe("toHostSample", () => {
  it("maps every source when all succeed", () => {
    const { sample, errors } = toHostSample(readings());
    expect(errors).toEqual([]);
    expect(sample).toEqual({
      takenAtMs: 1_700_000_000_000,
      cpuUtilization: 0.375,
      cpuCores: 4,
      load: { m1: 1.5, m5: 1.25, m15: 0.75 },
      memory: { totalBytes: 64 * GiB, availableBytes: 48 * GiB },
      volume: {
        path: "/models",
        mount: "/models",
        sizeBytes: 100 * GiB,
        freeBytes: 40 * GiB,
        device: ALL_BLOCK_DEVICES,
        readBytes: 5_000,
        writtenBytes: 7_000,
      },
      network: [{ iface: "eth0", rxBytes: 1_000, txBytes: 2_000 }],
    });
  });

  it("matches mounts on the resolved path but labels the configured one", () => {
    const { sample } = toHostSample(readings({ modelPath: "/weights", resolvedModelPath: "/models/current" }));
    expect(sample.volume).toMatchObject({ path: "/weights", mount: "/models" });
  });

  it.each<[string, Partial<HostReadings>, keyof typeof absentField, RegExp]>([
    ["a rejected currentLoad leaves only the CPU ratio out", { currentLoad: failed(new Error("boom")) }, "cpuUtilization", /currentLoad\(\): boom/],
    ["a NaN load percentage is an error, not a value", { currentLoad: ok({ currentLoad: Number.NaN }) }, "cpuUtilization", /currentLoad is NaN/],
    ["an empty CPU list leaves the core count out", { cpus: ok([]) }, "cpuCores", /os\.cpus\(\): no CPUs listed/],
    ["a short loadavg array leaves the load out", { loadavg: ok([1]) }, "load", /os\.loadavg\(\)/],
    ["a zero memory total leaves memory out", { mem: ok({ total: 0, available: 0 }) }, "memory", /mem\(\): total 0/],
    ["no mount containing the model path leaves the volume out", { fsSize: ok([mount("/data")]) }, "volume", /fsSize\(\): no mount contains \/models/],
  ])("%s", (_name, over, field, message) => {
    const { sample, errors } = toHostSample(readings(over));
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(message)]);
    expect(sample[field]).toBeUndefined();
    const others = Object.keys(absentField).filter((k) => k !== field) as (keyof typeof absentField)[];
    for (const other of others) expect(sample[other], other).toBeDefined();
  });

  it.each<[string, PromiseSettledResult<{ rx: number; wx: number } | null>, RegExp]>([
    ["fsStats rejecting", failed(new Error("lsblk: not found")), /fsStats\(\): lsblk: not found/],
    ["fsStats unsupported on the platform", ok(null), /not available on this platform/],
    ["fsStats reporting zeros because lsblk failed", ok({ rx: 0, wx: 0 }), /no block-device I\/O reported/],
  ])("%s keeps the volume sizes but drops the I/O counters and their device", (_name, fsStats, message) => {
    const { sample, errors } = toHostSample(readings({ fsStats }));
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(message)]);
    expect(sample.volume).toEqual({ path: "/models", mount: "/models", sizeBytes: 100 * GiB, freeBytes: 40 * GiB });
  });

  it("a failed networkStats gives an empty interface list and one error", () => {
    const { sample, errors } = toHostSample(readings({ networkStats: failed("no /sys") }));
    expect(sample.network).toEqual([]);
    expect(errors.map((e) => e.message)).toEqual(["host: systeminformation.networkStats('*'): no /sys"]);
  });

  it("interfaces with unreadable counters and repeated names are dropped", () => {
    const { sample } = toHostSample(
      readings({
        networkStats: ok([
          { iface: "eth0", rx_bytes: 10, tx_bytes: 20 },
          { iface: "eth0", rx_bytes: 99, tx_bytes: 99 },
          { iface: "ib0", rx_bytes: Number.NaN, tx_bytes: 5 },
          { iface: "bond0", rx_bytes: 30, tx_bytes: 40 },
        ]),
      }),
    );
    expect(sample.network).toEqual([
      { iface: "eth0", rxBytes: 10, txBytes: 20 },
      { iface: "bond0", rxBytes: 30, txBytes: 40 },
    ]);
  });
});

/** A systeminformation stand-in with fixed answers. */
function fakeSi(over: Partial<HostSystemInfo> = {}): HostSystemInfo {
  return {
    currentLoad: async () => ({ currentLoad: 12.5 }),
    mem: async () => ({ total: 8 * GiB, available: 6 * GiB }),
    fsSize: async () => [mount("/", "/dev/sda1")],
    fsStats: async () => ({ rx: 100, wx: 200 }),
    networkStats: async () => [{ iface: "eth0", rx_bytes: 3, tx_bytes: 4 }],
    ...over,
  };
}

const fakeOs: HostOs = { loadavg: () => [0.5, 0.25, 0.125], cpus: () => [{}, {}] };

describe("createHostCollector", () => {
  it("a rejecting fsSize yields one error naming fsSize and a sample with everything else", async () => {
    const collector = createHostCollector(config, {
      si: fakeSi({ fsSize: () => Promise.reject(new Error("df exited 1")) }),
      os: fakeOs,
    });
    await collector.start();
    const { samples, errors } = await collector.collect();
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toBe("host: systeminformation.fsSize(): df exited 1");
    expect(errors[0]?.cause).toBeInstanceOf(Error);
    expect(samples).toHaveLength(1);
    const sample = samples[0];
    expect(sample?.volume).toBeUndefined();
    expect(sample).toMatchObject({
      cpuUtilization: 0.125,
      cpuCores: 2,
      load: { m1: 0.5, m5: 0.25, m15: 0.125 },
      memory: { totalBytes: 8 * GiB, availableBytes: 6 * GiB },
      network: [{ iface: "eth0", rxBytes: 3, txBytes: 4 }],
    });
    await collector.shutdown();
    await collector.shutdown();
  });

  it("a source that throws synchronously is reported like a rejection", async () => {
    const collector = createHostCollector(config, {
      si: fakeSi(),
      os: { ...fakeOs, loadavg: () => { throw new Error("no /proc/loadavg"); } },
    });
    const { samples, errors } = await collector.collect();
    expect(errors.map((e) => e.message)).toEqual(["host: os.loadavg(): no /proc/loadavg"]);
    expect(samples[0]?.load).toBeUndefined();
    expect(samples[0]?.cpuCores).toBe(2);
  });

  it("a source that hangs times out after the interval and the others still report", async () => {
    const collector = createHostCollector(
      { ...config, interval: 50 },
      { si: fakeSi({ fsSize: () => new Promise<never>(() => {}) }), os: fakeOs },
    );
    const { samples, errors } = await collector.collect();
    expect(errors.map((e) => e.message)).toEqual(["host: systeminformation.fsSize(): timed out after 50 ms"]);
    expect(samples[0]?.memory).toEqual({ totalBytes: 8 * GiB, availableBytes: 6 * GiB });
  });

  it("reads plausible figures from this machine through the real systeminformation", async () => {
    const collector = createHostCollector({ enabled: true, interval: 20_000, modelPath: "/" });
    await collector.start();
    const { samples, errors } = await collector.collect();
    await collector.shutdown();
    // Block-device I/O depends on lsblk being installed; every other source must work here.
    expect(errors.filter((e) => !e.message.includes("fsStats")).map((e) => e.message)).toEqual([]);
    const sample = samples[0];
    expect(sample).toBeDefined();
    if (!sample) return;
    expect(sample.cpuCores).toBeGreaterThanOrEqual(1);
    expect(sample.cpuUtilization).toBeGreaterThanOrEqual(0);
    expect(sample.cpuUtilization).toBeLessThanOrEqual(1);
    expect(sample.load?.m1).toBeGreaterThanOrEqual(0);
    expect(sample.memory?.availableBytes).toBeGreaterThan(0);
    expect(sample.memory?.totalBytes).toBeGreaterThan(sample.memory?.availableBytes ?? Infinity);
    expect(sample.volume?.path).toBe("/");
    expect(sample.volume?.mount).toBe("/");
    expect(sample.volume?.freeBytes).toBeGreaterThanOrEqual(0);
    expect(sample.volume?.sizeBytes).toBeGreaterThan(sample.volume?.freeBytes ?? Infinity);
    expect(sample.network.map((n) => n.iface)).not.toContain("lo");
    expect(Math.abs(sample.takenAtMs - Date.now())).toBeLessThan(60_000);
  });
});
