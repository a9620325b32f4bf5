/**
 * `npm start` as a newcomer runs it after `npm ci`: the product's sources, package.json and
 * tsconfig files copied into an empty folder (no dist/, so nothing compiled yet; node_modules
 * linked from this checkout), then `npm start` twice, each time timed from the command to the
 * console answering at `/` (and to the first evaluation, `/readyz`). The second start finds its
 * build up to date. Simulated fleet (no NVML library), loopback ports. Run alone with
 * `BENCH_ONLY=start npm run bench`; the 1-minute load average is printed beside the numbers.
 */
import { spawn } from "node:child_process";
import { cp, mkdtemp, rm, symlink } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { errorMessage } from "../../common/errors.js";
import { projectPath } from "../../common/paths.js";
import { freePort } from "../fixtures/server-process.js";
import type { BenchRow } from "./table.js";

const PRODUCT = [
  "agent",
  "analyzer",
  "alerts",
  "dashboards",
  "common",
  "cli",
  "package.json",
  "tsconfig.json",
  "tsconfig.build.json",
];
const TIMEOUT_MS = 180_000;

/** Polls `url` until it answers 200; the elapsed milliseconds since `startedMs`. */
async function answeredAfter(url: string, startedMs: number, exited: () => boolean): Promise<number> {
  for (;;) {
    if (exited()) throw new Error(`start bench: npm start exited before ${url} answered`);
    if (performance.now() - startedMs > TIMEOUT_MS)
      throw new Error(`start bench: ${url} did not answer within ${TIMEOUT_MS / 1000} s`);
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(1_000) })).status === 200)
        return performance.now() - startedMs;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One `npm start` in `dir`: seconds until `/` answers and until `/readyz` does; then SIGINT and wait. */
async function timedStart(dir: string): Promise<{ consoleS: number; readyS: number }> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(
    "npm",
    [
      "start",
      "--silent",
      "--",
      "--listen",
      `127.0.0.1:${port}`,
      "--metrics-addr",
      "127.0.0.1:0",
      "--log-format",
      "json",
    ],
    {
      cwd: dir,
      detached: true,
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        ...process.env,
        INFERWATCH_NVML_LIBRARY: "/nonexistent/libnvidia-ml.so.1",
        INFERWATCH_STATE_PATH: join(dir, "state.json.gz"),
      },
    },
  );
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  let hasExited = false;
  const exited = new Promise<void>((resolve) => child.once("exit", () => ((hasExited = true), resolve())));
  try {
    const consoleMs = await answeredAfter(`http://127.0.0.1:${port}/`, started, () => hasExited);
    const readyMs = await answeredAfter(`http://127.0.0.1:${port}/readyz`, started, () => hasExited);
    return { consoleS: consoleMs / 1000, readyS: readyMs / 1000 };
  } catch (err) {
    throw new Error(`${errorMessage(err)}\n${stderr}`, { cause: err });
  } finally {
    if (child.pid !== undefined && !hasExited) process.kill(-child.pid, "SIGINT");
    await exited;
  }
}

/** The first and second `npm start` of a fresh copy, with the load the machine was under. */
export async function benchStart(): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), "inferwatch-start-"));
  try {
    for (const entry of PRODUCT) await cp(projectPath(entry), join(dir, entry), { recursive: true });
    await symlink(projectPath("node_modules"), join(dir, "node_modules"), "dir");
    const load = loadavg()[0] ?? 0;
    const first = await timedStart(dir);
    const second = await timedStart(dir);
    const s = (value: number) => `${value.toFixed(1)} s`;
    return [
      {
        name: "first npm start (nothing built): console answering at /",
        value: s(first.consoleS),
        target: "< 15 s on 2 cores",
        isMet: first.consoleS < 15,
      },
      { name: "first npm start: first evaluation (/readyz)", value: s(first.readyS) },
      {
        name: "second npm start (build up to date): console answering at /",
        value: s(second.consoleS),
        target: "< 5 s",
        isMet: second.consoleS < 5,
      },
      { name: "second npm start: first evaluation (/readyz)", value: s(second.readyS) },
      { name: "1-minute load average when the run began", value: load.toFixed(2) },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
