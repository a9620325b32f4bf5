/**
 * The simulated fleet's inference runtimes' own /metrics: one vLLM page per replica with traffic,
 * on one loopback listener (`/replica/<index>/metrics`), so the simulated agents scrape KV-cache
 * usage, requests waiting and running, prefix-cache counters and preemptions through their real
 * runtime collector and vLLM profile, as they would scrape a vLLM pod. The figures follow the
 * replica's request rate at the moment of the scrape: running requests by Little's law, KV usage
 * rising with load, a queue only during the scenario's incident, counters integrated from the
 * origin. Metric names and labels as vLLM's V1 engine exports them (vllm-project/vllm
 * `vllm/v1/metrics/loggers.py`: labels `model_name` and `engine`, counters with `_total`).
 */
import type { Component } from "../../common/component.js";
import { startHttpServer, text, type RouteHandler, type RunningServer } from "../../common/http-server.js";
import type { Logger } from "../../common/log.js";
import {
  expectedRequests,
  incidentWindows,
  isIncidentAt,
  replicaRateAt,
  type Fleet,
  type SimReplica,
} from "./fleet-model.js";
import { hashSeed } from "./random.js";

/** Mean seconds a request stays in the engine (for Little's law). */
const MEAN_REQUEST_SECONDS = 1.5;
/** Prompt tokens a request asks the prefix cache about. */
const PROMPT_TOKENS = 512;
/** Share of requests preempted while the incident lasts (the KV cache runs out). */
const INCIDENT_PREEMPTION_SHARE = 0.02;

/** A runtime target as the agent's configuration takes it. */
export interface SimulatedRuntimeTarget {
  readonly url: string;
  readonly runtime: "vllm";
  readonly model: string;
  readonly namespace: string;
  readonly pod: string;
  readonly tier: string;
}

/** The vLLM exposition page of one replica at `tMs` (ms since the epoch). */
export function vllmPage(fleet: Fleet, replica: SimReplica, tMs: number): string {
  const load = replica.peakRps > 0 ? Math.min(replicaRateAt(fleet, replica, tMs) / replica.peakRps, 1) : 0;
  const isIncident = isIncidentAt(fleet, replica.model.name, tMs);
  const rate = replicaRateAt(fleet, replica, tMs);
  const running = rate > 0 ? Math.ceil(rate * MEAN_REQUEST_SECONDS) : 0;
  const waiting = isIncident ? Math.ceil(rate * MEAN_REQUEST_SECONDS * 2) : 0;
  // Replicas of one load differ by what their prompts and batches hold: a spread per replica.
  const spread = (hashSeed(replica.id) % 100) / 100;
  const kv = Math.min(0.1 + 0.25 * spread + 0.5 * load + (isIncident ? 0.3 : 0), 0.98);
  const requests = expectedRequests(fleet, replica, fleet.originMs, tMs);
  const hitShare = 0.25 + (hashSeed(replica.model.name) % 30) / 100;
  const preempted = incidentWindows(fleet, fleet.originMs, tMs).reduce(
    (sum, w) => sum + INCIDENT_PREEMPTION_SHARE * expectedRequests(fleet, replica, w.startMs, Math.min(w.endMs, tMs)),
    0,
  );
  const labels = `{model_name="${replica.model.name}",engine="0"}`;
  return [
    "# HELP vllm:num_requests_running Number of requests in model execution batches.",
    "# TYPE vllm:num_requests_running gauge",
    `vllm:num_requests_running${labels} ${running}`,
    "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.",
    "# TYPE vllm:num_requests_waiting gauge",
    `vllm:num_requests_waiting${labels} ${waiting}`,
    "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.",
    "# TYPE vllm:kv_cache_usage_perc gauge",
    `vllm:kv_cache_usage_perc${labels} ${kv.toFixed(4)}`,
    "# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.",
    "# TYPE vllm:prefix_cache_queries_total counter",
    `vllm:prefix_cache_queries_total${labels} ${Math.floor(requests * PROMPT_TOKENS)}`,
    "# HELP vllm:prefix_cache_hits_total Prefix cache hits, in terms of number of cached tokens.",
    "# TYPE vllm:prefix_cache_hits_total counter",
    `vllm:prefix_cache_hits_total${labels} ${Math.floor(requests * PROMPT_TOKENS * hitShare)}`,
    "# HELP vllm:num_preemptions_total Cumulative number of preemption from the engine.",
    "# TYPE vllm:num_preemptions_total counter",
    `vllm:num_preemptions_total${labels} ${Math.floor(preempted)}`,
    "",
  ].join("\n");
}

/** The listener serving every replica's page; `targetsFor(node)` once started. */
export class SimulatedRuntimePages implements Component {
  readonly name = "simulated-runtimes";
  private server: RunningServer | undefined;

  constructor(private readonly options: { readonly fleet: Fleet; readonly log: Logger; readonly now?: () => number }) {}

  async start(): Promise<void> {
    if (this.server) return;
    const now = this.options.now ?? Date.now;
    const routes: Record<string, RouteHandler> = {};
    for (const replica of this.served()) {
      routes[`/replica/${replica.index}/metrics`] = () => ({
        ...text(200, vllmPage(this.options.fleet, replica, now())),
        contentType: "text/plain; version=0.0.4; charset=utf-8",
      });
    }
    this.server = await startHttpServer({
      name: "simulated-runtimes",
      address: { host: "127.0.0.1", port: 0 },
      routes,
      log: this.options.log,
    });
  }

  /** The scrape targets of one node's replicas (empty before start). */
  targetsFor(node: string): SimulatedRuntimeTarget[] {
    const address = this.server?.address;
    if (!address) return [];
    return this.served()
      .filter((replica) => replica.node === node)
      .map((replica) => ({
        url: `http://127.0.0.1:${address.port}/replica/${replica.index}/metrics`,
        runtime: "vllm",
        model: replica.model.name,
        namespace: replica.namespace,
        pod: replica.pod,
        tier: replica.model.tier,
      }));
  }

  async shutdown(): Promise<void> {
    await this.server?.close();
  }

  /** Replicas that serve traffic (an idle model's pods run no engine worth scraping here). */
  private served(): SimReplica[] {
    return this.options.fleet.replicas.filter((replica) => replica.peakRps > 0);
  }
}
