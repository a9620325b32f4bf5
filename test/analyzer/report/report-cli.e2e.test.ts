/**
 * `inferwatch report` as a person runs it on a fresh machine: no source, the simulated fleet's
 * fast-forwarded history; a file written with --out; clear refusals for a bad window and for the
 * agents, which keep no history.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { CapacityReport } from "../../../analyzer/report/report-model.js";
import { NO_RUNTIME_GAUGES } from "../../../analyzer/report/tables.js";
import { projectPath } from "../../../common/paths.js";

const run = promisify(execFile);
const MAIN = projectPath("dist/cli/main.js");
const env = { PATH: process.env["PATH"] ?? "", INFERWATCH_LOG_LEVEL: "warn" };
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "inferwatch-report-cli-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it("writes the JSON report of the simulated fleet's history to --out, saying the data is simulated", async () => {
  const out = join(dir, "report.json");
  const { stdout, stderr } = await run(
    process.execPath,
    [MAIN, "report", "--since", "3d", "--format", "json", "--out", out],
    { env },
  );
  expect(stdout).toBe("");
  expect(stderr).toContain("SIMULATED fleet");
  const report = JSON.parse(await readFile(out, "utf8")) as CapacityReport;
  expect(report.window.days).toBe(3);
  expect(report.source).toMatch(/^simulated fleet/);
  expect(report.demand.map((d) => d.modelClass)).toEqual(["13b", "70b", "7b"]);
  expect(report.plan.actions.map((a) => a.pool)).toEqual(["batch", "latency"]);
  // The simulated fleet writes no runtime gauges.
  expect(report.runtimeCache).toEqual([]);
  expect(report.forecast.ceilingRatio).toBe(0.8);
}, 120_000);

it("prints Markdown on standard output", async () => {
  const { stdout } = await run(process.execPath, [MAIN, "report", "--since", "2d", "--format", "md"], {
    env,
    maxBuffer: 16 * 1024 * 1024,
  });
  expect(stdout).toMatch(/^# Capacity-planning report\n/);
  expect(stdout).toContain("## Next quarter: GPUs to buy or free");
  expect(stdout).toContain(`## KV cache and prefix cache per model\n\n${NO_RUNTIME_GAUGES}\n`);
}, 120_000);

it.each([
  ["a window under a day", ["--since", "2h"], 2, /--since must be a duration of at least 1d/],
  ["the agents as a source", ["--source", "agents=http://127.0.0.1:1"], 1, /the agents keep no history/],
])(
  "refuses %s",
  async (_name, args, code, message) => {
    const failure = await run(process.execPath, [MAIN, "report", ...args], { env }).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failure?.code).toBe(code);
    expect(failure?.stderr).toMatch(message);
  },
  60_000,
);
