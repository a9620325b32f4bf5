/**
 * The benchmark's native probe (native-round-probe.c) keeps its clock and answers like the Node
 * probes: built with gcc as the benchmark builds it, run in both modes on the fake NVML, asked for
 * its rounds with SIGUSR2. Its numbers only mean something if it wakes every interval and, in
 * `calls` mode, actually reaches the library (a wrong path or a missing symbol ends it with 2).
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { buildCProgram, buildFakeNvml } from "../setup/build-fake-nvml.js";
import { gpu, scenarioFile } from "../fixtures/nvml-scenario.js";
import { runtimeSeconds } from "./proc-stat.js";

/**
 * Runs the probe for about `ms`, then asks for its rounds; resolves with them, its run time and the
 * most rounds its clock allows in the time it really ran (a timer of this process may fire late).
 */
async function roundsAfter(
  args: string[],
  ms: number,
  env: Record<string, string>,
): Promise<{ rounds: number; successes: number; runtime: number; mostRounds: number }> {
  const program = await buildCProgram("test/bench/native-round-probe.c");
  const intervalMs = Number(args[1]);
  const spawnedAt = performance.now();
  const child = spawn(program, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  try {
    await new Promise((resolve) => setTimeout(resolve, ms));
    if (child.exitCode !== null) throw new Error(`probe exited with ${child.exitCode}: ${stderr}`);
    const runtime = await runtimeSeconds(child.pid as number);
    const line = new Promise<string>((resolve) =>
      child.stdout.setEncoding("utf8").once("data", (chunk: string) => resolve(chunk)),
    );
    const mostRounds = Math.floor((performance.now() - spawnedAt) / intervalMs) + 1;
    child.kill("SIGUSR2");
    const [rounds, successes] = (await line).trim().split(" ").map(Number);
    return { rounds: rounds ?? Number.NaN, successes: successes ?? Number.NaN, runtime, mostRounds };
  } finally {
    child.kill("SIGTERM");
  }
}

describe("native round probe", () => {
  it("wakes once an interval and counts its rounds", async () => {
    const { rounds, successes, runtime, mostRounds } = await roundsAfter(["sleep", "20"], 1_000, {
      PATH: process.env["PATH"] ?? "",
    });
    // One round every 20 ms of the time it ran; starting the process may cost a few.
    expect(rounds).toBeGreaterThanOrEqual(mostRounds - 10);
    expect(rounds).toBeLessThanOrEqual(mostRounds);
    expect(runtime).toBeGreaterThan(0);
    expect(successes).toBe(0);
  });

  it("makes its NVML calls on every GPU of the library and keeps the same clock", async () => {
    const libs = await buildFakeNvml();
    const file = await scenarioFile({ gpus: [gpu(0), gpu(1), gpu(2)] });
    const { rounds, successes, mostRounds } = await roundsAfter(["calls", "20", libs.full], 1_000, {
      PATH: process.env["PATH"] ?? "",
      FAKE_NVML_SCENARIO: file.path,
    });
    expect(rounds).toBeGreaterThanOrEqual(mostRounds - 10);
    expect(rounds).toBeLessThanOrEqual(mostRounds);
    // Eight calls on each of the three GPUs, every one answered, every round.
    expect(successes).toBe(rounds * 8 * 3);
  });

  it("ends with 2 and says why when the library lacks NVML", async () => {
    const program = await buildCProgram("test/bench/native-round-probe.c");
    const child = spawn(program, ["calls", "20", "/nonexistent/libnvidia-ml.so.1"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).toBe(2);
    expect(stderr).toContain("/nonexistent/libnvidia-ml.so.1");
  });
});
