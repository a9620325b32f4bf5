import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  createPodTargetDiscovery,
  parseDiscoveryPods,
  podTargets,
  type DiscoveredPod,
} from "../../../agent/collectors/runtimes/pod-targets.js";
import { RuntimeScraper } from "../../../agent/collectors/runtimes/runtime-scraper.js";
import { agentConfigSchema } from "../../../common/config/schema.js";
import { silentLogger } from "../../../common/log.js";
import { FakeKubeApi } from "../../fixtures/fake-kubelet.js";

const config = agentConfigSchema.parse({ runtimes: { podRelistInterval: "60s", timeout: "1s" } });
const gpuPods = new Set(["serving/vllm-0", "serving/tgi-0", "serving/v6", "serving/bad", "serving/plain"]);
const holdsGpu = (namespace: string, pod: string) => gpuPods.has(`${namespace}/${pod}`);

function pod(
  name: string,
  annotations: Record<string, string> = {},
  labels: Record<string, string> = {},
  ip = "10.1.2.3",
): DiscoveredPod {
  return { namespace: "serving", name, ip, annotations, labels };
}

describe("runtime targets from this node's pods", () => {
  it("scrapes annotated GPU pods on their annotated port and path, with the pod's model", () => {
    const targets = podTargets(
      [
        pod("vllm-0", { "prometheus.io/port": "8000" }, { "inferwatch.io/model": "llama-3-8b" }),
        pod("tgi-0", {
          "inferwatch.io/metrics-port": "9000",
          "prometheus.io/port": "80",
          "prometheus.io/path": "stats/metrics",
        }),
        pod("v6", { "prometheus.io/port": "8000" }, {}, "fd00::5"),
      ],
      config.runtimes,
      config.pods,
      holdsGpu,
    );
    expect(targets).toEqual([
      { url: "http://10.1.2.3:8000/metrics", namespace: "serving", pod: "vllm-0", model: "llama-3-8b" },
      { url: "http://10.1.2.3:9000/stats/metrics", namespace: "serving", pod: "tgi-0" },
      { url: "http://[fd00::5]:8000/metrics", namespace: "serving", pod: "v6" },
    ]);
  });

  it("leaves pods without a GPU, without a port and with a nonsense port alone", () => {
    const targets = podTargets(
      [
        pod("node-exporter", { "prometheus.io/port": "9100" }),
        pod("plain"),
        pod("bad", { "prometheus.io/port": "http" }),
      ],
      config.runtimes,
      config.pods,
      holdsGpu,
    );
    expect(targets).toEqual([]);
  });

  it("falls back to the configured port for GPU pods without an annotation", () => {
    const targets = podTargets(
      [pod("plain"), pod("node-exporter")],
      { ...config.runtimes, podPort: 8000 },
      config.pods,
      holdsGpu,
    );
    expect(targets.map((t) => t.url)).toEqual(["http://10.1.2.3:8000/metrics"]);
  });

  it("keeps only running pods that have an IP", () => {
    const pods = parseDiscoveryPods({
      items: [
        { metadata: { name: "a", namespace: "n" }, status: { phase: "Running", podIP: "10.0.0.1" } },
        { metadata: { name: "b", namespace: "n" }, status: { phase: "Pending" } },
        { metadata: { name: "c", namespace: "n" }, status: { phase: "Succeeded", podIP: "10.0.0.3" } },
      ],
    });
    expect(pods.map((p) => p.name)).toEqual(["a"]);
    expect(() => parseDiscoveryPods({ items: "nope" })).toThrow(/unexpected PodList/);
  });
});

describe("pod discovery against a Kubernetes API", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("lists this node's pods with the service-account token, scrapes the annotated runtime and keeps the last list when the API fails", async () => {
    const runtime: Server = createServer((_, response) =>
      response.end('vllm:num_requests_waiting{model_name="served-name"} 5\n'),
    );
    await new Promise<void>((resolve) => runtime.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise((resolve) => runtime.close(() => resolve())));
    const port = (runtime.address() as AddressInfo).port;

    const api = new FakeKubeApi();
    api.items = [
      {
        metadata: {
          namespace: "serving",
          name: "vllm-0",
          uid: "u1",
          annotations: { "inferwatch.io/metrics-port": String(port) },
          labels: { "inferwatch.io/model": "llama-3-8b" },
        },
        status: { phase: "Running", podIP: "127.0.0.1" },
      },
    ];
    const url = await api.start();
    cleanups.push(() => api.stop());
    const dir = await mkdtemp(join(tmpdir(), "inferwatch-discovery-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, "token"), "s3cret\n");

    let nowMs = 0;
    const discovery = createPodTargetDiscovery({
      kubeApi: { url, tokenFile: join(dir, "token"), caFile: join(dir, "ca.crt") },
      nodeName: "gpu-node-1",
      runtimes: config.runtimes,
      pods: config.pods,
      holdsGpu,
      log: silentLogger(),
      now: () => nowMs,
    });
    const scraper = new RuntimeScraper({
      config: config.runtimes,
      tiers: config.spans,
      log: silentLogger(),
      discovery,
    });
    cleanups.push(() => scraper.shutdown());

    const first = await scraper.collect();
    expect(first.errors).toEqual([]);
    expect(api.requests).toHaveLength(1);
    expect(api.requests[0]?.url).toContain("fieldSelector=spec.nodeName%3Dgpu-node-1");
    expect(api.requests[0]?.headers["authorization"]).toBe("Bearer s3cret");
    const [state] = scraper.view();
    expect(state).toMatchObject({ url: `http://127.0.0.1:${port}/metrics`, isUp: true, runtime: "vllm" });
    // The pod's model label wins over the runtime's served name, as configuration does.
    expect(state?.series[0]).toMatchObject({
      labels: { model: "llama-3-8b", namespace: "serving", pod: "vllm-0", runtime: "vllm" },
      gauges: { queueDepth: 5 },
    });

    nowMs += 30_000;
    await scraper.collect();
    expect(api.requests).toHaveLength(1); // within the relist interval

    await api.stop();
    nowMs += 60_000;
    await scraper.collect();
    expect(scraper.view()[0]).toMatchObject({ isUp: true, series: [{ gauges: { queueDepth: 5 } }] });
  });
});
