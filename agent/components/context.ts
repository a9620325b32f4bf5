import type { Registry } from "prom-client";
import type { Refusals } from "../../common/auth/refusals.js";
import type { Security } from "../../common/auth/security.js";
import type { Component } from "../../common/component.js";
import type { AgentConfig } from "../../common/config/schema.js";
import type { Logger } from "../../common/log.js";
import type { FillErrorHandler } from "../../common/metric-factory.js";
import type { GpuCollector } from "../collectors/gpu-collector.js";
import type { HostCollector } from "../collectors/host-collector.js";
import type { PodAttribution, PodAttributor } from "../collectors/pods/pod-attribution.js";
import type { RuntimeScraper } from "../collectors/runtimes/runtime-scraper.js";
import type { InfluxSink } from "../exporters/influx-sink.js";
import type { OtlpForwarder } from "../exporters/otlp-forward.js";
import type { NvmlClient } from "../nvml/nvml-client.js";
import type { SpanMetricsProcessor } from "../processors/span-metrics-processor.js";
import type { Admission } from "../receivers/admission.js";
import type { OtlpReceivers } from "../receivers/otlp-receivers.js";
import type { RoundConsumer, Sampler, ScheduledCollector } from "../sampler.js";
import type { AgentRegistries, MetricsListener } from "./metrics-listener.js";

/** Things the agent can be given instead of building them (the simulator passes its own NVML). */
export interface AgentDeps {
  readonly nvml?: NvmlClient;
  readonly podAttributor?: PodAttributor;
  readonly now?: () => number;
  /** TLS of the listeners and OTLP ingest tokens (common/auth/security.ts); plain and open when absent. */
  readonly security?: Security;
}

/** What each agent component is, by its name in the table (agent/components/table.ts). */
export interface AgentServices {
  "self-tracing": Component;
  pods: PodAttributor;
  gpu: GpuCollector;
  host: HostCollector;
  runtimes: RuntimeScraper;
  forwarder: OtlpForwarder;
  spans: SpanMetricsProcessor;
  influx: InfluxSink;
  metrics: MetricsListener;
  otlp: OtlpReceivers;
  sampler: Sampler;
}

export type { AgentRegistries } from "./metrics-listener.js";

/** A component's name: a key of {@link AgentServices}. */
export type ComponentName = keyof AgentServices;

/**
 * What a component's create() is given: the configuration, a logger, and the services the
 * components share. `services` holds the components created so far; a component may also read a
 * later one lazily (from a closure that runs after every component exists, e.g. at scrape time).
 */
export interface AgentContext {
  readonly config: AgentConfig;
  readonly log: Logger;
  readonly deps: AgentDeps;
  readonly node: string;
  readonly now: () => number;
  readonly services: Partial<AgentServices>;
  /** The GPU-to-pod mapping now (empty without a pod attributor). */
  attribution(): PodAttribution;
  /** OTLP ingest admission, shared by both receivers and counted on /metrics. */
  readonly admission: Admission;
  /** Refused connections of every listener. */
  readonly refusals: Refusals;
  readonly registries: AgentRegistries;
  readonly onMetricError: FillErrorHandler;
  /** Takers of every Nth GPU round (the InfluxDB sink adds itself). */
  readonly gpuRoundConsumers: RoundConsumer[];
  /** Collectors the sampler runs, from the components' schedule(); complete when the sampler is created. */
  readonly scheduled: ScheduledCollector[];
  /** Set once the first sampling round of every collector completed (/readyz). */
  readonly readiness: { isReady: boolean };
}

/**
 * One agent component: the single place that says when it runs, how it is built, what it samples,
 * which metrics it exposes and how it starts and stops. The lifecycle (lifecycle.ts) creates the
 * enabled ones in table order, registers their metrics, starts them in order and stops them in
 * reverse order.
 */
export interface AgentComponent<K extends ComponentName> {
  readonly name: K;
  enabled(context: AgentContext): boolean;
  create(context: AgentContext): AgentServices[K] | Promise<AgentServices[K]>;
  /** A collector for the sampler to run on its own interval. */
  schedule?(instance: AgentServices[K], context: AgentContext): ScheduledCollector;
  /** Defines its metric families on `registry` (called once for each format's registry). */
  metrics?(registry: Registry, instance: AgentServices[K], context: AgentContext): void;
  start(instance: AgentServices[K]): Promise<void>;
  /** Safe without start() and idempotent. */
  stop(instance: AgentServices[K]): Promise<void>;
}

/** Any entry of the table. */
export type AnyAgentComponent = { [K in ComponentName]: AgentComponent<K> }[ComponentName];

/** start/stop of a component that implements the common Component lifecycle. */
export const COMPONENT_LIFECYCLE = {
  start: (component: Component): Promise<void> => component.start(),
  stop: (component: Component): Promise<void> => component.shutdown(),
} as const;

/** The component `name`, which the table places before the one asking; throws when it is absent. */
export function requireService<K extends ComponentName>(
  context: AgentContext,
  name: K,
  by: ComponentName,
): AgentServices[K] {
  const service = context.services[name];
  if (service === undefined)
    throw new Error(`agent: component ${by} needs ${name}, which is not created before it in the table`);
  return service;
}
