/**
 * The agent's one lifecycle loop (agent/components/lifecycle.ts over the table in
 * agent/components/table.ts), seen from outside through startAgent with recording fakes: components
 * start in table order and stop in reverse order, and a component that cannot start stops every
 * component created before it and names itself in the error.
 */
import { createServer, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startAgent } from "../../../agent/agent.js";
import type { PodAttribution, PodAttributor } from "../../../agent/collectors/pods/pod-attribution.js";
import type { NvmlClient } from "../../../agent/nvml/nvml-client.js";
import { agentConfigSchema } from "../../../common/config/schema.js";
import { silentLogger } from "../../../common/log.js";

/** A pod attributor that records its lifecycle. */
function recordingPods(events: string[]): PodAttributor {
  return {
    name: "pods",
    async start() {
      events.push("pods:start");
    },
    async shutdown() {
      events.push("pods:stop");
    },
    current: (): PodAttribution => ({ byDevice: new Map(), refreshedAtMs: 0, isUp: true }),
    containerOfPid: () => undefined,
    async resolvePids() {},
  };
}

/** An NVML client that never opens and records its close (the GPU component's stop). */
function recordingNvml(events: string[]): NvmlClient {
  return {
    source: "simulated",
    open: () => Promise.reject(new Error("no GPU here")),
    sample: () => Promise.reject(new Error("not open")),
    async close() {
      events.push("gpu:stop");
    },
    hasStuckCall: () => false,
  };
}

function config(metricsAddr: string) {
  return agentConfigSchema.parse({
    nodeName: "lifecycle-node",
    metricsAddr,
    pods: { enabled: false },
    host: { enabled: false },
    otlp: { httpAddr: "127.0.0.1:0", grpcAddr: "127.0.0.1:0" },
  });
}

let taken: Server | undefined;

afterEach(async () => {
  await new Promise((resolve) => (taken ? taken.close(resolve) : resolve(undefined)));
  taken = undefined;
});

describe("the agent's component lifecycle", () => {
  it("starts the components in table order and stops them in reverse order, once", async () => {
    const events: string[] = [];
    const agent = await startAgent(config("127.0.0.1:0"), silentLogger(), {
      podAttributor: recordingPods(events),
      nvml: recordingNvml(events),
    });
    expect(events).toEqual(["pods:start"]);
    const health = await fetch(`http://127.0.0.1:${agent.metricsAddress.port}/healthz`);
    expect(health.status).toBe(200);
    await Promise.all([agent.shutdown(), agent.shutdown()]);
    // The GPU component comes after pods in the table, so NVML closes before the attributor stops.
    expect(events).toEqual(["pods:start", "gpu:stop", "pods:stop"]);
    await expect(fetch(`http://127.0.0.1:${agent.metricsAddress.port}/healthz`)).rejects.toThrow();
  });

  it("stops what it created and names the component when one cannot start (the metrics port is taken)", async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken?.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as AddressInfo;
    const events: string[] = [];
    const starting = startAgent(config(`127.0.0.1:${port}`), silentLogger(), {
      podAttributor: recordingPods(events),
      nvml: recordingNvml(events),
    });
    await expect(starting).rejects.toThrow(/^agent: cannot start metrics: .*EADDRINUSE/);
    expect(events).toEqual(["pods:start", "gpu:stop", "pods:stop"]);
  });
});
