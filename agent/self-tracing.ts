import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { NodeSDK } from "@opentelemetry/sdk-node";
import type { Component } from "../common/component.js";

/**
 * The agent's own traces through the OpenTelemetry Node SDK: each sampling round becomes a span
 * (`collect <collector>`), exported to `endpoint` over OTLP/HTTP protobuf. No auto-instrumentation
 * is loaded, so nothing of the inference runtimes' traffic is traced twice. The SDK is imported only
 * when self-tracing is configured (it costs about 13 MiB of resident memory).
 */
export function createSelfTracing(endpoint: string, node: string, version: string): Component {
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      "service.name": "inferwatch-agent",
      "service.version": version,
      "host.name": node,
    }),
    traceExporter: new OTLPTraceExporter({ url: endpoint }),
    instrumentations: [],
  });
  let isStarted = false;
  return {
    name: "self-tracing",
    async start() {
      if (isStarted) return;
      sdk.start();
      isStarted = true;
    },
    async shutdown() {
      if (!isStarted) return;
      isStarted = false;
      await sdk.shutdown().catch(() => undefined);
    },
  };
}
