/**
 * `npm start` as a person runs it on a machine without GPUs: `inferwatch up` starts a simulated
 * fleet, says so, is ready within 10 s, and answers SLO, fleet and fragmentation questions through
 * the API and `inferwatch slo status`.
 */
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { projectPath } from "../../common/paths.js";
import { waitFor } from "../fixtures/wait.js";

const run = promisify(execFile);

it("starts a simulated fleet and the analyzer, and answers through the API and slo status", async () => {
  const child = spawn(
    process.execPath,
    [
      projectPath("dist/cli/main.js"),
      "up",
      "--metrics-addr",
      "127.0.0.1:0",
      "--listen",
      "127.0.0.1:0",
      "--eval-interval",
      "2s",
      "--pull-interval",
      "1s",
    ],
    {
      env: { PATH: process.env["PATH"] ?? "", INFERWATCH_NVML_LIBRARY: "/nonexistent/libnvidia-ml.so.1" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let log = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (log += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    // How soon it is up is the start benchmark's row (BENCH_ONLY=start), not a test's timing.
    await waitFor(() => log.includes("inferwatch is up"), 20_000);
    expect(log).toContain("running a SIMULATED fleet");
    const api = /SLOs: (http:\/\/[\d.:]+)\/api\/v1\/slos/.exec(log)?.[1] as string;
    expect(api).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(log).toContain(`console: ${api}/`);
    const consolePage = await fetch(`${api}/`);
    expect([consolePage.status, consolePage.headers.get("content-type")]).toEqual([200, "text/html; charset=utf-8"]);
    expect(await consolePage.text()).toContain("<title>inferwatch console</title>");
    const agentMetrics = /agent metrics: (http:\/\/[\d.:]+\/metrics)/.exec(log)?.[1] as string;
    expect(await (await fetch(agentMetrics)).text()).toMatch(/inferwatch_gpu_info\{[^}]*source="simulated"/);

    const slos = (await (await fetch(`${api}/api/v1/slos`)).json()) as {
      slos: { id: string; models: string[]; burn: { state: string } }[];
    };
    expect(slos.slos.map((s) => s.id).sort()).toEqual([
      "13b-availability",
      "13b-latency",
      "70b-availability",
      "70b-latency",
      "7b-availability",
      "7b-latency",
    ]);
    expect(slos.slos.find((s) => s.id === "13b-latency")?.models).toEqual(["llama-2-13b-awq"]);
    expect(slos.slos.every((s) => s.burn.state !== "no-data")).toBe(true);

    const fleet = (await (await fetch(`${api}/api/v1/fleet`)).json()) as {
      fleet: { utilization: { hour: { pools: { key: string; meanRatio: number }[] } } };
    };
    const pools = fleet.fleet.utilization.hour.pools.map((p) => p.key).sort();
    expect(pools).toEqual(["batch", "latency"]);
    for (const pool of fleet.fleet.utilization.hour.pools) expect(pool.meanRatio).toBeGreaterThan(0);
    type Fragmentation = { fragmentation: { total: { gpus: number; freeBytes: number } } | null };
    let fragmentation: Fragmentation = { fragmentation: null };
    await waitFor(
      () => fragmentation.fragmentation?.total.gpus === 20,
      10_000,
      async () => {
        fragmentation = (await (await fetch(`${api}/api/v1/fragmentation`)).json()) as Fragmentation;
      },
    );
    expect(fragmentation.fragmentation?.total.gpus).toBe(20);
    expect(fragmentation.fragmentation?.total.freeBytes).toBeGreaterThan(0);

    const status = await run(process.execPath, [
      projectPath("dist/cli/main.js"),
      "slo",
      "status",
      "--source",
      `analyzer=${api}`,
    ]);
    expect(status.stdout).toMatch(/^13b-latency\s+95\.0% < 2s\s+llama-2-13b-awq/m);
    const asJson = JSON.parse(
      (
        await run(process.execPath, [
          projectPath("dist/cli/main.js"),
          "slo",
          "status",
          "--source",
          `analyzer=${api}`,
          "--format",
          "json",
        ])
      ).stdout,
    ) as { slos: unknown[] };
    expect(asJson.slos).toHaveLength(6);
  } finally {
    child.kill("SIGINT");
    const code = await exited;
    expect(code).toBe(0);
    expect(log).toContain('"msg":"stopped"');
  }
}, 60_000);
