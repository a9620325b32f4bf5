import { Registry } from "prom-client";
import { Refusals } from "../common/auth/refusals.js";
import type { AgentConfig } from "../common/config/schema.js";
import { errorMessage } from "../common/errors.js";
import type { Logger } from "../common/log.js";
import { noAttribution } from "./collectors/gpu-collector.js";
import type { GpuCollector } from "./collectors/gpu-collector.js";
import type { AgentContext, AgentDeps } from "./components/context.js";
import type { AgentRegistries } from "./components/metrics-listener.js";
import { startComponents } from "./components/lifecycle.js";
import { AGENT_COMPONENTS } from "./components/table.js";
import type { SpanMetricsProcessor } from "./processors/span-metrics-processor.js";
import { createAdmission } from "./receivers/admission.js";
import type { Sampler } from "./sampler.js";

export type { AgentDeps } from "./components/context.js";

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

/** One registry per exposition format: prom-client renames counters in place when rendering OpenMetrics. */
function createRegistries(): AgentRegistries {
  const openMetrics = new Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>();
  openMetrics.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  return { prometheus: new Registry(), openMetrics: openMetrics as unknown as Registry };
}

/**
 * Starts the agent: the components of AGENT_COMPONENTS (agent/components/table.ts) — NVML sampling
 * on a worker thread, host, pod and runtime collectors on their own intervals, the span pipeline,
 * the sinks, one HTTP listener with /metrics, /v1/snapshot, /healthz and /readyz, and the OTLP
 * receivers. Every scrape reads the latest samples and never calls NVML or the kubelet. Rejects with
 * `agent: cannot start <component>: <reason>` after stopping whatever it had started.
 */
export async function startAgent(config: AgentConfig, log: Logger, deps: AgentDeps = {}): Promise<Agent> {
  const context: AgentContext = {
    config,
    log,
    deps,
    node: config.nodeName,
    now: deps.now ?? Date.now,
    services: {},
    attribution: () => context.services.pods?.current() ?? noAttribution(),
    admission: createAdmission(config.otlp.maxInflightBytes),
    refusals: new Refusals(log.child({ component: "listeners" })),
    registries: createRegistries(),
    onMetricError: (metric, err) =>
      log.error({ metric, err: errorMessage(err) }, "metric fill failed; series omitted from this scrape"),
    gpuRoundConsumers: [],
    scheduled: [],
    readiness: { isReady: false },
  };
  const running = await startComponents(AGENT_COMPONENTS, context);
  const { gpu, spans, sampler, metrics, otlp } = context.services;
  const metricsAddress = metrics?.address;
  if (!gpu || !spans || !sampler || !metricsAddress) {
    await running.stop();
    throw new Error("agent: cannot start: the table lacks the gpu, spans, metrics or sampler component");
  }
  return {
    metricsAddress,
    otlpAddresses: otlp?.addresses ?? {},
    spans,
    gpu,
    sampler,
    hasStuckNvmlCall: () => gpu.hasStuckNvmlCall(),
    shutdown: () => running.stop(),
  };
}
