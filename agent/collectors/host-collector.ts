import { readFile, realpath, statfs } from "node:fs/promises";
import type { Collector, CollectResult } from "../../common/component.js";
import type { HostConfig } from "../../common/config/schema.js";
import { COLLECTORS } from "../../common/conventions.js";
import { wrapError } from "../../common/errors.js";
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
  type CpuTimes,
} from "./host-proc.js";

export { ALL_BLOCK_DEVICES, pickVolume } from "./host-proc.js";

/** One host sample; a field is absent when its source failed (the reason is in `errors`). */
export interface HostSample {
  /** Unix ms at which the sample was read. */
  readonly takenAtMs: number;
  /** Share of CPU time not idle since the previous sample, 0..1. */
  readonly cpuUtilization?: number;
  /** Logical CPU cores of the host (online). */
  readonly cpuCores?: number;
  /** Load averages over 1, 5 and 15 minutes. */
  readonly load?: { readonly m1: number; readonly m5: number; readonly m15: number };
  readonly memory?: { readonly totalBytes: number; readonly availableBytes: number };
  /** The volume holding `modelPath`; absent when its size or its mount could not be read. */
  readonly volume?: {
    /** The configured model path. */
    readonly path: string;
    /** Mount point of the volume holding it. */
    readonly mount: string;
    readonly sizeBytes: number;
    /** Bytes available to unprivileged writers (df "Avail"; excludes blocks reserved for root). */
    readonly freeBytes: number;
    /**
     * Block device the I/O counters describe: the volume's own (`nvme0n1p2`, `dm-0`), or
     * {@link ALL_BLOCK_DEVICES} (every whole disk) when the volume is on no one block device.
     */
    readonly device?: string;
    /** Cumulative bytes read since boot; present together with `device` and `writtenBytes`. */
    readonly readBytes?: number;
    /** Cumulative bytes written since boot. */
    readonly writtenBytes?: number;
  };
  /** Cumulative bytes per network interface since it came up; `lo` is left out. */
  readonly network: readonly { readonly iface: string; readonly rxBytes: number; readonly txBytes: number }[];
}

/** Size figures of a filesystem, as statfs(2) gives them. */
export interface FsSize {
  readonly bsize: number;
  readonly blocks: number;
  readonly bavail: number;
}

/**
 * The asynchronous file operations the host collector uses; the default is node:fs/promises, which
 * runs them on libuv's thread pool, never on the event loop.
 */
export interface HostFiles {
  readText(path: string): Promise<string>;
  statfs(path: string): Promise<FsSize>;
  realpath(path: string): Promise<string>;
}

/** The /proc files read each round. /proc/self/mountinfo is the agent's own mount namespace, where the model path is. */
export const PROC_FILES = {
  stat: "/proc/stat",
  meminfo: "/proc/meminfo",
  loadavg: "/proc/loadavg",
  mountinfo: "/proc/self/mountinfo",
  diskstats: "/proc/diskstats",
  netDev: "/proc/net/dev",
} as const;

type ProcFile = keyof typeof PROC_FILES;

/** What one read of the host returned, each source settled on its own. Input of {@link toHostSample}. */
export interface HostReadings {
  readonly takenAtMs: number;
  /** The configured model path (the `path` label). */
  readonly modelPath: string;
  /** The model path with symlinks resolved, matched against mount points. */
  readonly resolvedModelPath: string;
  /** CPU times of the previous reading (start() takes the first), the base of the utilization. */
  readonly previousCpu: CpuTimes | undefined;
  readonly files: { readonly [K in ProcFile]: PromiseSettledResult<string> };
  /** statfs of the model path. */
  readonly volumeSize: PromiseSettledResult<FsSize>;
}

/** Options of {@link createHostCollector}; the default is the real filesystem. */
export interface HostCollectorDeps {
  readonly files?: HostFiles;
}

const NODE_FILES: HostFiles = {
  readText: (path) => readFile(path, "utf8"),
  statfs: (path) => statfs(path),
  realpath: (path) => realpath(path),
};

/** The host collector: a Collector that also keeps its latest sample for scrapes and snapshots. */
export interface HostCollector extends Collector<HostSample> {
  /** The last sample collect() produced; undefined before the first. No I/O. */
  latest(): HostSample | undefined;
}

/**
 * Collects CPU, load, memory, model-volume and network figures of the host from /proc and
 * statfs(2), one sample per collect(). Every read is asynchronous (libuv's thread pool): no
 * subprocess and no synchronous file I/O touches the event loop. Each source is read on its own,
 * bounded by `config.interval`: a failing or hanging one leaves its fields absent and adds one
 * Error to `errors`; collect() never throws. A statfs still hanging (a stale NFS mount) is not
 * started again until it returns, so it holds at most one thread of the pool.
 *
 * CPU utilization covers the time since the previous collect(); start() takes the first
 * baseline, so the first sample does not average since boot.
 */
export function createHostCollector(config: HostConfig, deps: HostCollectorDeps = {}): HostCollector {
  const files = deps.files ?? NODE_FILES;
  const timeoutMs = config.interval;
  let previousCpu: CpuTimes | undefined;
  let latest: HostSample | undefined;
  let pendingStatfs: Promise<FsSize> | undefined;
  const readVolumeSize = (path: string): Promise<FsSize> => {
    if (pendingStatfs)
      return Promise.reject(new Error("the previous statfs has not returned yet (a hung network filesystem?)"));
    const call = files.statfs(path);
    pendingStatfs = call;
    const clear = (): void => {
      if (pendingStatfs === call) pendingStatfs = undefined;
    };
    call.then(clear, clear);
    return call;
  };
  return {
    name: COLLECTORS.host,
    async start() {
      const stat = await settleWithin(() => files.readText(PROC_FILES.stat), timeoutMs);
      if (stat.status === "fulfilled") {
        try {
          previousCpu = parseProcStat(stat.value);
        } catch {
          // The first collect() reports the problem.
        }
      }
    },
    async shutdown() {},
    latest: () => latest,
    async collect(): Promise<CollectResult<HostSample>> {
      try {
        const readings = await readHost(files, config.modelPath, previousCpu, timeoutMs, readVolumeSize);
        const { sample, errors, cpu } = toHostSample(readings);
        if (cpu) previousCpu = cpu;
        latest = sample;
        return { samples: [sample], errors };
      } catch (err) {
        return { samples: [], errors: [wrapError("host: collect", err)] };
      }
    },
  };
}

/** Reads every source concurrently; never rejects. */
async function readHost(
  files: HostFiles,
  modelPath: string,
  previousCpu: CpuTimes | undefined,
  timeoutMs: number,
  readVolumeSize: (path: string) => Promise<FsSize>,
): Promise<HostReadings> {
  const takenAtMs = Date.now();
  const resolvedModelPath = await settleWithin(() => files.realpath(modelPath), timeoutMs).then((settled) =>
    settled.status === "fulfilled" ? settled.value : modelPath,
  );
  const keys = Object.keys(PROC_FILES) as ProcFile[];
  const [volumeSize, ...texts] = await Promise.all([
    settleWithin(() => readVolumeSize(resolvedModelPath), timeoutMs),
    ...keys.map((key) => settleWithin(() => files.readText(PROC_FILES[key]), timeoutMs)),
  ]);
  const settled = Object.fromEntries(keys.map((key, i) => [key, texts[i]])) as HostReadings["files"];
  return { takenAtMs, modelPath, resolvedModelPath, previousCpu, files: settled, volumeSize };
}

/**
 * Turns raw readings into a sample plus one Error per failed source, and the CPU times to use as
 * the next baseline. Pure.
 */
export function toHostSample(raw: HostReadings): { sample: HostSample; errors: Error[]; cpu: CpuTimes | undefined } {
  const errors: Error[] = [];
  /** The parsed file, or undefined with the reason recorded. */
  function parse<T>(key: ProcFile, parser: (text: string) => T): T | undefined {
    const reading = raw.files[key];
    try {
      if (reading.status === "rejected") throw reading.reason;
      return parser(reading.value);
    } catch (err) {
      errors.push(wrapError(`host: ${PROC_FILES[key]}`, err));
      return undefined;
    }
  }

  const cpu = parse("stat", parseProcStat);
  const cpuUtilization = cpu && raw.previousCpu ? cpuUtilizationBetween(raw.previousCpu, cpu) : undefined;
  const load = parse("loadavg", parseLoadavg);
  const memory = parse("meminfo", parseMeminfo);
  const network = parse("netDev", parseNetDev);
  const sample: HostSample = {
    takenAtMs: raw.takenAtMs,
    ...(cpuUtilization !== undefined && { cpuUtilization }),
    ...(cpu && cpu.cores > 0 && { cpuCores: cpu.cores }),
    ...(load && { load }),
    ...(memory && { memory }),
    ...volumeOf(raw, errors, parse),
    network: network ?? [],
  };
  return { sample, errors, cpu };
}

/** The model volume: its mount from mountinfo, its size from statfs, its device's I/O from diskstats. */
function volumeOf(
  raw: HostReadings,
  errors: Error[],
  parse: <T>(key: ProcFile, parser: (text: string) => T) => T | undefined,
): Pick<HostSample, "volume"> {
  const mounts = parse("mountinfo", parseMountinfo);
  const mount = mounts && pickVolume(mounts, raw.resolvedModelPath);
  if (mounts && !mount)
    errors.push(new Error(`host: ${PROC_FILES.mountinfo}: no mount contains ${raw.resolvedModelPath}`));
  if (raw.volumeSize.status === "rejected")
    errors.push(wrapError(`host: statfs(${raw.resolvedModelPath})`, raw.volumeSize.reason));
  if (!mount || raw.volumeSize.status === "rejected") return {};
  const { bsize, blocks, bavail } = raw.volumeSize.value;
  const io = parse("diskstats", (text) => volumeIo(parseDiskstats(text), mount.device));
  return {
    volume: {
      path: raw.modelPath,
      mount: mount.mount,
      sizeBytes: blocks * bsize,
      freeBytes: bavail * bsize,
      ...(io && { device: io.device, readBytes: io.readBytes, writtenBytes: io.writtenBytes }),
    },
  };
}

/** Runs `call` and settles within `timeoutMs`; a hung call (statfs on a stale NFS mount) becomes a rejection. */
function settleWithin<T>(call: () => Promise<T>, timeoutMs: number): Promise<PromiseSettledResult<T>> {
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => resolve({ status: "rejected", reason: new Error(`timed out after ${timeoutMs} ms`) }),
      timeoutMs,
    );
    timer.unref();
    Promise.resolve()
      .then(call)
      .then(
        (value) => resolve({ status: "fulfilled", value }),
        (reason: unknown) => resolve({ status: "rejected", reason }),
      )
      .finally(() => clearTimeout(timer));
  });
}
