/**
 * Pure parsers of the Linux /proc files the host collector reads (formats: proc(5), and the
 * kernel's Documentation/filesystems/proc.rst and Documentation/admin-guide/iostats.rst). Each one
 * throws an Error naming what it could not read; the collector turns that into one error per source.
 */
import { posix } from "node:path";

/** `device` label of volume I/O summed over every whole disk, when the volume is on no one block device. */
export const ALL_BLOCK_DEVICES = "all";

/** Cumulative CPU time of the host since boot, in clock ticks (USER_HZ), and its CPU count. */
export interface CpuTimes {
  /** user + nice + system + irq + softirq + steal. */
  readonly busy: number;
  /** busy + idle + iowait. */
  readonly total: number;
  /** `cpuN` lines: CPUs online. */
  readonly cores: number;
}

/**
 * The aggregate `cpu` line of /proc/stat. Its fields are user, nice, system, idle, iowait, irq,
 * softirq, steal, guest, guest_nice (proc(5)); guest and guest_nice are already counted in user and
 * nice, so they are left out of the total. iowait is idle time (the CPU had nothing to run).
 */
export function parseProcStat(text: string): CpuTimes {
  let times: number[] | undefined;
  let cores = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("cpu ")) times = line.trim().split(/\s+/).slice(1, 9).map(Number);
    else if (/^cpu\d+ /.test(line)) cores++;
  }
  if (times === undefined || times.length < 4 || !times.every(isCount))
    throw new Error("no readable aggregate cpu line");
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = times;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait, cores };
}

/** Share of CPU time not idle between two readings, 0..1; undefined when no time passed between them. */
export function cpuUtilizationBetween(previous: CpuTimes, current: CpuTimes): number | undefined {
  const total = current.total - previous.total;
  if (!(total > 0)) return undefined;
  return Math.min(1, Math.max(0, (current.busy - previous.busy) / total));
}

/** MemTotal and MemAvailable of /proc/meminfo, in bytes (the file says kB and means KiB). */
export function parseMeminfo(text: string): { totalBytes: number; availableBytes: number } {
  const kib = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^(\w+(?:\(\w+\))?):\s+(\d+)(?: kB)?$/.exec(line.trim());
    if (match?.[1] !== undefined) kib.set(match[1], Number(match[2]));
  }
  const total = kib.get("MemTotal");
  // MemAvailable exists since Linux 3.14; before it, free + buffers + page cache is the usual estimate.
  const available = kib.get("MemAvailable") ?? sumDefined(kib.get("MemFree"), kib.get("Buffers"), kib.get("Cached"));
  if (total === undefined || !(total > 0)) throw new Error("no MemTotal");
  if (available === undefined) throw new Error("neither MemAvailable nor MemFree");
  return { totalBytes: total * 1024, availableBytes: available * 1024 };
}

/** The three load averages of /proc/loadavg. */
export function parseLoadavg(text: string): { m1: number; m5: number; m15: number } {
  const [m1, m5, m15] = text.trim().split(/\s+/).slice(0, 3).map(Number);
  if (m1 === undefined || m5 === undefined || m15 === undefined || ![m1, m5, m15].every(isCount)) {
    throw new Error(`unexpected ${JSON.stringify(text.trim().slice(0, 60))}`);
  }
  return { m1, m5, m15 };
}

/** One line of /proc/self/mountinfo. */
export interface MountEntry {
  /** Mount point, octal escapes decoded. */
  readonly mount: string;
  /** `major:minor` of the filesystem's device (major 0 for overlay, tmpfs, NFS and other devices without a block device). */
  readonly device: string;
  readonly fsType: string;
  readonly source: string;
}

/**
 * /proc/self/mountinfo: mount ID, parent ID, major:minor, root, mount point, options, optional
 * fields up to a lone `-`, then filesystem type, source and super options (proc(5)). Spaces,
 * tabs, newlines and backslashes in paths are written as octal escapes (`\040`).
 */
export function parseMountinfo(text: string): MountEntry[] {
  const mounts: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    const separator = fields.indexOf("-", 6);
    const device = fields[2];
    const mount = fields[4];
    const fsType = fields[separator + 1];
    if (
      separator < 0 ||
      device === undefined ||
      mount === undefined ||
      fsType === undefined ||
      !/^\d+:\d+$/.test(device)
    )
      continue;
    mounts.push({ mount: unescapeOctal(mount), device, fsType, source: unescapeOctal(fields[separator + 2] ?? "") });
  }
  if (mounts.length === 0) throw new Error("no mount lines");
  return mounts;
}

function unescapeOctal(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/**
 * The mount holding `path`: the mount point that is the longest path-prefix of it (by whole
 * segments, so /data does not hold /database). Among equal mount points the last one listed wins,
 * as a later mount hides an earlier one on the same directory.
 */
export function pickVolume<M extends { readonly mount: string }>(mounts: readonly M[], path: string): M | undefined {
  const target = normalizePath(path);
  let best: M | undefined;
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

/** One row of /proc/diskstats, bytes since boot. */
export interface DiskStat {
  readonly device: string;
  readonly name: string;
  readonly readBytes: number;
  readonly writtenBytes: number;
}

/** Sectors in /proc/diskstats are 512 bytes whatever the device's own sector size (iostats.rst). */
const SECTOR_BYTES = 512;

/** /proc/diskstats: major, minor, name, then reads completed, reads merged, sectors read, …, sectors written (field 10). */
export function parseDiskstats(text: string): DiskStat[] {
  const disks: DiskStat[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10) continue;
    const [major, minor, name] = fields;
    const read = Number(fields[5]);
    const written = Number(fields[9]);
    if (name === undefined || !isCount(read) || !isCount(written)) continue;
    disks.push({
      device: `${major}:${minor}`,
      name,
      readBytes: read * SECTOR_BYTES,
      writtenBytes: written * SECTOR_BYTES,
    });
  }
  return disks;
}

/**
 * Devices left out of the "all disks" sum: node_exporter's default ignore list for diskstats
 * (RAM disks, loops, floppies and partitions; prometheus/node_exporter collector/diskstats_linux.go,
 * `diskstatsDefaultIgnoredDevices`), plus device-mapper, md and optical devices, whose I/O is
 * already counted on the disks beneath them or is not a disk's.
 */
const NOT_A_WHOLE_DISK = /^(?:(?:z?ram|loop|fd|(?:h|s|v|xv)d[a-z]|nvme\d+n\d+p|mmcblk\d+p|dm-|md|sr)\d+)$/;

/**
 * The I/O counters of the volume on block device `device` (`major:minor` from mountinfo): that
 * device's row when it has one; else (overlay, tmpfs, network filesystems: major 0) the sum over
 * every whole disk, labelled {@link ALL_BLOCK_DEVICES}.
 */
export function volumeIo(
  disks: readonly DiskStat[],
  device: string,
): { device: string; readBytes: number; writtenBytes: number } {
  const own = disks.find((disk) => disk.device === device);
  if (own) return { device: own.name, readBytes: own.readBytes, writtenBytes: own.writtenBytes };
  const whole = disks.filter((disk) => !NOT_A_WHOLE_DISK.test(disk.name));
  if (whole.length === 0) throw new Error(`no row for device ${device} and no whole disk listed`);
  return {
    device: ALL_BLOCK_DEVICES,
    readBytes: whole.reduce((sum, disk) => sum + disk.readBytes, 0),
    writtenBytes: whole.reduce((sum, disk) => sum + disk.writtenBytes, 0),
  };
}

/** Cumulative bytes of one network interface. */
export interface NetDevStat {
  readonly iface: string;
  readonly rxBytes: number;
  readonly txBytes: number;
}

/**
 * /proc/net/dev: two header lines, then `iface: rx_bytes rx_packets … (8 receive fields) tx_bytes …`.
 * The loopback interface and repeated names are left out; the interfaces are those of the agent's
 * network namespace (the host's when the pod runs with hostNetwork).
 */
export function parseNetDev(text: string): NetDevStat[] {
  const seen = new Set<string>();
  const out: NetDevStat[] = [];
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0 || line.includes("|")) continue;
    const iface = line.slice(0, colon).trim();
    const fields = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    const rx = fields[0];
    const tx = fields[8];
    if (
      iface === "lo" ||
      iface === "" ||
      seen.has(iface) ||
      rx === undefined ||
      tx === undefined ||
      !isCount(rx) ||
      !isCount(tx)
    )
      continue;
    seen.add(iface);
    out.push({ iface, rxBytes: rx, txBytes: tx });
  }
  return out;
}

function sumDefined(...values: (number | undefined)[]): number | undefined {
  if (values.some((value) => value === undefined)) return undefined;
  return values.reduce<number>((sum, value) => sum + (value ?? 0), 0);
}

function isCount(value: number): boolean {
  return Number.isFinite(value) && value >= 0;
}
