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
import type { PodAttribution, PodAttributor } from "./collectors/pods/pod-attribution.js";
import { registerGpuMetrics } from "./exporters/gpu-metrics.js";
import { registerHostMetrics } from "./exporters/host-metrics.js";
import type { FillErrorHandler } from "../common/metric-factory.js";
import { Refusals, registerRefusalMetric } from "../common/auth/refusals.js";
import type { Security } from "../common/auth/security.js";
import { registerSelfMetrics } from "./exporters/self-metrics.js";
import { buildSnapshot } from "./exporters/snapshot.js";
import type { NvmlClient } from "./nvml/nvml-client.js";
import { WorkerNvmlClient } from "./nvml/worker-nvml-client.js";
import { roundsPerPeriod, Sampler, type RoundConsumer, type ScheduledCollector } from "./sampler.js";
import { registerLlmMetrics } from "./exporters/llm-metrics.js";
import { RuntimeScraper } from "./collectors/runtimes/runtime-scraper.js";
import { createPodTargetDiscovery } from "./collectors/runtimes/pod-targets.js";
import { resolveKubeApiTarget } from "./collectors/pods/kube-pods.js";
import { registerRuntimeMetrics } from "./exporters/runtime-metrics.js";
import type { OtlpForwarder } from "./exporters/otlp-forward.js";
import { registerOtlpMetrics } from "./exporters/otlp-metrics.js";
import { allowedResourceAttributes, allowedSpanAttributes } from "./processors/profiles/index.js";
import { SpanMetricsProcessor } from "./processors/span-metrics-processor.js";
import { createAdmission } from "./receivers/admission.js";
import { startOtlpGrpcReceiver } from "./receivers/otlp-grpc-receiver.js";
import { startOtlpHttpReceiver } from "./receivers/otlp-http-receiver.js";
import type { RunningReceiver } from "./receivers/otlp-responses.js";

/** Things the agent can be given instead of building them (the simulator passes its own NVML). */
export interface AgentDeps {
  readonly nvml?: NvmlClient;
  readonly podAttributor?: PodAttributor;
  readonly now?: () => number;
  /** TLS of the listeners and OTLP ingest tokens (common/auth/security.ts); plain and open when absent. */
  readonly security?: Security;
}

/** A running agent. */
export interface Agent {
  readonly metricsAddress: { readonly host: string; readonly port: number };
  /** Bound OTLP addresses, when the receivers run. */
  readonly otlpAddresses: { readonly http?: string; readonly grpc?: string };
  readonly spans: SpanMetricsProcessor;
  readonly gpu: GpuCollector;
  readonly sampler: Sampler;
  /** Stops sampling, closes NVML and the listener. Idempotent. */
  shutdown(): Promise<void>;
  /** True when an NVML call hung and still runs: its thread keeps a normal exit waiting until it returns. */
  hasStuckNvmlCall(): boolean;
}

/**
 * The model of a pod holding a GPU on this node, from the attribution; undefined when unknown.
 * With `isAnyHolder`, "" for a holder whose model is unknown (so the caller learns it holds a GPU).
 */
function podModelOf(attribution: PodAttribution, namespace: string, pod: string, isAnyHolder = false): string | undefined {
  for (const refs of attribution.byDevice.values()) {
    for (const ref of refs) {
      if (ref.pod !== pod || (namespace !== "" && ref.namespace !== namespace)) continue;
      if (ref.model !== undefined) return ref.model;
      if (isAnyHolder) return "";
    }
  }
  return undefined;
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
    isGpmEnabled: config.nvml.gpm,
  });
  const pods = deps.podAttributor ?? (config.pods.enabled ? createPodAttributor(config.pods, node, log.child({ component: "pods" })) : undefined);
  const attribution = pods ? () => pods.current() : noAttribution;
  const gpu = new GpuCollector({
    client: nvml, retryIntervalMs: config.nvml.retryInterval, log: log.child({ component: "gpu" }), attribution,
    pidLookup: pods ? (pid) => pods.containerOfPid(pid) : () => undefined, now,
  });

  let latestHost: HostSample | undefined;
  /** Takers of every Nth GPU round (the InfluxDB sink, added once it exists). */
  const gpuRoundConsumers: RoundConsumer[] = [];
  const scheduled: ScheduledCollector[] = [{
    name: COLLECTORS.gpu,
    intervalMs: config.interval,
    consumers: gpuRoundConsumers,
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
  const kubeApi = config.runtimes.enabled && config.pods.enabled ? resolveKubeApiTarget(config.pods.kubeApi) : undefined;
  const discovery = kubeApi && (config.runtimes.podPort > 0 || config.runtimes.portAnnotations.length > 0)
    ? createPodTargetDiscovery({
      kubeApi, nodeName: node, runtimes: config.runtimes, pods: config.pods, log: log.child({ component: "runtimes" }),
      holdsGpu: (namespace, pod) => podModelOf(attribution(), namespace, pod, true) !== undefined,
    })
    : undefined;
  // The span series store takes the runtimes' own request counts; it exists before the scraper runs.
  let spans: SpanMetricsProcessor | undefined;
  const runtimes = config.runtimes.enabled && (config.runtimes.targets.length > 0 || discovery)
    ? new RuntimeScraper({
      config: config.runtimes, tiers: config.spans, log: log.child({ component: "runtimes" }), podModel: (namespace, pod) => podModelOf(attribution(), namespace, pod),
      requestCounts: (labels, increments, atMs) => spans?.store.recordRuntimeCounts(labels, increments, atMs),
      ...(discovery ? { discovery } : {}),
    })
    : undefined;
  if (runtimes) scheduled.push({ name: runtimes.name, intervalMs: config.runtimes.interval, run: () => runtimes.collect() });
  const sampler = new Sampler(scheduled, log.child({ component: "sampler" }), now);

  // The OpenTelemetry SDK is loaded only when forwarding or self-tracing is on: it is most of the
  // agent's resident memory after Node itself (see the RSS benchmark).
  let forwarder: OtlpForwarder | undefined;
  if (config.forward.endpoint !== "") {
    const { createSpanExporter, OtlpForwarder: Forwarder } = await import("./exporters/otlp-forward.js");
    forwarder = new Forwarder(config.forward, createSpanExporter(config.forward), log.child({ component: "otlp-forward" }));
  }
  spans = new SpanMetricsProcessor({
    config: config.spans, attribution, log: log.child({ component: "spans" }), now,
    ...(runtimes ? { runtimeModels: (namespace: string, pod: string) => runtimes.modelsOfPod(namespace, pod) } : {}),
    ...(forwarder ? { next: forwarder } : {}),
  });
  const spanStore = spans;
  // The InfluxDB sink (and the `influx` package) is loaded only when agent.influx.url is set.
  const influx = config.influx.url === ""
    ? undefined
    : new (await import("./exporters/influx-sink.js")).InfluxSink({ config: config.influx, node, log: log.child({ component: "influx" }), sources: { requests: spanStore.store }, now });
  // The sampler hands the sink every Nth GPU round (N = flush interval ÷ sampling interval), each once.
  if (influx) gpuRoundConsumers.push({ every: roundsPerPeriod(config.influx.flushInterval, config.interval), consume: () => influx.takeRound(gpu.view()) });
  const admission = createAdmission(config.otlp.maxInflightBytes);
  const refusals = new Refusals(log.child({ component: "listeners" }));

  const onError: FillErrorHandler = (metric, err) => log.error({ metric, err: errorMessage(err) }, "metric fill failed; series omitted from this scrape");
  const openMetrics = new Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>();
  openMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const registries = { prometheus: new Registry(), openMetrics: openMetrics as unknown as Registry };
  // prom-client renames counters in place when rendering OpenMetrics, so each format has its own registry.
  for (const registry of [registries.prometheus, registries.openMetrics]) {
    registerGpuMetrics(registry, node, () => gpu.view(), onError);
    if (host) registerHostMetrics(registry, { node }, () => latestHost, onError);
    registerSelfMetrics(registry, { node, version: packageVersion(), stats: () => sampler.stats(), attribution: pods ? attribution : undefined, now }, onError);
    registerLlmMetrics(registry, node, spanStore.store, () => spanStore.outcomes, onError, () => spanStore.unattributed.list());
    registerOtlpMetrics(registry, node, { admission, forwarder }, onError);
    registerRefusalMetric(registry, refusals, onError);
    influx?.registerMetrics(registry, onError);
    if (runtimes) registerRuntimeMetrics(registry, node, () => runtimes.view(), onError, () => ({ series: runtimes.seriesCount, overflowed: runtimes.overflowed }));
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

  const selfTracing = config.selfTraces.endpoint === ""
    ? undefined
    : (await import("./self-tracing.js")).createSelfTracing(config.selfTraces.endpoint, node, packageVersion());
  const listeners: (RunningServer | RunningReceiver)[] = [];
  const stopComponents = () => Promise.allSettled([pods?.shutdown(), gpu.shutdown(), host?.shutdown(), runtimes?.shutdown(), forwarder?.shutdown(), influx?.shutdown(), selfTracing?.shutdown()]);
  let server: RunningServer;
  const otlpAddresses: { http?: string; grpc?: string } = {};
  try {
    await selfTracing?.start();
    await pods?.start();
    await gpu.start();
    await host?.start();
    await forwarder?.start();
    await influx?.start();
    server = await startHttpServer({ name: "metrics", address: config.metricsAddr, routes, log, tls: deps.security?.tlsFor("metrics"), refusals });
    listeners.push(server);
    if (config.otlp.enabled) {
      const allowed = new Set([...allowedSpanAttributes(), ...allowedResourceAttributes()]);
      const receiverOptions = { config: config.otlp, filter: (key: string) => allowed.has(key), consumer: spanStore, log: log.child({ component: "otlp" }), admission, refusals };
      const http = await startOtlpHttpReceiver({ ...receiverOptions, security: { tls: deps.security?.tlsFor("otlp-http"), auth: deps.security?.auth } });
      listeners.push(http);
      otlpAddresses.http = `${http.address.address}:${http.address.port}`;
      const grpc = await startOtlpGrpcReceiver({ ...receiverOptions, security: { tls: deps.security?.tlsFor("otlp-grpc"), auth: deps.security?.auth } });
      listeners.push(grpc);
      otlpAddresses.grpc = `${grpc.address.address}:${grpc.address.port}`;
    }
  } catch (err) {
    await Promise.allSettled(listeners.map((listener) => listener.close()));
    await stopComponents();
    throw new Error(`agent: cannot start: ${errorMessage(err)}`, { cause: err });
  }
  await sampler.start();
  void sampler.firstRound.then(() => {
    isReady = true;
  });

  let stopping: Promise<void> | undefined;
  return {
    metricsAddress: { host: server.address.address, port: server.address.port },
    otlpAddresses,
    spans: spanStore,
    gpu,
    sampler,
    hasStuckNvmlCall: () => nvml.hasStuckCall(),
    shutdown() {
      stopping ??= (async () => {
        await runtimes?.shutdown(); // aborts runtime scrapes in flight, so the sampler does not wait out their timeout
        await sampler.shutdown();
        await Promise.allSettled(listeners.map((listener) => listener.close()));
        await stopComponents();
      })();
      return stopping;
    },
  };
}
