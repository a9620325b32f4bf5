/**
 * The simulated span traffic against real agents started in-process, each with the simulated NVML
 * of its node: spans travel over OTLP/HTTP JSON through the agent's receiver, decoder and vLLM
 * profile, and come out of its /metrics.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { startAgent, type Agent } from "../../../agent/agent.js";
import { SimulatedNvmlClient, SimulatedPodAttributor } from "../../../cli/simulate/simulated-nvml-client.js";
import { SpanTraffic } from "../../../cli/simulate/span-traffic.js";
import { agentConfigSchema } from "../../../common/config/schema.js";
import { createLogger, silentLogger, type Logger } from "../../../common/log.js";
import { simulationClock, type SimulationClock } from "../../../cli/simulate/clock.js";
import { compileFleet } from "../../../cli/simulate/fleet-model.js";
import { DEFAULT_SCENARIO, scenarioTierRules } from "../../../cli/simulate/scenario.js";
import { find, parseExposition, type Series } from "../../fixtures/exposition.js";
import { waitFor } from "../../fixtures/wait.js";

const ORIGIN = Date.UTC(2024, 5, 1, 14);
const fleet = compileFleet(DEFAULT_SCENARIO, { originMs: ORIGIN });
const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** An agent for one simulated node, as `inferwatch up` starts them: loopback, ephemeral ports, no kubelet, no host metrics. */
async function simulatedAgent(node: string, clock: SimulationClock): Promise<Agent> {
  const config = agentConfigSchema.parse({
    nodeName: node,
    metricsAddr: "127.0.0.1:0",
    interval: "100ms",
    pods: { enabled: false },
    host: { enabled: false },
    otlp: { httpAddr: "127.0.0.1:0", grpcAddr: "127.0.0.1:0" },
    spans: { tiers: scenarioTierRules(DEFAULT_SCENARIO) },
  });
  const agent = await startAgent(config, silentLogger(), {
    nvml: new SimulatedNvmlClient({ fleet, node, clock }),
    podAttributor: new SimulatedPodAttributor(fleet, node),
  });
  cleanups.push(() => agent.shutdown());
  return agent;
}

async function scrape(agent: Agent): Promise<Series[]> {
  const response = await fetch(`http://127.0.0.1:${agent.metricsAddress.port}/metrics`);
  return parseExposition(await response.text());
}

const total = (series: readonly Series[]) => series.reduce((sum, s) => sum + s.value, 0);

/** A clock whose wall time the test moves. */
function manualClock(): { clock: SimulationClock; advance: (ms: number) => void } {
  const wall = { ms: ORIGIN };
  return {
    clock: simulationClock({ originMs: ORIGIN, now: () => wall.ms }),
    advance: (ms) => {
      wall.ms += ms;
    },
  };
}

/** A logger whose lines the test reads. */
function capturedLogger(): { log: Logger; lines: () => { level: number; msg: string }[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    log: createLogger({ level: "info", destination: stream }),
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as { level: number; msg: string }),
  };
}

describe("simulated span traffic", () => {
  it("reaches each node's agent: GPU series say simulated, requests arrive per model and pod, the idle model sends none", async () => {
    const { clock, advance } = manualClock();
    const nodes = ["gpu-h100-0", "gpu-a100-0"];
    const agents = await Promise.all(nodes.map((node) => simulatedAgent(node, clock)));
    const traffic = new SpanTraffic({
      fleet,
      clock,
      log: silentLogger(),
      intervalMs: 10_000,
      targets: nodes.map((node, i) => ({ node, url: `http://${agents[i]?.otlpAddresses.http}/v1/traces` })),
    });
    cleanups.push(() => traffic.shutdown());
    await traffic.tick();
    for (let i = 0; i < 6; i++) {
      advance(10_000);
      await traffic.tick();
    }
    const stats = traffic.stats();
    // A minute at 14:00: 7B 8 req/s, 13B 4 req/s over 5 replicas, 70B 1.2 req/s; these two nodes hold 3/6, 3/5 and all of them.
    const expected = 60 * ((8 * 3) / 6 + (4 * 3) / 5 + 1.2);
    expect(Math.abs(stats.generated - expected)).toBeLessThan(5 * Math.sqrt(expected));
    expect(stats).toMatchObject({ accepted: stats.generated, rejected: 0, dropped: 0 });

    await waitFor(() => agents.every((agent) => agent.gpu.view().samples.length > 0));
    const [h100, a100] = (await Promise.all(agents.map(scrape))) as [Series[], Series[]];
    const info = find(h100, "inferwatch_gpu_info", { source: "simulated" });
    expect(info).toHaveLength(8);
    expect(info[0]?.labels).toMatchObject({
      node: "gpu-h100-0",
      driver_version: "simulated-550.00",
      gpu_model: "NVIDIA H100 80GB HBM3",
    });
    expect(find(a100, "inferwatch_gpu_info", { source: "simulated" })).toHaveLength(4);
    expect(find(h100, "inferwatch_gpu_utilization_ratio", { model: "llama-2-70b-awq" })).toHaveLength(4);

    const requests = [...h100, ...a100].filter((s) => s.name === "inferwatch_llm_requests_total");
    expect(total(requests)).toBe(stats.accepted);
    expect(new Set(requests.filter((s) => s.value > 0).map((s) => s.labels["model"]))).toEqual(
      new Set(["llama-2-7b-awq", "llama-2-13b-awq", "llama-2-70b-awq"]),
    );
    expect(find(a100, "inferwatch_llm_requests_total", { model: "mistral-7b-awq" })).toEqual([]);
    const seventy = find(h100, "inferwatch_llm_requests_total", { model: "llama-2-70b-awq", status: "ok" });
    const pod = fleet.replicas.find((replica) => replica.model.name === "llama-2-70b-awq")?.pod;
    expect(seventy.map((s) => s.labels)).toEqual([
      expect.objectContaining({ runtime: "vllm", namespace: "inference", pod, node: "gpu-h100-0", tier: "latency" }),
    ]);
    expect(find(h100, "inferwatch_llm_queue_duration_seconds_count", { model: "llama-2-70b-awq" })[0]?.value).toBe(
      total(find(h100, "inferwatch_llm_requests_total", { model: "llama-2-70b-awq" })),
    );
    expect(total(find(h100, "inferwatch_llm_tokens_total", { type: "completion" }))).toBeGreaterThan(0);
  });

  it("runs on its own timer in compressed time until shut down", async () => {
    const clock = simulationClock({ originMs: Date.now(), timeScale: 30 });
    const agent = await simulatedAgent("gpu-l40s-0", clock);
    const traffic = new SpanTraffic({
      fleet,
      clock,
      log: silentLogger(),
      intervalMs: 100,
      targets: [{ node: "gpu-l40s-0", url: `http://${agent.otlpAddresses.http}/v1/traces` }],
    });
    await traffic.start();
    await traffic.start();
    await waitFor(() => agent.spans.outcomes.recorded >= 20, 10_000);
    await traffic.shutdown();
    await traffic.shutdown();
    const stats = traffic.stats();
    const recorded = agent.spans.outcomes.recorded;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(traffic.stats()).toEqual(stats);
    expect(agent.spans.outcomes.recorded).toBe(recorded);
    // A post aborted by shutdown may still have been recorded by the agent; nothing else is lost or invented.
    expect(recorded).toBeGreaterThanOrEqual(stats.accepted);
    expect(recorded).toBeLessThanOrEqual(stats.accepted + stats.dropped);
    expect(stats.accepted + stats.rejected + stats.dropped).toBe(stats.generated);
  });

  it("shuts down safely without start", async () => {
    const traffic = new SpanTraffic({ fleet, log: silentLogger(), targets: [] });
    await traffic.shutdown();
    await traffic.start();
    expect(traffic.stats().generated).toBe(0);
  });

  describe("against an agent in trouble", () => {
    let server: Server | undefined;
    afterEach(async () => {
      server?.closeAllConnections();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server = undefined;
    });

    async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
      server = createServer(handler);
      await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
    }

    it("logs a failure once, and the recovery once, counting undelivered spans as dropped", async () => {
      let answers = 0;
      const url = await listen((request, response) => {
        request.resume();
        request.on("end", () => {
          answers++;
          response.writeHead(answers <= 3 ? 503 : 200, { "content-type": "application/json" });
          response.end(answers <= 3 ? '{"code":14,"message":"busy"}' : "{}");
        });
      });
      const { clock, advance } = manualClock();
      const { log, lines } = capturedLogger();
      const traffic = new SpanTraffic({
        fleet,
        clock,
        log,
        intervalMs: 10_000,
        targets: [{ node: "gpu-h100-0", url }],
      });
      await traffic.tick();
      for (let i = 0; i < 5; i++) {
        advance(10_000);
        await traffic.tick();
      }
      const messages = lines().map((line) => line.msg);
      expect(messages.filter((msg) => msg.includes("not delivered"))).toHaveLength(1);
      expect(messages.filter((msg) => msg.includes("again"))).toHaveLength(1);
      const stats = traffic.stats();
      expect(stats.dropped).toBeGreaterThan(0);
      expect(stats.accepted + stats.dropped).toBe(stats.generated);
    });

    it("keeps at most the bound of posts in flight to a hung agent and aborts them on shutdown", async () => {
      let received = 0;
      const url = await listen((request) => {
        received++;
        request.resume();
      });
      const { clock, advance } = manualClock();
      const traffic = new SpanTraffic({
        fleet,
        clock,
        log: silentLogger(),
        intervalMs: 10_000,
        maxInFlightPerTarget: 2,
        targets: [{ node: "gpu-h100-0", url }],
      });
      await traffic.tick();
      const ticks: Promise<void>[] = [];
      for (let i = 0; i < 5; i++) {
        advance(10_000);
        ticks.push(traffic.tick());
      }
      await waitFor(() => received === 2);
      const started = Date.now();
      await traffic.shutdown();
      await Promise.all(ticks);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(received).toBe(2);
      const stats = traffic.stats();
      expect(stats.accepted).toBe(0);
      expect(stats.dropped).toBe(stats.generated);
    });
  });
});
