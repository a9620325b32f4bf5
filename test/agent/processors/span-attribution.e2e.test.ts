/**
 * A stock vLLM V1 deployment end to end: spans with vLLM's default resource (service.name
 * `unknown_service`, nothing naming the pod) exported by the OpenTelemetry SDK over OTLP/gRPC and
 * OTLP/HTTP from loopback to a running agent, whose pod list holds the sending pod at 127.0.0.1.
 * The agent names the model from that pod, from the pod's runtime page, or from the two settings
 * docs/runtimes.md gives; `unknown` only when nothing can, and then counted.
 */
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startAgent, type Agent } from "../../../agent/agent.js";
import type { NodePod, PodAttribution, PodAttributor } from "../../../agent/collectors/pods/pod-attribution.js";
import { agentConfigSchema } from "../../../common/config/schema.js";
import { silentLogger } from "../../../common/log.js";
import { projectPath } from "../../../common/paths.js";
import { find, parseExposition, valueOf, type Series } from "../../fixtures/exposition.js";
import { sendSpans, type Transport } from "../../fixtures/otlp-client.js";
import { vllmDefaultResource, vllmV1Span } from "../../fixtures/runtimes/runtime-spans.js";
import { waitFor } from "../../fixtures/wait.js";

/** Scrapes the agent until `predicate` holds on the series (or the wait times out), and returns them. */
async function scrapeUntil(agent: Agent, predicate: (series: readonly Series[]) => boolean): Promise<Series[]> {
  let latest: Series[] = [];
  await waitFor(
    () => predicate(latest),
    10_000,
    async () => {
      latest = await scrape(agent);
    },
  );
  return latest;
}

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The pods of a node as the Kubernetes API lists them; no GPU holders from a kubelet. */
class ListedPods implements PodAttributor {
  readonly name = "pods";
  constructor(private readonly pods: readonly NodePod[]) {}
  async start(): Promise<void> {}
  async shutdown(): Promise<void> {}
  current(): PodAttribution {
    return { byDevice: new Map(), refreshedAtMs: 0, isUp: true, nodePods: this.pods };
  }
  containerOfPid(): undefined {
    return undefined;
  }
  async resolvePids(): Promise<void> {}
}

async function vllmPage(): Promise<string> {
  const body = readFileSync(projectPath("test/fixtures/runtimes/vllm-v1.prom"), "utf8");
  const server: Server = createServer((_, response) => {
    response.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
}

async function agentWith(pods: readonly NodePod[], targets: readonly object[] = []): Promise<Agent> {
  const config = agentConfigSchema.parse({
    nodeName: "gpu-node-1",
    metricsAddr: "127.0.0.1:0",
    nvml: { library: "/nonexistent/libnvidia-ml.so.1" },
    pods: { enabled: false },
    host: { enabled: false },
    otlp: { httpAddr: "127.0.0.1:0", grpcAddr: "127.0.0.1:0" },
    runtimes: { targets, interval: "1s", timeout: "1s" },
  });
  const agent = await startAgent(config, silentLogger(), { podAttributor: new ListedPods(pods) });
  cleanups.push(() => agent.shutdown());
  return agent;
}

async function scrape(agent: Agent): Promise<Series[]> {
  const response = await fetch(`http://127.0.0.1:${agent.metricsAddress.port}/metrics`);
  return parseExposition(await response.text());
}

function address(agent: Agent, transport: Transport): string {
  return (transport === "grpc" ? agent.otlpAddresses.grpc : agent.otlpAddresses.http) as string;
}

const VLLM_POD: NodePod = {
  namespace: "serving",
  name: "vllm-llama-0",
  uid: "uid-1",
  ips: ["127.0.0.1"],
  isHostNetwork: false,
};

describe.each(["grpc", "http/protobuf"] as const)("a stock vLLM V1 exporting over %s", (transport) => {
  it("is attributed to the model its pod's label names, found by the connection's peer address", async () => {
    const agent = await agentWith([{ ...VLLM_POD, model: "llama-3.1-8b" }]);
    await sendSpans(transport, address(agent, transport), vllmDefaultResource(), [
      vllmV1Span("stop", "a000000000000001"),
      vllmV1Span("error", "a000000000000002"),
    ]);
    const labels = { model: "llama-3.1-8b", runtime: "vllm", namespace: "serving", pod: "vllm-llama-0" };
    await scrapeUntil(
      agent,
      (series) => valueOf(series, "inferwatch_llm_requests_total", { ...labels, status: "ok" }) === 1,
    );
    const series = await scrape(agent);
    expect(valueOf(series, "inferwatch_llm_requests_total", { ...labels, status: "error" })).toBe(1);
    expect(find(series, "inferwatch_llm_requests_total", { model: "unknown_service" })).toEqual([]);
    expect(find(series, "inferwatch_llm_unattributed_spans_total")).toEqual([]);
  });

  it("takes the model its pod's runtime page reports when the pod has no label, under the same labels as that page's gauges", async () => {
    const page = await vllmPage();
    const agent = await agentWith([VLLM_POD], [{ url: page, namespace: "serving", pod: "vllm-llama-0" }]);
    await scrapeUntil(agent, (series) => valueOf(series, "inferwatch_runtime_scrape_up", { target: page }) === 1);
    await sendSpans(transport, address(agent, transport), vllmDefaultResource(), [vllmV1Span()]);
    const labels = {
      model: "llama-3.1-8b",
      runtime: "vllm",
      namespace: "serving",
      pod: "vllm-llama-0",
      node: "gpu-node-1",
      tier: "default",
    };
    await scrapeUntil(
      agent,
      (series) => valueOf(series, "inferwatch_llm_requests_total", { ...labels, status: "ok" }) !== undefined,
    );
    const series = await scrape(agent);
    // One label join: the span's series and the runtime's gauges carry the same label set.
    expect(valueOf(series, "inferwatch_llm_kv_cache_usage_ratio", labels)).toBe(0.93);
    expect(valueOf(series, "inferwatch_llm_queue_depth", labels)).toBe(7);
    expect(valueOf(series, "inferwatch_llm_request_duration_seconds_count", labels)).toBe(1);
  });
});

describe("without a pod to name the model", () => {
  it("records unknown and counts it by runtime and reason", async () => {
    const agent = await agentWith([]);
    await sendSpans("grpc", address(agent, "grpc"), vllmDefaultResource(), [vllmV1Span()]);
    await scrapeUntil(
      agent,
      (series) => valueOf(series, "inferwatch_llm_unattributed_spans_total", { runtime: "vllm" }) === 1,
    );
    const series = await scrape(agent);
    expect(
      valueOf(series, "inferwatch_llm_unattributed_spans_total", { runtime: "vllm", reason: "pod_not_on_node" }),
    ).toBe(1);
    expect(valueOf(series, "inferwatch_llm_requests_total", { model: "unknown", status: "ok" })).toBe(1);
  });

  it.each([
    ["OTEL_SERVICE_NAME", { "service.name": "llama-3.1-8b" }, { model: "llama-3.1-8b" }],
    [
      "OTEL_RESOURCE_ATTRIBUTES=k8s.pod.name=…,k8s.namespace.name=…",
      { "k8s.pod.name": "vllm-llama-0", "k8s.namespace.name": "serving" },
      { model: "llama-3.1-8b", pod: "vllm-llama-0" },
    ],
  ] as const)("is attributed with %s and no peer lookup", async (_, resource, expected) => {
    // The pod is listed without any address: only the resource can lead to it.
    const agent = await agentWith([{ ...VLLM_POD, ips: [], model: "llama-3.1-8b" }]);
    await sendSpans("http/protobuf", address(agent, "http/protobuf"), vllmDefaultResource(resource), [vllmV1Span()]);
    await scrapeUntil(agent, (series) => find(series, "inferwatch_llm_requests_total", { status: "ok" }).length > 0);
    const series = await scrape(agent);
    expect(valueOf(series, "inferwatch_llm_requests_total", { ...expected, status: "ok" })).toBe(1);
    expect(find(series, "inferwatch_llm_unattributed_spans_total")).toEqual([]);
  });
});
