import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  ALL_BLOCK_DEVICES,
  createHostCollector,
  PROC_FILES,
  toHostSample,
  type FsSize,
  type HostFiles,
  type HostReadings,
} from "../../../agent/collectors/host-collector.js";
import {
  cpuUtilizationBetween,
  parseDiskstats,
  parseLoadavg,
  parseMeminfo,
  parseMountinfo,
  parseNetDev,
  parseProcStat,
  pickVolume,
  volumeIo,
} from "../../../agent/collectors/host-proc.js";
import type { HostConfig } from "../../../common/config/schema.js";
import { projectPath } from "../../../common/paths.js";
import { GIB, KIB } from "../../../common/units.js";

/** A file of test/fixtures/proc (prometheus/procfs test data; see the README there). */
function fixture(name: string): string {
  return readFileSync(projectPath(`test/fixtures/proc/${name}`), "utf8");
}

const FIXTURE_FILES: Record<keyof typeof PROC_FILES, string> = {
  stat: fixture("stat"),
  meminfo: fixture("meminfo"),
  loadavg: fixture("loadavg"),
  mountinfo: fixture("mountinfo"),
  diskstats: fixture("diskstats"),
  netDev: fixture("net-dev"),
};

/** The aggregate cpu line of the fixture, summed by hand: busy = user+nice+system+irq+softirq+steal. */
const FIXTURE_CPU = {
  busy: 301854 + 612 + 111922 + 2 + 3944 + 0,
  total: 301854 + 612 + 111922 + 2 + 3944 + 8979004 + 3552,
  cores: 8,
};

describe("/proc parsers on procfs's fixtures", () => {
  it("/proc/stat: busy and total ticks of the aggregate line, one core per cpuN line, guest time not counted twice", () => {
    expect(parseProcStat(FIXTURE_FILES.stat)).toEqual(FIXTURE_CPU);
    expect(parseProcStat("cpu  10 0 10 80 0 0 0 0 7 3\ncpu0 10 0 10 80 0 0 0 0 7 3\n")).toEqual({
      busy: 20,
      total: 100,
      cores: 1,
    });
  });

  it("/proc/stat without an aggregate line is an error", () => {
    expect(() => parseProcStat("cpu0 1 2 3 4\n")).toThrow(/no readable aggregate cpu line/);
  });

  it.each([
    [
      "a quarter of the elapsed time busy",
      { busy: 100, total: 1000, cores: 2 },
      { busy: 150, total: 1200, cores: 2 },
      0.25,
    ],
    [
      "no time elapsed gives no figure",
      { busy: 100, total: 1000, cores: 2 },
      { busy: 100, total: 1000, cores: 2 },
      undefined,
    ],
    [
      "counters that went backwards give no figure",
      { busy: 100, total: 1000, cores: 2 },
      { busy: 10, total: 900, cores: 2 },
      undefined,
    ],
  ])("CPU utilization: %s", (_name, previous, current, expected) => {
    expect(cpuUtilizationBetween(previous, current)).toBe(expected);
  });

  it("/proc/meminfo: MemAvailable when the kernel has it, else free + buffers + cache (the fixture predates 3.14)", () => {
    expect(parseMeminfo(FIXTURE_FILES.meminfo)).toEqual({
      totalBytes: 15666184 * KIB,
      availableBytes: (440324 + 1020128 + 12007640) * KIB,
    });
    expect(parseMeminfo("MemTotal: 1000 kB\nMemFree: 10 kB\nMemAvailable: 600 kB\n")).toEqual({
      totalBytes: 1000 * KIB,
      availableBytes: 600 * KIB,
    });
    expect(() => parseMeminfo("MemFree: 10 kB\n")).toThrow(/no MemTotal/);
  });

  it("/proc/loadavg: the three averages", () => {
    expect(parseLoadavg(FIXTURE_FILES.loadavg)).toEqual({ m1: 0.02, m5: 0.04, m15: 0.05 });
    expect(() => parseLoadavg("1.0\n")).toThrow(/unexpected/);
  });

  it("mountinfo: mount point, device number and type per line; octal escapes decoded", () => {
    const mounts = parseMountinfo(FIXTURE_FILES.mountinfo);
    expect(mounts).toHaveLength(8);
    expect(mounts.find((m) => m.mount === "/")).toEqual({
      mount: "/",
      device: "8:1",
      fsType: "ext4",
      source: "/dev/sda1",
    });
    expect(pickVolume(mounts, "/mnt/nfs/test/llama")).toMatchObject({ device: "0:44", fsType: "nfs" });
    const escaped = parseMountinfo("30 21 259:2 / /mnt/my\\040models rw - xfs /dev/nvme0n1p2 rw\n");
    expect(escaped[0]?.mount).toBe("/mnt/my models");
  });

  it("diskstats: the volume's own device when it has a row", () => {
    const disks = parseDiskstats(FIXTURE_FILES.diskstats);
    expect(volumeIo(disks, "8:1")).toEqual({ device: "sda1", readBytes: 2000 * 512, writtenBytes: 0 });
    expect(volumeIo(disks, "259:2")).toEqual({
      device: "nvme0n1p2",
      readBytes: 4631243 * 512,
      writtenBytes: 39451632 * 512,
    });
    expect(volumeIo(disks, "252:0")).toMatchObject({ device: "dm-0" });
  });

  it("diskstats: a volume on no block device (overlay, NFS) counts every whole disk once, not partitions, RAM, loop or device-mapper", () => {
    const disks = parseDiskstats(FIXTURE_FILES.diskstats);
    // Whole disks in the fixture: sda, mmcblk0, vda, nvme0n1, sdb, sdc.
    const read = 1003346126 + 1560 + 32670882 + 4643973 + 9657779 + 579164;
    const written = 505697032 + 0 + 213637440 + 39451633 + 1972905 + 180500;
    expect(volumeIo(disks, "0:44")).toEqual({
      device: ALL_BLOCK_DEVICES,
      readBytes: read * 512,
      writtenBytes: written * 512,
    });
    expect(() => volumeIo(parseDiskstats("   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0\n"), "0:44")).toThrow(
      /no whole disk/,
    );
  });

  it("/proc/net/dev: bytes per interface, loopback left out", () => {
    expect(parseNetDev(FIXTURE_FILES.netDev)).toEqual([
      { iface: "vethf345468", rxBytes: 648, txBytes: 438 },
      { iface: "docker0", rxBytes: 2568, txBytes: 438 },
      { iface: "eth0", rxBytes: 874354587, txBytes: 563352563 },
    ]);
  });
});

describe("pickVolume", () => {
  const at = (mount: string, device = "8:1") => ({ mount, device });
  const mounts = [at("/"), at("/data"), at("/data/models"), at("/database"), at("/mnt/weights/")];
  it.each([
    [
      "a file deep under a nested mount belongs to the nested mount",
      "/data/models/llama/model.safetensors",
      "/data/models",
    ],
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
    expect(pickVolume([at("/"), at("/models", "8:2"), at("/models", "8:3")], "/models/a")?.device).toBe("8:3");
  });

  it("no mount is picked when none contains the path", () => {
    expect(pickVolume([at("/data")], "/models")).toBeUndefined();
  });
});

function ok<T>(value: T): PromiseFulfilledResult<T> {
  return { status: "fulfilled", value };
}

function failed(reason: unknown): PromiseRejectedResult {
  return { status: "rejected", reason };
}

const SIZE: FsSize = { bsize: 4096, blocks: (100 * GIB) / 4096, bavail: (40 * GIB) / 4096 };

/** Readings of the fixture host, the model path on its root (/dev/sda1, 8:1), with fields overridden per test. */
function readings(over: Partial<HostReadings> = {}, files: Partial<HostReadings["files"]> = {}): HostReadings {
  const settledFiles = Object.fromEntries(
    Object.entries(FIXTURE_FILES).map(([key, text]) => [key, ok(text)]),
  ) as HostReadings["files"];
  return {
    takenAtMs: 1_700_000_000_000,
    modelPath: "/models",
    resolvedModelPath: "/models",
    previousCpu: { busy: FIXTURE_CPU.busy - 300, total: FIXTURE_CPU.total - 1200, cores: 8 },
    files: { ...settledFiles, ...files },
    volumeSize: ok(SIZE),
    ...over,
  };
}

const EXPECTED_NETWORK = [
  { iface: "vethf345468", rxBytes: 648, txBytes: 438 },
  { iface: "docker0", rxBytes: 2568, txBytes: 438 },
  { iface: "eth0", rxBytes: 874354587, txBytes: 563352563 },
];

/** The optional sample fields the tests below may knock out. */
const absentField = { cpuUtilization: 0, cpuCores: 0, load: 0, memory: 0, volume: 0 } as const;

describe("toHostSample", () => {
  it("maps every source when all succeed, and hands back the CPU times as the next baseline", () => {
    const { sample, errors, cpu } = toHostSample(readings());
    expect(errors).toEqual([]);
    expect(cpu).toEqual(FIXTURE_CPU);
    expect(sample).toEqual({
      takenAtMs: 1_700_000_000_000,
      cpuUtilization: 0.25,
      cpuCores: 8,
      load: { m1: 0.02, m5: 0.04, m15: 0.05 },
      memory: { totalBytes: 15666184 * KIB, availableBytes: (440324 + 1020128 + 12007640) * KIB },
      volume: {
        path: "/models",
        mount: "/",
        sizeBytes: 100 * GIB,
        freeBytes: 40 * GIB,
        device: "sda1",
        readBytes: 2000 * 512,
        writtenBytes: 0,
      },
      network: EXPECTED_NETWORK,
    });
  });

  it("matches mounts on the resolved path but labels the configured one", () => {
    const { sample } = toHostSample(readings({ modelPath: "/weights", resolvedModelPath: "/mnt/nfs/test/current" }));
    expect(sample.volume).toMatchObject({ path: "/weights", mount: "/mnt/nfs/test", device: ALL_BLOCK_DEVICES });
  });

  it("the first reading without a baseline has no utilization and no error", () => {
    const { sample, errors } = toHostSample(readings({ previousCpu: undefined }));
    expect(errors).toEqual([]);
    expect(sample.cpuUtilization).toBeUndefined();
    expect(sample.cpuCores).toBe(8);
  });

  it.each<[string, Partial<HostReadings>, Partial<HostReadings["files"]>, keyof typeof absentField | "cpu", RegExp]>([
    [
      "an unreadable /proc/stat leaves the CPU figures out",
      {},
      { stat: failed(new Error("EACCES")) },
      "cpu",
      /\/proc\/stat: EACCES/,
    ],
    ["a garbled /proc/loadavg leaves the load out", {}, { loadavg: ok("x") }, "load", /\/proc\/loadavg: unexpected/],
    [
      "a /proc/meminfo without MemTotal leaves memory out",
      {},
      { meminfo: ok("MemFree: 1 kB\n") },
      "memory",
      /\/proc\/meminfo: no MemTotal/,
    ],
    [
      "no mount containing the model path leaves the volume out",
      {},
      { mountinfo: ok("21 0 8:1 / /data rw - ext4 /dev/sda1 rw\n") },
      "volume",
      /no mount contains \/models/,
    ],
    [
      "a failed statfs leaves the volume out",
      { volumeSize: failed(new Error("ESTALE")) },
      {},
      "volume",
      /statfs\(\/models\): ESTALE/,
    ],
  ])("%s", (_name, over, files, field, message) => {
    const { sample, errors } = toHostSample(readings(over, files));
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(message)]);
    const gone = field === "cpu" ? ["cpuUtilization", "cpuCores"] : [field];
    for (const key of gone) expect(sample[key as keyof typeof absentField], key).toBeUndefined();
    for (const other of Object.keys(absentField).filter((k) => !gone.includes(k)))
      expect(sample[other as keyof typeof absentField], other).toBeDefined();
  });

  it("an unreadable /proc/diskstats keeps the volume sizes but drops the I/O counters and their device", () => {
    const { sample, errors } = toHostSample(readings({}, { diskstats: failed(new Error("ENOENT")) }));
    expect(errors.map((e) => e.message)).toEqual(["host: /proc/diskstats: ENOENT"]);
    expect(sample.volume).toEqual({ path: "/models", mount: "/", sizeBytes: 100 * GIB, freeBytes: 40 * GIB });
  });

  it("an unreadable /proc/net/dev gives an empty interface list and one error", () => {
    const { sample, errors } = toHostSample(readings({}, { netDev: failed("no netns") }));
    expect(sample.network).toEqual([]);
    expect(errors.map((e) => e.message)).toEqual(["host: /proc/net/dev: no netns"]);
  });
});

const config: HostConfig = { enabled: true, interval: 15_000, modelPath: "/models" };

/** Host files answering from the fixtures; statfs and realpath overridable. */
function fakeFiles(over: Partial<HostFiles> = {}): HostFiles {
  const byPath = new Map<string, string>();
  for (const key of Object.keys(PROC_FILES) as (keyof typeof PROC_FILES)[])
    byPath.set(PROC_FILES[key], FIXTURE_FILES[key]);
  return {
    readText: async (path) => {
      const text = byPath.get(path);
      if (text === undefined) throw new Error(`ENOENT ${path}`);
      return text;
    },
    statfs: async () => SIZE,
    realpath: async (path) => path,
    ...over,
  };
}

describe("createHostCollector", () => {
  it("start() takes the CPU baseline, so the first sample has a utilization and each later one covers its own interval", async () => {
    let stat = "cpu  100 0 0 900 0 0 0 0 0 0\ncpu0 100 0 0 900 0 0 0 0 0 0\n";
    const base = fakeFiles();
    const collector = createHostCollector(config, {
      files: { ...base, readText: async (path) => (path === PROC_FILES.stat ? stat : base.readText(path)) },
    });
    await collector.start();
    stat = "cpu  150 0 0 1050 0 0 0 0 0 0\ncpu0 150 0 0 1050 0 0 0 0 0 0\n";
    expect((await collector.collect()).samples[0]?.cpuUtilization).toBe(0.25);
    stat = "cpu  250 0 0 1050 0 0 0 0 0 0\ncpu0 250 0 0 1050 0 0 0 0 0 0\n";
    expect((await collector.collect()).samples[0]?.cpuUtilization).toBe(1);
    await collector.shutdown();
    await collector.shutdown();
  });

  it("a statfs that hangs times out after the interval, is not started again while it hangs, and is used again once it returns", async () => {
    let release: (size: FsSize) => void = () => undefined;
    let calls = 0;
    const collector = createHostCollector(
      { ...config, interval: 50 },
      {
        files: fakeFiles({
          statfs: () => {
            calls++;
            return calls === 1 ? new Promise<FsSize>((resolve) => (release = resolve)) : Promise.resolve(SIZE);
          },
        }),
      },
    );
    const first = await collector.collect();
    expect(first.errors.map((e) => e.message)).toEqual(["host: statfs(/models): timed out after 50 ms"]);
    expect(first.samples[0]?.memory).toBeDefined();
    const second = await collector.collect();
    expect(second.errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/previous statfs has not returned yet/),
    ]);
    expect(calls).toBe(1);
    release(SIZE);
    await new Promise((resolve) => setImmediate(resolve));
    const third = await collector.collect();
    expect(third.errors).toEqual([]);
    expect(third.samples[0]?.volume?.sizeBytes).toBe(100 * GIB);
    expect(calls).toBe(2);
  });

  it("a read that throws synchronously is reported like a rejection", async () => {
    const base = fakeFiles();
    const collector = createHostCollector(config, {
      files: {
        ...base,
        readText: (path) =>
          path === PROC_FILES.loadavg
            ? (() => {
                throw new Error("boom");
              })()
            : base.readText(path),
      },
    });
    const { samples, errors } = await collector.collect();
    expect(errors.map((e) => e.message)).toEqual(["host: /proc/loadavg: boom"]);
    expect(samples[0]?.load).toBeUndefined();
    expect(samples[0]?.cpuCores).toBe(8);
  });

  it("reads plausible figures from this machine", async () => {
    const collector = createHostCollector({ enabled: true, interval: 20_000, modelPath: "/" });
    await collector.start();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const { samples, errors } = await collector.collect();
    await collector.shutdown();
    expect(errors.map((e) => e.message)).toEqual([]);
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
    expect(sample.volume?.readBytes).toBeGreaterThan(0);
    expect(sample.network.map((n) => n.iface)).not.toContain("lo");
    expect(Math.abs(sample.takenAtMs - Date.now())).toBeLessThan(60_000);
  });
});
