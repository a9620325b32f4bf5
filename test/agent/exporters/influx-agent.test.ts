/**
 * The InfluxDB sink wired into the real agent (`inferwatch agent`, fake NVML, OTLP spans) writing
 * to a real influxd: GPU samples and per-model request aggregates land in the catalog's layout, the
 * analyzer's InfluxDB store reads them back, the sink's metrics are served, and the password from the
 * credentials file appears nowhere in the agent's output.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createInfluxStore } from "../../../analyzer/stores/influx-store.js";
import { METRICS } from "../../../common/conventions.js";
import { buildFakeNvml, type FakeNvmlLibraries } from "../../setup/build-fake-nvml.js";
import { scrapeUntil, startAgentProcess, type AgentProcess } from "../../fixtures/agent-process.js";
import { valueOf } from "../../fixtures/exposition.js";
import { startInfluxd, type InfluxdServer } from "../../fixtures/influxd-server.js";
import { gpu, scenarioFile } from "../../fixtures/nvml-scenario.js";
import { sendSpans } from "../../fixtures/otlp-client.js";
import { runtimeResource, vllmRawSpan } from "../../fixtures/spans.js";
import { waitFor } from "../../fixtures/wait.js";

const PASSWORD = "s3cret-influx-pw";
const UUID0 = "GPU-00000000-1111-2222-3333-444444444444";
let libs: FakeNvmlLibraries;
let influxd: InfluxdServer;
let agent: AgentProcess | undefined;
let dir: string;

beforeAll(async () => {
  [libs, influxd, dir] = await Promise.all([
    buildFakeNvml(),
    startInfluxd(),
    mkdtemp(join(tmpdir(), "inferwatch-influx-agent-")),
  ]);
}, 60_000);

afterAll(async () => {
  await agent?.stop();
  await influxd?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function rows(q: string): Promise<unknown[][]> {
  return (await influxd.query(q, "inferwatch")).results[0]?.series?.flatMap((s) => s.values) ?? [];
}

describe("inferwatch agent with --influx-url", () => {
  it("writes GPU samples and request aggregates that the InfluxDB store reads back, and serves the sink's metrics", async () => {
    const credentials = join(dir, "credentials");
    await writeFile(credentials, `writer:${PASSWORD}\n`);
    const nvml = await scenarioFile({ gpus: [gpu(0), gpu(1)] });
    agent = await startAgentProcess(
      [
        "--nvml-library",
        libs.full,
        "--pods",
        "false",
        "--host-metrics",
        "false",
        "--interval",
        "200ms",
        "--influx-url",
        influxd.url,
        "--influx-flush-interval",
        "200ms",
        "--influx-spool-dir",
        join(dir, "spool"),
        "--influx-credentials-file",
        credentials,
      ],
      { FAKE_NVML_SCENARIO: nvml.path },
    );
    const e2es = [0.4, 0.9, 1.5, 3];
    await sendSpans(
      "http/protobuf",
      agent.otlpHttp as string,
      runtimeResource("vllm"),
      e2es.map((e2e, i) =>
        vllmRawSpan({
          spanId: `a00000000000000${i}`,
          attributes: { "gen_ai.latency.e2e": e2e, "gen_ai.response.model": "llama-3-8b" },
        }),
      ),
    );

    const count = `${METRICS.llmRequestDuration.name}_count`;
    let gpuRows: unknown[][] = [];
    let countRows: unknown[][] = [];
    await waitFor(
      () => gpuRows.length >= 3 && countRows.length >= 1,
      15_000,
      async () => {
        gpuRows = await rows(
          `SELECT "value", "uuid", "gpu_model", "node" FROM "${METRICS.utilization.name}" WHERE "gpu" = '0'`,
        ).catch(() => []);
        countRows = await rows(`SELECT last("value") FROM "${count}" WHERE "model" = 'llama-3-8b'`).catch(() => []);
      },
    );
    // GPU 0's utilization from the fake NVML (50 %), tagged as on /metrics; one point per NVML sample.
    for (const [, value, uuid, , node] of gpuRows) {
      expect(value).toBe(0.5);
      expect(uuid).toBe(UUID0);
      expect(node).toBe("test-node");
    }
    expect(new Set(gpuRows.map((row) => row[0])).size).toBe(gpuRows.length);
    expect(countRows[0]?.[1]).toBe(4);

    // The analyzer's store reads the sink's layout: the bucket at the 1.2 s SLO threshold holds 2 of 4.
    const store = createInfluxStore({ url: `${influxd.url}?db=inferwatch`, timeoutMs: 10_000 });
    const atMs = Date.now();
    const buckets = await store.latest({
      metric: `${METRICS.llmRequestDuration.name}_bucket`,
      atMs,
      match: { model: "llama-3-8b", le: "1.2" },
    });
    expect(buckets.map((b) => [b.labels["runtime"], b.value])).toEqual([["vllm", 2]]);
    const tokens = await store.latest({
      metric: METRICS.llmTokens.name,
      atMs,
      match: { model: "llama-3-8b", type: "prompt" },
    });
    expect(tokens[0]?.value).toBe(4 * 512);

    const series = await scrapeUntil(agent, (s) => (valueOf(s, METRICS.influxPointsWritten.name) ?? 0) > 0);
    expect(valueOf(series, METRICS.influxPointsSpooled.name)).toBeGreaterThanOrEqual(
      valueOf(series, METRICS.influxPointsWritten.name) as number,
    );
    expect(valueOf(series, METRICS.influxPointsDropped.name, { reason: "spool_full" })).toBe(0);
    // Exported; its value is 0 once InfluxDB has acknowledged everything (the spool gives its space
    // back) and the bytes of the points not yet sent otherwise — the spool unit tests check the value.
    expect(valueOf(series, METRICS.influxSpoolBytes.name)).toBeDefined();
    expect(agent.stderr()).not.toContain(PASSWORD);
    expect(await agent.stop()).toBe(0);
    agent = undefined;
  }, 60_000);
});
