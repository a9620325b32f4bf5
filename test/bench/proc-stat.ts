/**
 * What a process costs, read from outside through /proc as an operator's tools would (proc(5)):
 * CPU time of the whole process (utime + stime of /proc/<pid>/stat, in clock ticks), the run time
 * of each of its threads at nanosecond resolution (/proc/<pid>/task/<tid>/schedstat), and resident
 * memory (VmRSS of /proc/<pid>/status).
 */
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { promisify } from "node:util";

/** Clock ticks per second of /proc times (`getconf CLK_TCK`; 100 on Linux x86-64 and arm64). */
export async function clockTicksPerSecond(): Promise<number> {
  try {
    const { stdout } = await promisify(execFile)("getconf", ["CLK_TCK"]);
    const ticks = Number(stdout.trim());
    return ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
}

/** utime + stime of a stat line, in ticks; the command name is in parentheses and may hold spaces. */
function ticksOf(stat: string): { name: string; ticks: number } {
  const open = stat.indexOf("(");
  const close = stat.lastIndexOf(")");
  const fields = stat.slice(close + 2).split(" ");
  // After ")": state is field 3 of proc(5), so utime (14) and stime (15) are at indexes 11 and 12.
  return { name: stat.slice(open + 1, close), ticks: Number(fields[11]) + Number(fields[12]) };
}

/** CPU seconds the whole process has used (every thread, living or ended). */
export async function processCpuSeconds(pid: number, ticksPerSecond: number): Promise<number> {
  return ticksOf(await readFile(`/proc/${pid}/stat`, "utf8")).ticks / ticksPerSecond;
}

/**
 * CPU seconds each living thread has run, at nanosecond resolution: the first field of
 * /proc/<pid>/task/<tid>/schedstat (the scheduler's sum_exec_runtime, the clock /proc/<pid>/stat
 * rounds to 10 ms ticks, which over a 30 s run of a few hundred rounds are ~30 µs a round apiece).
 * Keyed `main` for the main thread (its id is the process id) and `<name> <tid>` for the others
 * (Node 20 names most of its threads `node`).
 */
export async function threadRuntimeSeconds(pid: number): Promise<Map<string, number>> {
  const byThread = new Map<string, number>();
  for (const tid of await readdir(`/proc/${pid}/task`)) {
    try {
      const [schedstat, comm] = await Promise.all([
        readFile(`/proc/${pid}/task/${tid}/schedstat`, "utf8"),
        readFile(`/proc/${pid}/task/${tid}/comm`, "utf8"),
      ]);
      const seconds = Number(schedstat.split(" ")[0]) / 1e9;
      byThread.set(Number(tid) === pid ? "main" : `${comm.trim()} ${tid}`, seconds);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return byThread;
}

/** CPU seconds the process's living threads have run, at nanosecond resolution (threadRuntimeSeconds). */
export async function runtimeSeconds(pid: number): Promise<number> {
  let seconds = 0;
  for (const threadSeconds of (await threadRuntimeSeconds(pid)).values()) seconds += threadSeconds;
  return seconds;
}

/** Resident memory, MiB. */
export async function rssMiB(pid: number): Promise<number> {
  return (await residentMiB(pid)).rss;
}

/**
 * Resident memory, MiB, and its two parts: anonymous (heaps, stacks: what only exiting frees) and
 * file-backed (mostly the node binary's own pages, which the kernel can drop and read again).
 */
export async function residentMiB(pid: number): Promise<{ rss: number; anon: number; file: number }> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { rss: kib("VmRSS") / 1024, anon: kib("RssAnon") / 1024, file: kib("RssFile") / 1024 };
}

/** Thread CPU seconds spent between two readings, by thread. */
export function threadDelta(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [name, seconds] of after) delta.set(name, seconds - (before.get(name) ?? 0));
  return delta;
}
