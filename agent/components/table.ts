import { registerRefusalMetric } from "../../common/auth/refusals.js";
import type { AgentConfig } from "../../common/config/schema.js";
import { COLLECTORS } from "../../common/conventions.js";
import { packageVersion } from "../../common/paths.js";
import { GpuCollector, roundsPerBatch } from "../collectors/gpu-collector.js";
import type { GpuRaw } from "../nvml/types.js";
import { createHostCollector } from "../collectors/host-collector.js";
import { resolveKubeApiTarget } from "../collectors/pods/kube-pods.js";
import { createPodAttributor } from "../collectors/pods/kubelet-pod-attributor.js";
import { podModelOf } from "../collectors/pods/pod-attribution.js";
import { createPodTargetDiscovery } from "../collectors/runtimes/pod-targets.js";
import { RuntimeScraper } from "../collectors/runtimes/runtime-scraper.js";
import { registerGpuMetrics } from "../exporters/gpu-metrics.js";
import { registerHostMetrics } from "../exporters/host-metrics.js";
import { registerLlmMetrics } from "../exporters/llm-metrics.js";
import { registerOtlpMetrics } from "../exporters/otlp-metrics.js";
import { registerRuntimeMetrics } from "../exporters/runtime-metrics.js";
import { registerSelfMetrics } from "../exporters/self-metrics.js";
import { buildSnapshot } from "../exporters/snapshot.js";
import { WorkerNvmlClient } from "../nvml/worker-nvml-client.js";
import { allowedResourceAttributes, allowedSpanAttributes } from "../profiles/span-profiles.js";
import { SpanMetricsProcessor } from "../processors/span-metrics-processor.js";
import { createOtlpReceivers } from "../receivers/otlp-receivers.js";
import { roundsPerPeriod, Sampler } from "../sampler.js";
import { COMPONENT_LIFECYCLE, requireService, type AgentContext, type AnyAgentComponent } from "./context.js";
import { createMetricsListener } from "./metrics-listener.js";

/** The Kubernetes API the runtime discovery lists pods from, when it runs at all. */
function discoveryApi(config: AgentConfig): ReturnType<typeof resolveKubeApiTarget> | undefined {
  const { runtimes, pods } = config;
  if (!runtimes.enabled || !pods.enabled || (runtimes.podPort <= 0 && runtimes.portAnnotations.length === 0))
    return undefined;
  return resolveKubeApiTarget(pods.kubeApi);
}

/** A child logger named after the component. */
const logOf = (context: AgentContext, component: string) => context.log.child({ component });

/**
 * The agent's components, in lifecycle order: created and started top to bottom, stopped bottom to
 * top. Adding a component is adding one entry here (and its type to AgentServices). The sampler is
 * last: it runs what the entries above it schedule, starts once every listener is up and stops first.
 */
export const AGENT_COMPONENTS: readonly AnyAgentComponent[] = [
  {
    // Loaded only when configured: the OpenTelemetry SDK is most of the agent's memory after Node itself.
    name: "self-tracing",
    enabled: ({ config }) => config.selfTraces.endpoint !== "",
    create: async ({ config, node }) =>
      (await import("../self-tracing.js")).createSelfTracing(config.selfTraces.endpoint, node, packageVersion()),
    ...COMPONENT_LIFECYCLE,
  },
  {
    name: "pods",
    enabled: ({ config, deps }) => deps.podAttributor !== undefined || config.pods.enabled,
    create: (context) =>
      context.deps.podAttributor ?? createPodAttributor(context.config.pods, context.node, logOf(context, "pods")),
    ...COMPONENT_LIFECYCLE,
  },
  {
    name: "gpu",
    enabled: () => true,
    create: (context) => {
      const { config, deps } = context;
      const pods = context.services.pods;
      return new GpuCollector({
        client:
          deps.nvml ??
          new WorkerNvmlClient({
            library: config.nvml.library,
            initTimeoutMs: config.nvml.initTimeout,
            sampleTimeoutMs: config.nvml.sampleTimeout,
            maxBackoffMs: config.nvml.gpuMaxBackoff,
            isGpmEnabled: config.nvml.gpm,
          }),
        retryIntervalMs: config.nvml.retryInterval,
        log: logOf(context, "gpu"),
        attribution: () => context.attribution(),
        pidLookup: pods ? (pid) => pods.containerOfPid(pid) : () => undefined,
        now: context.now,
      });
    },
    schedule: (gpu, context) => {
      const intervalMs = context.config.interval;
      const rounds = roundsPerBatch(intervalMs);
      // The processes of the last round are matched to their containers before the next round is converted.
      const resolvePids = async (
        samples: readonly { readonly processes?: readonly { readonly pid: number }[] }[],
      ): Promise<void> => {
        const pods = context.services.pods;
        if (pods) await pods.resolvePids(samples.flatMap((sample) => (sample.processes ?? []).map((p) => p.pid)));
      };
      return {
        name: COLLECTORS.gpu,
        intervalMs,
        consumers: context.gpuRoundConsumers,
        async run() {
          const result = await gpu.collect();
          await resolvePids(result.samples);
          return result;
        },
        batch: {
          rounds,
          async run(onRound) {
            let last: readonly GpuRaw[] = [];
            await gpu.collectRounds(rounds, intervalMs, (result, durationMs, takenAtMs) => {
              last = result.samples;
              onRound(result, durationMs, takenAtMs);
            });
            await resolvePids(last);
          },
        },
        abort: async () => gpu.cancelRounds(),
      };
    },
    metrics: (registry, gpu, { node, onMetricError }) =>
      registerGpuMetrics(registry, node, () => gpu.view(), onMetricError),
    ...COMPONENT_LIFECYCLE,
  },
  {
    name: "host",
    enabled: ({ config }) => config.host.enabled,
    create: ({ config }) => createHostCollector(config.host),
    schedule: (host, { config }) => ({
      name: COLLECTORS.host,
      intervalMs: config.host.interval,
      run: () => host.collect(),
    }),
    metrics: (registry, host, { node, onMetricError }) =>
      registerHostMetrics(registry, { node }, () => host.latest(), onMetricError),
    ...COMPONENT_LIFECYCLE,
  },
  {
    // Created before the span pipeline, which asks it for the models of a pod; it hands the span
    // series store the runtimes' own request counts once that exists.
    name: "runtimes",
    enabled: ({ config }) =>
      config.runtimes.enabled && (config.runtimes.targets.length > 0 || discoveryApi(config) !== undefined),
    create: (context) => {
      const { config } = context;
      const kubeApi = discoveryApi(config);
      const discovery =
        kubeApi &&
        createPodTargetDiscovery({
          kubeApi,
          nodeName: context.node,
          runtimes: config.runtimes,
          pods: config.pods,
          log: logOf(context, "runtimes"),
          holdsGpu: (namespace, pod) => podModelOf(context.attribution(), namespace, pod, true) !== undefined,
        });
      return new RuntimeScraper({
        config: config.runtimes,
        tiers: config.spans,
        log: logOf(context, "runtimes"),
        podModel: (namespace, pod) => podModelOf(context.attribution(), namespace, pod),
        requestCounts: (labels, increments, atMs) =>
          context.services.spans?.store.recordRuntimeCounts(labels, increments, atMs),
        ...(discovery ? { discovery } : {}),
      });
    },
    // Aborting the scrapes in flight keeps the sampler from waiting out their timeout at shutdown.
    schedule: (runtimes, { config }) => ({
      name: runtimes.name,
      intervalMs: config.runtimes.interval,
      run: () => runtimes.collect(),
      abort: () => runtimes.shutdown(),
    }),
    metrics: (registry, runtimes, { node, onMetricError }) =>
      registerRuntimeMetrics(
        registry,
        node,
        () => runtimes.view(),
        onMetricError,
        () => ({ series: runtimes.seriesCount, overflowed: runtimes.overflowed }),
      ),
    ...COMPONENT_LIFECYCLE,
  },
  {
    // The OpenTelemetry SDK is loaded only when forwarding is on (see self-tracing above).
    name: "forwarder",
    enabled: ({ config }) => config.forward.endpoint !== "",
    create: async (context) => {
      const { createSpanExporter, OtlpForwarder } = await import("../exporters/otlp-forward.js");
      return new OtlpForwarder(
        context.config.forward,
        createSpanExporter(context.config.forward),
        logOf(context, "otlp-forward"),
      );
    },
    ...COMPONENT_LIFECYCLE,
  },
  {
    name: "spans",
    enabled: () => true,
    create: (context) => {
      const { runtimes, forwarder } = context.services;
      return new SpanMetricsProcessor({
        config: context.config.spans,
        attribution: () => context.attribution(),
        log: logOf(context, "spans"),
        now: context.now,
        ...(runtimes
          ? { runtimeModels: (namespace: string, pod: string) => runtimes.modelsOfPod(namespace, pod) }
          : {}),
        ...(forwarder ? { next: forwarder } : {}),
      });
    },
    metrics: (registry, spans, context) => {
      const { node, onMetricError } = context;
      registerLlmMetrics(
        registry,
        node,
        spans.store,
        () => spans.outcomes,
        onMetricError,
        () => spans.unattributed.list(),
      );
      registerOtlpMetrics(
        registry,
        node,
        { admission: context.admission, forwarder: context.services.forwarder },
        onMetricError,
      );
    },
    // Holds series in memory only: nothing to start or stop.
    start: async () => {},
    stop: async () => {},
  },
  {
    // The sink (and the `influx` package) is loaded only when agent.influx.url is set. The sampler
    // hands it every Nth GPU round (N = flush interval ÷ sampling interval), each once.
    name: "influx",
    enabled: ({ config }) => config.influx.url !== "",
    create: async (context) => {
      const { config, node, now } = context;
      const gpu = requireService(context, "gpu", "influx");
      const spans = requireService(context, "spans", "influx");
      const { InfluxSink } = await import("../exporters/influx-sink.js");
      const influx = new InfluxSink({
        config: config.influx,
        node,
        log: logOf(context, "influx"),
        sources: { requests: spans.store },
        now,
      });
      context.gpuRoundConsumers.push({
        every: roundsPerPeriod(config.influx.flushInterval, config.interval),
        consume: () => influx.takeRound(gpu.view()),
      });
      return influx;
    },
    metrics: (registry, influx, { onMetricError }) => influx.registerMetrics(registry, onMetricError),
    ...COMPONENT_LIFECYCLE,
  },
  {
    name: "metrics",
    enabled: () => true,
    create: (context) => {
      const gpu = requireService(context, "gpu", "metrics");
      return createMetricsListener({
        address: context.config.metricsAddr,
        log: context.log,
        tls: context.deps.security?.tlsFor("metrics"),
        refusals: context.refusals,
        registries: context.registries,
        isReady: () => context.readiness.isReady,
        snapshot: () =>
          buildSnapshot(
            context.node,
            gpu.view(),
            context.services.host?.latest(),
            context.attribution(),
            context.now(),
          ),
      });
    },
    metrics: (registry, _listener, { refusals, onMetricError }) =>
      registerRefusalMetric(registry, refusals, onMetricError),
    ...COMPONENT_LIFECYCLE,
  },
  {
    name: "otlp",
    enabled: ({ config }) => config.otlp.enabled,
    create: (context) => {
      const allowed = new Set([...allowedSpanAttributes(), ...allowedResourceAttributes()]);
      const security = context.deps.security;
      return createOtlpReceivers(
        {
          config: context.config.otlp,
          filter: (key: string) => allowed.has(key),
          consumer: requireService(context, "spans", "otlp"),
          log: logOf(context, "otlp"),
          admission: context.admission,
          refusals: context.refusals,
        },
        {
          http: { tls: security?.tlsFor("otlp-http"), auth: security?.auth },
          grpc: { tls: security?.tlsFor("otlp-grpc"), auth: security?.auth },
        },
      );
    },
    ...COMPONENT_LIFECYCLE,
  },
  {
    name: "sampler",
    enabled: () => true,
    create: (context) => {
      const sampler = new Sampler(context.scheduled, logOf(context, "sampler"), context.now);
      void sampler.firstRound.then(() => {
        context.readiness.isReady = true;
      });
      return sampler;
    },
    metrics: (registry, sampler, context) => {
      const { node, now, onMetricError } = context;
      const attribution = context.services.pods ? () => context.attribution() : undefined;
      registerSelfMetrics(
        registry,
        { node, version: packageVersion(), stats: () => sampler.stats(), attribution, now },
        onMetricError,
      );
    },
    ...COMPONENT_LIFECYCLE,
  },
];
