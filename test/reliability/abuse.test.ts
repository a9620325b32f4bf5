/**
 * The abuse suite (issue: hardening): the real agent process with ingest tokens on, flooded as an
 * attacker who can reach its ports would flood it (no token or a wrong one) and as a sender holding
 * a valid token would: gzip bombs over OTLP/gRPC and OTLP/HTTP, JSON nesting bombs. Throughout,
 * the agent's peak resident memory stays under its DaemonSet limit and its `/healthz` answers
 * within 100 ms of what an idle control server in its own process needed meanwhile (on a machine
 * whose cores are oversubscribed, within the soak's 2 s bound: soak-bounds.ts says why).
 *
 * A runtime page with 100,000 `model_name` values (12.7 MiB) is scraped by a second agent under the
 * same watch: its series stay within the runtime limits and its /metrics small; a page over the page
 * limit (16 MiB) is refused, counted and reports its target down.
 *
 * Elsewhere, each with its own test: huge `since` on the analyzer's /report
 * (test/analyzer/report/report-route.test.ts), extreme durations (a property test over every
 * duration flag in test/common/config/duration-bounds.test.ts, random values in
 * test/reliability/config-fuzz.test.ts).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DAEMONSET_MEMORY_LIMIT_MIB,
  INGEST_TOKEN,
  loadPerCore,
  probeHealth,
  rssOf,
  startControlServer,
  startSecuredAgent,
  WRONG_TOKEN,
  type ControlServer,
  type ProbeResult,
  type SecuredAgent,
} from "./abuse-harness.js";
import { grpcGzipFlood, gzipBomb, httpFlood, jsonDepthBomb, type Outcomes } from "./abuse-floods.js";
import { shortRunLoopBoundSeconds } from "./soak-bounds.js";
import { METRICS } from "../../common/conventions.js";
import { find, valueOf } from "../fixtures/exposition.js";
import { waitFor } from "../fixtures/wait.js";

/** The receivers' default body limit (agent.otlp.maxBodyBytes) and gRPC message limit (maxGrpcMessageBytes). */
const MAX_BODY_BYTES = 20 * 1024 * 1024;
const MAX_GRPC_MESSAGE_BYTES = 4 * 1024 * 1024;
/** grpc-status codes (google.rpc.Code). */
const UNAUTHENTICATED = "16";
const INVALID_ARGUMENT = "3";
const RESOURCE_EXHAUSTED = "8";

let secured: SecuredAgent;
let control: ControlServer;

beforeAll(async () => {
  [secured, control] = await Promise.all([startSecuredAgent(), startControlServer()]);
});

afterAll(async () => {
  await control?.stop();
  expect(await secured?.stop()).toBe(0);
});

/** Runs `flood` while probing the agent's and the control's /healthz; returns what the flood ended in and what the probes saw. */
async function underProbe(
  flood: () => Promise<Outcomes>,
  target: SecuredAgent = secured,
): Promise<{ outcomes: Outcomes; agent: ProbeResult; control: ProbeResult; load: number }> {
  const probe = probeHealth([target.agent.url, control.url]);
  const outcomes = await flood().finally(() => new Promise((resolve) => setTimeout(resolve, 300)));
  // Whatever the flood left behind (inflated buffers, parsed trees) was given a moment to show above.
  const [agentProbe, controlProbe] = await probe.stop();
  if (agentProbe === undefined || controlProbe === undefined) throw new Error("the prober lost a target");
  return { outcomes, agent: agentProbe, control: controlProbe, load: loadPerCore() };
}

/** The agent held its memory and kept answering its probes during what `run` measured. */
async function expectHeld(
  run: Awaited<ReturnType<typeof underProbe>>,
  what: string,
  target: SecuredAgent = secured,
): Promise<void> {
  const rss = await rssOf(target.pid);
  const boundMs = shortRunLoopBoundSeconds(run.load, run.control.maxMs / 1000) * 1000;
  console.info(
    `${what}: ${JSON.stringify(run.outcomes)}; agent RSS ${rss.nowMiB.toFixed(0)} MiB (peak ${rss.peakMiB.toFixed(0)}); /healthz max ${run.agent.maxMs.toFixed(0)} ms over ${run.agent.probes} probes ` +
      `(control ${run.control.maxMs.toFixed(0)} ms; load per core ${run.load.toFixed(1)}; bound ${boundMs.toFixed(0)} ms)`,
  );
  expect(rss.peakMiB).toBeLessThan(DAEMONSET_MEMORY_LIMIT_MIB);
  expect(run.agent.failures).toBe(0);
  expect(run.agent.probes).toBeGreaterThan(0);
  expect(run.agent.maxMs).toBeLessThan(boundMs);
  expect(target.agent.child.exitCode).toBeNull();
}

describe("the agent with ingest tokens under floods", () => {
  it("refuses an unauthenticated OTLP/gRPC flood of gzip bombs before inflating one (64 messages of 20 MiB inflated, wrong token)", async () => {
    const bomb = gzipBomb(MAX_BODY_BYTES - 1024);
    const run = await underProbe(() =>
      grpcGzipFlood({
        address: secured.agent.otlpGrpc as string,
        message: bomb,
        connections: 8,
        streamsPerConnection: 8,
        token: WRONG_TOKEN,
      }),
    );
    expect(run.outcomes).toEqual({ [UNAUTHENTICATED]: 64 });
    await expectHeld(run, "gRPC gzip flood, wrong token");
  }, 120_000);

  it("refuses the same flood without any token", async () => {
    const bomb = gzipBomb(MAX_BODY_BYTES - 1024);
    const run = await underProbe(() =>
      grpcGzipFlood({
        address: secured.agent.otlpGrpc as string,
        message: bomb,
        connections: 4,
        streamsPerConnection: 16,
      }),
    );
    expect(run.outcomes).toEqual({ [UNAUTHENTICATED]: 64 });
    await expectHeld(run, "gRPC gzip flood, no token");
  }, 120_000);

  it("inflates a valid-token gzip flood only as far as the in-flight budget allows: each bomb is refused as undecodable or as over budget", async () => {
    // The largest gRPC message the receiver takes (agent.otlp.maxGrpcMessageBytes, 4 MiB); larger ones are cut off while inflating.
    const bomb = gzipBomb(MAX_GRPC_MESSAGE_BYTES - 1024);
    const run = await underProbe(() =>
      grpcGzipFlood({
        address: secured.agent.otlpGrpc as string,
        message: bomb,
        connections: 8,
        streamsPerConnection: 8,
        token: INGEST_TOKEN,
      }),
    );
    const total = Object.values(run.outcomes).reduce((a, b) => a + b, 0);
    expect(total).toBe(64);
    // Zeros are no protobuf (field number 0): an inflated bomb is INVALID_ARGUMENT, the rest wait their turn or are refused.
    expect(Object.keys(run.outcomes).every((code) => code === INVALID_ARGUMENT || code === RESOURCE_EXHAUSTED)).toBe(
      true,
    );
    expect(run.outcomes[INVALID_ARGUMENT]).toBeGreaterThan(0);
    await expectHeld(run, "gRPC gzip flood, valid token");
  }, 120_000);

  it("refuses an unauthenticated OTLP/HTTP flood of gzip bombs from its headers", async () => {
    const bomb = gzipBomb(MAX_BODY_BYTES - 1024);
    const run = await underProbe(() =>
      httpFlood({
        address: secured.agent.otlpHttp as string,
        body: bomb,
        requests: 256,
        concurrency: 32,
        contentType: "application/x-protobuf",
        gzipped: true,
        token: WRONG_TOKEN,
      }),
    );
    expect(run.outcomes).toEqual({ 401: 256 });
    await expectHeld(run, "HTTP gzip flood, wrong token");
  }, 120_000);

  it("refuses JSON nesting bombs with a valid token as 400 before parsing them (eight of 2 MB at once, then one of 20 MB)", async () => {
    const small = await underProbe(() =>
      httpFlood({
        address: secured.agent.otlpHttp as string,
        body: jsonDepthBomb(1_000_000),
        requests: 8,
        concurrency: 8,
        contentType: "application/json",
        token: INGEST_TOKEN,
      }),
    );
    expect(small.outcomes).toEqual({ 400: 8 });
    await expectHeld(small, "JSON depth bombs 8 × 2 MB");
    const large = await underProbe(() =>
      httpFlood({
        address: secured.agent.otlpHttp as string,
        body: jsonDepthBomb(10_000_000),
        requests: 1,
        concurrency: 1,
        contentType: "application/json",
        token: INGEST_TOKEN,
      }),
    );
    expect(large.outcomes).toEqual({ 400: 1 });
    await expectHeld(large, "JSON depth bomb 20 MB");
  }, 120_000);

  it("refuses gzip-compressed JSON nesting bombs with a valid token as 400 or 429, never parsing one", async () => {
    const bomb = gzipSync(jsonDepthBomb(10_000_000), { level: 9 });
    const run = await underProbe(() =>
      httpFlood({
        address: secured.agent.otlpHttp as string,
        body: bomb,
        requests: 32,
        concurrency: 16,
        contentType: "application/json",
        gzipped: true,
        token: INGEST_TOKEN,
      }),
    );
    expect(Object.keys(run.outcomes).every((status) => status === "400" || status === "429")).toBe(true);
    expect(run.outcomes["400"]).toBeGreaterThan(0);
    await expectHeld(run, "gzip JSON depth bombs");
  }, 120_000);
});

describe("the agent scraping hostile runtime pages", () => {
  /** A vLLM page listing `models` model_name values, as any GPU pod with a metrics-port annotation could serve it. */
  const vllmPage = (models: number, families: readonly string[]): string => {
    const lines: string[] = [];
    for (const family of families) {
      lines.push(`# TYPE ${family} gauge`);
      for (let i = 0; i < models; i++) lines.push(`${family}{engine="0",model_name="model-${i}"} 0.5`);
    }
    return `${lines.join("\n")}\n`;
  };
  /** 140,000 values of two gauges: 17.8 MiB, over the default page limit (16 MiB). */
  const oversized = vllmPage(140_000, ["vllm:num_requests_running", "vllm:kv_cache_usage_perc"]);
  /** 100,000 values of two gauges: 12.7 MiB, read as it arrives (the default page limit was 1 MiB while pages were parsed whole). */
  const huge = vllmPage(100_000, ["vllm:num_requests_running", "vllm:kv_cache_usage_perc"]);
  let server: Server;
  let scraping: SecuredAgent;
  const scrapes = { oversized: 0, huge: 0 };

  beforeAll(async () => {
    expect(oversized.length).toBeGreaterThan(16 * 1024 * 1024);
    expect(huge.length).toBeGreaterThan(12 * 1024 * 1024);
    server = createServer((request, response) => {
      const name = request.url === "/oversized" ? "oversized" : "huge";
      scrapes[name]++;
      response.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
      response.end(name === "oversized" ? oversized : huge);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // A 10 s timeout: the 12.7 MiB page reads in ~1 s, but this machine's cores may be shared with other test runs.
    scraping = await startSecuredAgent([
      "--runtime-targets",
      `${base}/oversized,${base}/huge`,
      "--runtime-interval",
      "10s",
      "--runtime-timeout",
      "10s",
    ]);
  });

  afterAll(async () => {
    expect(await scraping?.stop()).toBe(0);
    await new Promise((resolve) => server?.close(resolve));
  });

  it("refuses a page over the page limit (17.8 MiB) and counts it, folds a page of 100,000 model_name values (12.7 MiB) into the series limit, and holds its memory and /healthz", async () => {
    const run = await underProbe(async () => {
      await waitFor(() => scrapes.oversized >= 3 && scrapes.huge >= 3, 90_000);
      return { ...scrapes };
    }, scraping);
    const { text, series } = await scraping.agent.scrape();
    const rows = find(series, METRICS.llmKvCacheUsage.name);
    console.info(
      `runtime pages of ${(oversized.length / 2 ** 20).toFixed(1)} MiB and ${(huge.length / 2 ** 20).toFixed(1)} MiB: ${rows.length} kv-cache series, /metrics ${(text.length / 1024).toFixed(0)} KiB`,
    );
    expect(
      find(series, METRICS.runtimeScrapeUp.name)
        .map((s) => [s.labels["target"]?.replace(/^.*\//, ""), s.value])
        .sort(),
    ).toEqual([
      ["huge", 1],
      ["oversized", 0],
    ]);
    expect(scraping.agent.logs().some((line) => String(line["err"]).includes("page larger than 16777216 bytes"))).toBe(
      true,
    );
    // Two rounds at least have ended since the third request of each: each refusal counted once.
    expect(valueOf(series, METRICS.collectorErrors.name, { collector: "runtimes" })).toBeGreaterThanOrEqual(2);
    expect(valueOf(series, METRICS.runtimeSeries.name)).toBeLessThanOrEqual(64);
    expect(rows.length).toBeLessThanOrEqual(64);
    expect(rows.some((row) => row.labels["model"] === "__overflow__")).toBe(true);
    expect(text.length).toBeLessThan(256 * 1024);
    await expectHeld(run, "hostile runtime pages", scraping);
  }, 120_000);
});
