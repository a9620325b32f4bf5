import { Registry } from "prom-client";
import type { AgentConfig } from "../common/config/schema.js";
import { COLLECTORS } from "../common/conventions.js";
import { errorMessage } from "../common/errors.js";
import { json, startHttpServer, text, type RouteHandler, type RunningServer } from "../common/http-server.js";
import type { Logger } from "../common/log.js";
import { packageVersion } from "../common/paths.js";
import { GpuCollector, noAttribution } from "./collectors/gpu-collector.js";
import { createHostCollector, type HostSample } from "./collectors/host-collector.js";
import { createPodAttributor } from "./collectors/pods/kubelet-pod-attributor.js";
import type { PodAttributor } from "./collectors/pods/pod-attribution.js";
import { registerGpuMetrics } from "./exporters/gpu-metrics.js";
import { registerHostMetrics } from "./exporters/host-metrics.js";
import type { FillErrorHandler } from "./exporters/metric-factory.js";
import { registerSelfMetrics } from "./exporters/self-metrics.js";
import { buildSnapshot } from "./exporters/snapshot.js";
import type { NvmlClient } from "./nvml/nvml-client.js";
import { WorkerNvmlClient } from "./nvml/worker-nvml-client.js";
import { Sampler, type ScheduledCollector } from "./sampler.js";

/** Things the agent can be given instead of building them (the simulator passes its own NVML). */
export interface AgentDeps {
  readonly nvml?: NvmlClient;
  readonly podAttributor?: PodAttributor;
  readonly now?: () => number;
}

/** A running agent. */
export interface Agent {
  readonly metricsAddress: { readonly host: string; readonly port: number };
  readonly gpu: GpuCollector;
  readonly sampler: Sampler;
  /** Stops sampling, closes NVML and the listener. Idempotent. */
  shutdown(): Promise<void>;
  /** True when an NVML call hung and still runs: its thread keeps a normal exit waiting until it returns. */
  hasStuckNvmlCall(): boolean;
}

/** Whether a scraper asked for OpenMetrics (needed for exemplars). */
function wantsOpenMetrics(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes("application/openmetrics-text");
}

/**
 * Starts the agent: NVML sampling on a worker thread, host and pod collectors on their own timers,
 * and one HTTP listener with /metrics (Prometheus text or OpenMetrics), /v1/snapshot, /healthz and
 * /readyz. Every scrape reads the latest samples and never calls NVML or the kubelet.
 */
export async function startAgent(config: AgentConfig, log: Logger, deps: AgentDeps = {}): Promise<Agent> {
  const now = deps.now ?? Date.now;
  const node = config.nodeName;
  const nvml = deps.nvml ?? new WorkerNvmlClient({
    library: config.nvml.library, initTimeoutMs: config.nvml.initTimeout, sampleTimeoutMs: config.nvml.sampleTimeout, maxBackoffMs: config.nvml.gpuMaxBackoff,
  });
  const pods = deps.podAttributor ?? (config.pods.enabled ? createPodAttributor(config.pods, node, log.child({ component: "pods" })) : undefined);
  const attribution = pods ? () => pods.current() : noAttribution;
  const gpu = new GpuCollector({
    client: nvml, retryIntervalMs: config.nvml.retryInterval, log: log.child({ component: "gpu" }), attribution,
    pidLookup: pods ? (pid) => pods.containerOfPid(pid) : () => undefined, now,
  });

  let latestHost: HostSample | undefined;
  const scheduled: ScheduledCollector[] = [{
    name: COLLECTORS.gpu,
    intervalMs: config.interval,
    async run() {
      const result = await gpu.collect();
      if (pods) await pods.resolvePids(result.samples.flatMap((sample) => (sample.processes ?? []).map((p) => p.pid)));
      return result;
    },
  }];
  const host = config.host.enabled ? createHostCollector(config.host) : undefined;
  if (host) {
    scheduled.push({
      name: COLLECTORS.host,
      intervalMs: config.host.interval,
      async run() {
        const result = await host.collect();
        latestHost = result.samples.at(-1) ?? latestHost;
        return result;
      },
    });
  }
  const sampler = new Sampler(scheduled, log.child({ component: "sampler" }), now);

  const onError: FillErrorHandler = (metric, err) => log.error({ metric, err: errorMessage(err) }, "metric fill failed; series omitted from this scrape");
  const openMetrics = new Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>();
  openMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const registries = { prometheus: new Registry(), openMetrics: openMetrics as unknown as Registry };
  // prom-client renames counters in place when rendering OpenMetrics, so each format has its own registry.
  for (const registry of [registries.prometheus, registries.openMetrics]) {
    registerGpuMetrics(registry, node, () => gpu.view(), onError);
    if (host) registerHostMetrics(registry, { node }, () => latestHost, onError);
    registerSelfMetrics(registry, { node, version: packageVersion(), stats: () => sampler.stats(), attribution: pods ? attribution : undefined, now }, onError);
  }

  let isReady = false;
  const routes: Record<string, RouteHandler> = {
    "/metrics": async (request) => {
      const registry = wantsOpenMetrics(request.headers.accept) ? registries.openMetrics : registries.prometheus;
      return { status: 200, contentType: registry.contentType, body: await registry.metrics() };
    },
    "/v1/snapshot": () => json(200, buildSnapshot(node, gpu.view(), latestHost, attribution(), now())),
    "/healthz": () => text(200, "ok\n"),
    "/readyz": () => (isReady ? text(200, "ready\n") : text(503, "starting\n")),
  };

  await pods?.start();
  await gpu.start();
  await host?.start();
  let server: RunningServer;
  try {
    server = await startHttpServer({ name: "metrics", address: config.metricsAddr, routes, log });
  } catch (err) {
    await Promise.allSettled([pods?.shutdown(), gpu.shutdown(), host?.shutdown()]);
    throw new Error(`agent: cannot listen on ${config.metricsAddr.host}:${config.metricsAddr.port}`, { cause: err });
  }
  await sampler.start();
  void sampler.firstRound.then(() => {
    isReady = true;
  });

  let stopping: Promise<void> | undefined;
  return {
    metricsAddress: { host: server.address.address, port: server.address.port },
    gpu,
    sampler,
    hasStuckNvmlCall: () => nvml.hasStuckCall(),
    shutdown() {
      stopping ??= (async () => {
        await sampler.shutdown();
        await server.close();
        await Promise.allSettled([pods?.shutdown(), gpu.shutdown(), host?.shutdown()]);
      })();
      return stopping;
    },
  };
}
