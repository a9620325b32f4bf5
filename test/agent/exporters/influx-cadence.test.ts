/**
 * The InfluxDB sink's cadence is the sampler's (issue: hardening, item 11): every Nth GPU round
 * (N = flush interval ÷ sampling interval) is written once, so at N = 1 no round is skipped and at
 * the default ratio (10 s over 1 s) the stored step is exactly ten rounds. Two real agents sample the
 * fake NVML at 100 ms for a while — several hundred rounds, as many as a few minutes at 1 s — one
 * with N = 1 and one with N = 10, writing to a real influxd. After SIGTERM each logs how many rounds
 * it sampled; a second agent on the same spool (without NVML) sends what the first left spooled; then
 * the points per GPU series are counted against the rounds.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { METRICS } from "../../../common/conventions.js";
import { scrapeUntil, startAgentProcess, type AgentProcess } from "../../fixtures/agent-process.js";
import { valueOf } from "../../fixtures/exposition.js";
import { startInfluxd, type InfluxdServer } from "../../fixtures/influxd-server.js";
import { gpu, scenarioFile } from "../../fixtures/nvml-scenario.js";
import { buildFakeNvml, type FakeNvmlLibraries } from "../../setup/build-fake-nvml.js";

const SAMPLING_SECONDS = 25;
let libs: FakeNvmlLibraries;
let influxd: InfluxdServer;
let dir: string;
const agents: AgentProcess[] = [];

beforeAll(async () => {
  [libs, influxd, dir] = await Promise.all([
    buildFakeNvml(),
    startInfluxd(),
    mkdtemp(join(tmpdir(), "inferwatch-influx-cadence-")),
  ]);
}, 60_000);

afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.stop()));
  await influxd?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Starts an agent writing to the test's influxd as `node`, with its spool under the test's directory. */
function agentFor(node: string, args: readonly string[], env: Record<string, string> = {}): Promise<AgentProcess> {
  return startAgentProcess(
    [
      "--pods",
      "false",
      "--host-metrics",
      "false",
      "--otlp",
      "false",
      "--influx-url",
      influxd.url,
      "--influx-spool-dir",
      join(dir, "spool"),
      ...args,
    ],
    { NODE_NAME: node, ...env },
  ).then((agent) => {
    agents.push(agent);
    return agent;
  });
}

/** GPU rounds the agent says it sampled, from its "sampling stopped" line at shutdown. */
function roundsSampled(agent: AgentProcess): number {
  const line = agent.logs().find((l) => l["msg"] === "sampling stopped");
  const runs = line?.["runs"];
  const gpuRuns = typeof runs === "object" && runs !== null && "gpu" in runs ? runs.gpu : undefined;
  if (typeof gpuRuns !== "number") throw new Error(`no "sampling stopped" line with GPU runs:\n${agent.stderr()}`);
  return gpuRuns;
}

/** Points of `inferwatch_gpu_utilization_ratio` per GPU of `node` in InfluxDB, and their distinct times. */
async function pointsPerGpu(node: string): Promise<Map<string, { count: number; distinctTimes: number }>> {
  const answer = await influxd.query(
    `SELECT "value" FROM "${METRICS.utilization.name}" WHERE "node" = '${node}' GROUP BY "gpu"`,
    "inferwatch",
  );
  const perGpu = new Map<string, { count: number; distinctTimes: number }>();
  for (const series of answer.results[0]?.series ?? []) {
    perGpu.set(series.tags?.["gpu"] ?? "", {
      count: series.values.length,
      distinctTimes: new Set(series.values.map((row) => row[0])).size,
    });
  }
  return perGpu;
}

describe("the InfluxDB sink fed by the sampler", () => {
  it("stores one point per GPU for every round at N = 1 and for every tenth round at the default ratio, none skipped, none twice", async () => {
    const nvml = await scenarioFile({ gpus: [gpu(0), gpu(1)] });
    const cases = [
      { node: "cadence-every-round", flush: "100ms", every: 1 },
      { node: "cadence-every-tenth", flush: "1s", every: 10 },
    ];
    const sampling = await Promise.all(
      cases.map((c) =>
        agentFor(c.node, ["--nvml-library", libs.full, "--interval", "100ms", "--influx-flush-interval", c.flush], {
          FAKE_NVML_SCENARIO: nvml.path,
        }),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, SAMPLING_SECONDS * 1000));
    for (const agent of sampling) {
      const series = (await agent.scrape()).series;
      expect(valueOf(series, METRICS.collectorErrors.name, { collector: "gpu" })).toBe(0);
    }
    expect(await Promise.all(sampling.map((agent) => agent.stop()))).toEqual([0, 0]);
    const rounds = sampling.map(roundsSampled);

    // What the sampling agents left spooled goes out through a second agent on the same spool.
    const replays = await Promise.all(
      cases.map((c) =>
        agentFor(c.node, ["--nvml-library", "/nonexistent/libnvidia-ml.so.1", "--influx-flush-interval", "100ms"]),
      ),
    );
    for (const replay of replays) {
      await scrapeUntil(replay, (s) => valueOf(s, METRICS.influxSpoolPoints.name) === 0, 30_000);
      expect(await replay.stop()).toBe(0);
    }

    for (const [i, c] of cases.entries()) {
      const sampled = rounds[i] ?? 0;
      // Rounds 1, 1 + N, 1 + 2N, … are written.
      const expected = Math.floor((sampled - 1) / c.every) + 1;
      expect(sampled, c.node).toBeGreaterThan(SAMPLING_SECONDS * 4); // hundreds of rounds even on a loaded machine
      const perGpu = await pointsPerGpu(c.node);
      expect([...perGpu.keys()].sort(), c.node).toEqual(["0", "1"]);
      for (const [gpuIndex, points] of perGpu) {
        expect({ gpu: gpuIndex, ...points }, c.node).toEqual({
          gpu: gpuIndex,
          count: expected,
          distinctTimes: expected,
        });
      }
    }
  }, 120_000);
});
