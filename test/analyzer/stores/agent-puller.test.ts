import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { AgentPuller } from "../../../analyzer/stores/agent-puller.js";
import { MemoryStore } from "../../../analyzer/stores/memory-store.js";
import { startAgentProcess, type AgentProcess } from "../../fixtures/agent-process.js";
import { waitFor } from "../../fixtures/wait.js";

const servers: Server[] = [];
let agent: AgentProcess | undefined;

afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A /metrics server answering with `respond`; counts its requests. */
async function target(respond: (response: ServerResponse) => void): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const server = createServer((_request, response) => {
    hits++;
    respond(response);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`, hits: () => hits };
}

const exposition = (text: string) => (response: ServerResponse) =>
  response.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(text);
const host = (url: string): string => new URL(url).host;

describe("AgentPuller", () => {
  it("pulls a real agent with an instance label while a down and a hanging target fail on their own", async () => {
    agent = await startAgentProcess([
      "--nvml-library",
      "/nonexistent/libnvidia-ml.so.1",
      "--pods",
      "false",
      "--host-metrics",
      "false",
      "--otlp",
      "false",
    ]);
    const hanging = await target(() => {});
    const down = "http://127.0.0.1:1/metrics";
    const store = new MemoryStore();
    let clock = Date.UTC(2024, 0, 1);
    const puller = new AgentPuller({
      targets: [agent.url, down, hanging.url],
      store,
      intervalMs: 10_000,
      timeoutMs: 300,
      now: () => clock,
    });
    const started = Date.now();
    const states = await puller.pullOnce();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(states.map((s) => [s.instance, s.isUp])).toEqual([
      [host(agent.url), true],
      ["127.0.0.1:1", false],
      [host(hanging.url), false],
    ]);
    expect(states[0]?.samples).toBeGreaterThan(0);
    expect(states[0]?.url).toBe(`${agent.url}/metrics`);
    expect(states[2]?.lastError).toBe("no answer within 300 ms");
    expect(await store.latest({ metric: "inferwatch_nvml_up", atMs: clock })).toEqual([
      { labels: { instance: host(agent.url), node: "test-node" }, value: 0 },
    ]);
    const up = new Map(
      (await store.latest({ metric: "up", atMs: clock })).map((row) => [row.labels["instance"], row.value]),
    );
    expect(up).toEqual(
      new Map([
        ["127.0.0.1:1", 0],
        [host(agent.url), 1],
        [host(hanging.url), 0],
      ]),
    );
    clock += 10_000;
    await puller.pullOnce();
    expect(
      (
        await store.range({
          metric: "up",
          startMs: clock - 10_000,
          endMs: clock,
          stepMs: 10_000,
          match: { instance: host(agent.url) },
        })
      )[0]?.samples.length,
    ).toBe(2);
  });

  it.each<[string, (response: ServerResponse) => void, RegExp]>([
    ["an HTTP 500", (r) => r.writeHead(500).end("boom"), /HTTP 500/],
    ["malformed exposition text", exposition("ok 1\nbad{x=1} 2\n"), /line 2/],
  ])("marks a target answering %s down and stores nothing of it but up 0", async (_what, respond, error) => {
    const bad = await target(respond);
    const good = await target(exposition("# TYPE req_total counter\nreq_total 5\n"));
    const store = new MemoryStore();
    const puller = new AgentPuller({ targets: [bad.url, good.url], store, intervalMs: 1_000, now: () => 1_000_000 });
    const [badState, goodState] = await puller.pullOnce();
    expect(badState?.isUp).toBe(false);
    expect(badState?.lastError).toMatch(error);
    expect(goodState?.isUp).toBe(true);
    expect(store.stats().series).toBe(3);
    expect(await store.latest({ metric: "req_total", atMs: 1_000_000 })).toEqual([
      { labels: { instance: host(good.url) }, value: 5 },
    ]);
  });

  it("pulls at its interval once started, stops on shutdown, and shuts down safely twice or without start", async () => {
    const agentLike = await target(exposition("req_total 1\n"));
    const store = new MemoryStore();
    const idle = new AgentPuller({ targets: [agentLike.url], store, intervalMs: 20 });
    await idle.shutdown();
    const puller = new AgentPuller({ targets: [agentLike.url], store, intervalMs: 20 });
    await puller.start();
    await puller.start();
    await waitFor(() => agentLike.hits() >= 3, 2_000);
    await puller.shutdown();
    await puller.shutdown();
    const hits = agentLike.hits();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(agentLike.hits()).toBe(hits);
    expect(puller.states()[0]?.isUp).toBe(true);
  });

  it("adds /metrics to a bare target URL and never shows credentials", () => {
    const puller = new AgentPuller({
      targets: ["http://user:pw@node-1:9400"],
      store: new MemoryStore(),
      intervalMs: 1_000,
    });
    expect(puller.states()[0]).toMatchObject({
      url: "http://node-1:9400/metrics",
      instance: "node-1:9400",
      isUp: false,
      lastPullMs: null,
    });
  });
});
