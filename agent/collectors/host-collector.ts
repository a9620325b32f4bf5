import { realpath } from "node:fs/promises";
import * as nodeOs from "node:os";
import { posix } from "node:path";
import si from "systeminformation";
import type { Collector, CollectResult } from "../../common/component.js";
import type { HostConfig } from "../../common/config/schema.js";
import { COLLECTORS } from "../../common/conventions.js";
import { wrapError } from "../../common/errors.js";

/**
 * `device` label of the volume I/O counters when they cover every block device rather than the one
 * under the model volume. systeminformation has no per-device byte counter: `fsStats()` sums the
 * sectors read and written (× 512) in /proc/diskstats over every block device that `lsblk` shows
 * with a mount point in the agent's mount namespace; `disksIO()` counts operations, not bytes, over
 * every disk; `blockDevices()` carries no I/O at all. So the counters are system-wide and say so.
 */
export const ALL_BLOCK_DEVICES = "all";

/** One host sample; a field is absent when its source failed (the reason is in `errors`). */
export interface HostSample {
  /** Unix ms at which the sample was read. */
  readonly takenAtMs: number;
  /** Share of CPU time not idle since the previous sample, 0..1. */
  readonly cpuUtilization?: number;
  /** Logical CPU cores of the host. */
  readonly cpuCores?: number;
  /** Load averages over 1, 5 and 15 minutes. */
  readonly load?: { readonly m1: number; readonly m5: number; readonly m15: number };
  readonly memory?: { readonly totalBytes: number; readonly availableBytes: number };
  /** The volume holding `modelPath`; absent when fsSize() failed or no mount contains the path. */
  readonly volume?: {
    /** The configured model path. */
    readonly path: string;
    /** Mount point of the volume holding it. */
    readonly mount: string;
    readonly sizeBytes: number;
    /** Bytes available to unprivileged writers (df "Avail"; excludes blocks reserved for root). */
    readonly freeBytes: number;
    /** Block device the I/O counters describe: {@link ALL_BLOCK_DEVICES} (system-wide) today. */
    readonly device?: string;
    /** Cumulative bytes read since boot; present together with `device` and `writtenBytes`. */
    readonly readBytes?: number;
    /** Cumulative bytes written since boot. */
    readonly writtenBytes?: number;
  };
  /** Cumulative bytes per network interface since it came up; `lo` is left out. */
  readonly network: readonly { readonly iface: string; readonly rxBytes: number; readonly txBytes: number }[];
}

/** One row of `fsSize()`: a mounted filesystem, sizes in bytes. */
export interface FsMount {
  readonly fs: string;
  readonly mount: string;
  readonly size: number;
  readonly available: number;
}

/** One row of `networkStats()`: cumulative interface counters in bytes. */
export interface NetStat {
  readonly iface: string;
  readonly rx_bytes: number;
  readonly tx_bytes: number;
}

/** The systeminformation functions the host collector calls; the real module satisfies it. */
export interface HostSystemInfo {
  currentLoad(): Promise<{ readonly currentLoad: number }>;
  mem(): Promise<{ readonly total: number; readonly available: number }>;
  fsSize(): Promise<readonly FsMount[]>;
  /** Resolves null on platforms without block-device statistics. */
  fsStats(): Promise<{ readonly rx: number; readonly wx: number } | null>;
  networkStats(ifaces: string): Promise<readonly NetStat[]>;
}

/** The node:os functions the host collector calls. */
export interface HostOs {
  loadavg(): number[];
  cpus(): readonly unknown[];
}

/** What one read of the host returned, each source settled on its own. Input of {@link toHostSample}. */
export interface HostReadings {
  readonly takenAtMs: number;
  /** The configured model path (the `path` label). */
  readonly modelPath: string;
  /** The model path with symlinks resolved, matched against mount points. */
  readonly resolvedModelPath: string;
  readonly currentLoad: PromiseSettledResult<{ readonly currentLoad: number }>;
  readonly cpus: PromiseSettledResult<readonly unknown[]>;
  readonly loadavg: PromiseSettledResult<readonly number[]>;
  readonly mem: PromiseSettledResult<{ readonly total: number; readonly available: number }>;
  readonly fsSize: PromiseSettledResult<readonly FsMount[]>;
  readonly fsStats: PromiseSettledResult<{ readonly rx: number; readonly wx: number } | null>;
  readonly networkStats: PromiseSettledResult<readonly NetStat[]>;
}

/** Where each reading comes from, for error messages. */
const SOURCE: Record<Exclude<keyof HostReadings, "takenAtMs" | "modelPath" | "resolvedModelPath">, string> = {
  currentLoad: "systeminformation.currentLoad()",
  cpus: "os.cpus()",
  loadavg: "os.loadavg()",
  mem: "systeminformation.mem()",
  fsSize: "systeminformation.fsSize()",
  fsStats: "systeminformation.fsStats()",
  networkStats: "systeminformation.networkStats('*')",
};

type SourceKey = keyof typeof SOURCE;

/** Options of {@link createHostCollector}; the defaults are the real modules. */
export interface HostCollectorDeps {
  readonly si?: HostSystemInfo;
  readonly os?: HostOs;
}

/**
 * Collects CPU, load, memory, model-volume and network figures of the host, one sample per
 * collect(). Each source is read on its own, bounded by `config.interval`: a failing or hanging one
 * leaves its fields absent and adds one Error to `errors`; collect() never throws.
 *
 * CPU utilization covers the time since the previous `currentLoad()` call in this process
 * (systeminformation keeps that baseline module-wide); start() takes the first baseline, so the
 * first sample does not average since boot.
 */
export function createHostCollector(config: HostConfig, deps: HostCollectorDeps = {}): Collector<HostSample> {
  const sys = deps.si ?? si;
  const os = deps.os ?? nodeOs;
  const timeoutMs = config.interval;
  return {
    name: COLLECTORS.host,
    async start() {
      await settleWithin(() => sys.currentLoad(), timeoutMs);
    },
    async shutdown() {},
    async collect(): Promise<CollectResult<HostSample>> {
      try {
        const readings = await readHost(sys, os, config.modelPath, timeoutMs);
        const { sample, errors } = toHostSample(readings);
        return { samples: [sample], errors };
      } catch (err) {
        return { samples: [], errors: [wrapError("host: collect", err)] };
      }
    },
  };
}

/** Reads every source concurrently; never rejects. */
async function readHost(sys: HostSystemInfo, os: HostOs, modelPath: string, timeoutMs: number): Promise<HostReadings> {
  const takenAtMs = Date.now();
  const [resolvedModelPath, currentLoad, cpus, loadavg, mem, fsSize, fsStats, networkStats] = await Promise.all([
    realpath(modelPath).catch(() => modelPath),
    settleWithin(() => sys.currentLoad(), timeoutMs),
    settleWithin(() => Promise.resolve(os.cpus()), timeoutMs),
    settleWithin(() => Promise.resolve(os.loadavg()), timeoutMs),
    settleWithin(() => sys.mem(), timeoutMs),
    settleWithin(() => sys.fsSize(), timeoutMs),
    settleWithin(() => sys.fsStats(), timeoutMs),
    settleWithin(() => sys.networkStats("*"), timeoutMs),
  ]);
  return { takenAtMs, modelPath, resolvedModelPath, currentLoad, cpus, loadavg, mem, fsSize, fsStats, networkStats };
}

/** Turns raw readings into a sample plus one Error per failed source. Pure. */
export function toHostSample(raw: HostReadings): { sample: HostSample; errors: Error[] } {
  const errors: Error[] = [];
  /** The value of a fulfilled reading that passes `check`, else undefined with the error recorded. */
  function take<T>(key: SourceKey, reading: PromiseSettledResult<T>, check: (value: T) => string | undefined): T | undefined {
    if (reading.status === "rejected") {
      errors.push(wrapError(`host: ${SOURCE[key]}`, reading.reason));
      return undefined;
    }
    const problem = check(reading.value);
    if (problem === undefined) return reading.value;
    errors.push(new Error(`host: ${SOURCE[key]}: ${problem}`));
    return undefined;
  }

  const load = take("currentLoad", raw.currentLoad, (v) => (isCount(v.currentLoad) ? undefined : `currentLoad is ${v.currentLoad}`));
  const cpus = take("cpus", raw.cpus, (v) => (v.length > 0 ? undefined : "no CPUs listed"));
  const avg = take("loadavg", raw.loadavg, (v) => (v.length === 3 && v.every(isCount) ? undefined : `unexpected [${v.join(", ")}]`));
  const mem = take("mem", raw.mem, (v) =>
    v.total > 0 && isCount(v.available) ? undefined : `total ${v.total}, available ${v.available}`,
  );
  const mounts = take("fsSize", raw.fsSize, () => undefined);
  const mount = mounts && pickVolume(mounts, raw.resolvedModelPath);
  if (mounts && !mount) errors.push(new Error(`host: ${SOURCE.fsSize}: no mount contains ${raw.resolvedModelPath}`));
  const io = mount
    ? take("fsStats", raw.fsStats, (v) => {
        if (v === null) return "block-device statistics are not available on this platform";
        if (!isCount(v.rx) || !isCount(v.wx)) return `rx ${v.rx}, wx ${v.wx}`;
        // fsStats() resolves zeros instead of failing when lsblk or /proc/diskstats cannot be read.
        if (v.rx === 0 && v.wx === 0) return "no block-device I/O reported (lsblk or /proc/diskstats unreadable?)";
        return undefined;
      })
    : undefined;
  const net = take("networkStats", raw.networkStats, () => undefined);

  const sample: HostSample = {
    takenAtMs: raw.takenAtMs,
    ...(load && { cpuUtilization: toCpuRatio(load.currentLoad) }),
    ...(cpus && { cpuCores: cpus.length }),
    ...(avg && { load: { m1: avg[0] ?? 0, m5: avg[1] ?? 0, m15: avg[2] ?? 0 } }),
    ...(mem && { memory: { totalBytes: mem.total, availableBytes: mem.available } }),
    ...(mount && {
      volume: {
        path: raw.modelPath,
        mount: mount.mount,
        sizeBytes: mount.size,
        freeBytes: mount.available,
        ...(io && { device: ALL_BLOCK_DEVICES, readBytes: io.rx, writtenBytes: io.wx }),
      },
    }),
    network: net ? toNetwork(net) : [],
  };
  return { sample, errors };
}

/** systeminformation's CPU load in percent as a 0..1 ratio, clamped against rounding overshoot. */
export function toCpuRatio(percent: number): number {
  return Math.min(1, Math.max(0, percent / 100));
}

/**
 * The filesystem holding `path`: the mount point that is the longest path-prefix of it (by whole
 * segments, so /data does not hold /database). Among equal mount points the last one listed wins,
 * as a later mount hides an earlier one on the same directory.
 */
export function pickVolume(mounts: readonly FsMount[], path: string): FsMount | undefined {
  const target = normalizePath(path);
  let best: FsMount | undefined;
  let bestLength = -1;
  for (const candidate of mounts) {
    const mount = normalizePath(candidate.mount);
    if (!containsPath(mount, target)) continue;
    if (mount.length >= bestLength) {
      best = candidate;
      bestLength = mount.length;
    }
  }
  return best;
}

function containsPath(mount: string, path: string): boolean {
  return mount === "/" || path === mount || path.startsWith(`${mount}/`);
}

function normalizePath(path: string): string {
  const normal = posix.normalize(path);
  return normal.length > 1 && normal.endsWith("/") ? normal.slice(0, -1) : normal;
}

function toNetwork(stats: readonly NetStat[]): HostSample["network"] {
  const seen = new Set<string>();
  const out: { iface: string; rxBytes: number; txBytes: number }[] = [];
  for (const s of stats) {
    if (s.iface === "lo" || seen.has(s.iface) || !isCount(s.rx_bytes) || !isCount(s.tx_bytes)) continue;
    seen.add(s.iface);
    out.push({ iface: s.iface, rxBytes: s.rx_bytes, txBytes: s.tx_bytes });
  }
  return out;
}

function isCount(value: number): boolean {
  return Number.isFinite(value) && value >= 0;
}

/** Runs `call` and settles within `timeoutMs`; a hung call (df on a stale NFS mount) becomes a rejection. */
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
