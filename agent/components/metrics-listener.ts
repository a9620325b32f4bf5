import type { Refusals } from "../../common/auth/refusals.js";
import type { ListenerTls } from "../../common/tls/server-tls.js";
import type { Component } from "../../common/component.js";
import type { ListenAddress } from "../../common/config/listen-address.js";
import { json, startHttpServer, text, type RouteHandler, type RunningServer } from "../../common/http-server.js";
import type { Logger } from "../../common/log.js";
import type { Registry } from "prom-client";

/** The two registries /metrics renders from: prom-client renames counters in place for OpenMetrics. */
export interface AgentRegistries {
  readonly prometheus: Registry;
  readonly openMetrics: Registry;
}

/** What the metrics listener serves from. */
export interface MetricsListenerOptions {
  readonly address: ListenAddress;
  readonly log: Logger;
  readonly tls: ListenerTls | undefined;
  readonly refusals: Refusals;
  readonly registries: AgentRegistries;
  /** The body of /v1/snapshot, built from the latest samples. */
  snapshot(): unknown;
  /** Whether /readyz answers ready. */
  isReady(): boolean;
}

/** The agent's HTTP listener; `address` is the bound one once started. */
export interface MetricsListener extends Component {
  readonly address: { readonly host: string; readonly port: number } | undefined;
}

/** Whether a scraper asked for OpenMetrics (needed for exemplars). */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  return accept !== undefined && accept.includes("application/openmetrics-text");
}

/**
 * One HTTP listener with /metrics (Prometheus text, or OpenMetrics when the scraper asks for it),
 * /v1/snapshot, /healthz and /readyz. Every request reads the latest samples; none calls NVML or
 * the kubelet.
 */
export function createMetricsListener(options: MetricsListenerOptions): MetricsListener {
  const routes: Record<string, RouteHandler> = {
    "/metrics": async (request) => {
      const registry = wantsOpenMetrics(request.headers.accept)
        ? options.registries.openMetrics
        : options.registries.prometheus;
      return { status: 200, contentType: registry.contentType, body: await registry.metrics() };
    },
    "/v1/snapshot": () => json(200, options.snapshot()),
    "/healthz": () => text(200, "ok\n"),
    "/readyz": () => (options.isReady() ? text(200, "ready\n") : text(503, "starting\n")),
  };
  let server: RunningServer | undefined;
  return {
    name: "metrics",
    get address() {
      return server ? { host: server.address.address, port: server.address.port } : undefined;
    },
    async start() {
      server ??= await startHttpServer({
        name: "metrics",
        address: options.address,
        routes,
        log: options.log,
        tls: options.tls,
        refusals: options.refusals,
      });
    },
    async shutdown() {
      await server?.close();
    },
  };
}
