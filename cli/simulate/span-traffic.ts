/**
 * The simulated fleet's request traffic: for each node, the requests its replicas serve (Poisson
 * arrivals at the scenario's rates, latencies from the fleet model) sent as vLLM `llm_request` spans
 * to that node's agent over OTLP/HTTP, JSON encoding, one batch per node every interval. It drives
 * the agent's real receiver, decoder, profile and metrics code.
 *
 * Posts are bounded per agent; a batch that finds the bound reached is dropped and counted, never
 * queued. Failures are logged once per change of state, never thrown.
 */
import type { Component } from "../../common/component.js";
import { errorMessage } from "../../common/errors.js";
import type { Logger } from "../../common/log.js";
import { simulationClock, type SimulationClock } from "./clock.js";
import { drawRequest, expectedRequests, type Fleet, type SimReplica, type SimRequest } from "./fleet-model.js";
import { createRandom, hashSeed, hexId, poisson, type Random } from "./random.js";

/** One agent's OTLP/HTTP traces endpoint, e.g. `http://127.0.0.1:4318/v1/traces`. */
export interface SpanTrafficTarget {
  readonly node: string;
  readonly url: string;
}

/** Options for {@link SpanTraffic}. */
export interface SpanTrafficOptions {
  readonly fleet: Fleet;
  readonly targets: readonly SpanTrafficTarget[];
  readonly log: Logger;
  /** Simulated time; real time from the fleet's origin by default. */
  readonly clock?: SimulationClock;
  /** Wall-clock time between batches. Default 1 s. */
  readonly intervalMs?: number;
  /** Posts to one agent at once at most. Default 2. */
  readonly maxInFlightPerTarget?: number;
  /** Spans in one post at most; the rest of the batch is dropped. Default 10,000. */
  readonly maxSpansPerBatch?: number;
  /** Time one post may take. Default 5 s. */
  readonly timeoutMs?: number;
}

/** What the traffic has done since it started. */
export interface SpanTrafficStats {
  /** Requests drawn (spans built). */
  readonly generated: number;
  /** Spans the agents accepted. */
  readonly accepted: number;
  /** Spans the agents answered as rejected (partial success). */
  readonly rejected: number;
  /** Spans not delivered: post failed, agent busy, or batch over the size bound. */
  readonly dropped: number;
}

/** The vLLM tracer's instrumentation scope (vllm/tracing.py). */
const VLLM_SCOPE = { name: "vllm.llm_engine" };
const SPAN_KIND_SERVER = 2;
const STATUS_ERROR = 2;
/** A tick never covers more than this many intervals: after a stall (a suspended laptop) time is skipped, not replayed. */
const MAX_CATCH_UP_INTERVALS = 10;

interface TargetState {
  readonly target: SpanTrafficTarget;
  readonly replicas: readonly SimReplica[];
  inFlight: number;
  /** The failure last logged; undefined while posts succeed. */
  problem: string | undefined;
}

type JsonKeyValue = { key: string; value: { stringValue: string } | { intValue: string } | { doubleValue: number } };

const str = (key: string, value: string): JsonKeyValue => ({ key, value: { stringValue: value } });
const int = (key: string, value: number): JsonKeyValue => ({ key, value: { intValue: String(value) } });
const dbl = (key: string, value: number): JsonKeyValue => ({ key, value: { doubleValue: value } });

/** Unix ms as OTLP's fixed64 nanoseconds, a decimal string (OTLP/JSON writes 64-bit integers as strings). */
function unixNano(ms: number): string {
  return (BigInt(Math.round(ms * 1000)) * 1000n).toString();
}

/** One request as a vLLM `llm_request` span in OTLP/JSON (ids as hex, kind and status code as integers). */
function vllmSpan(replica: SimReplica, request: SimRequest, endWallMs: number, random: Random): object {
  const finishReason = request.isError
    ? "abort"
    : request.completionTokens >= replica.model.latency.completionTokens.max
      ? "length"
      : "stop";
  return {
    traceId: hexId(random, 32),
    spanId: hexId(random, 16),
    name: "llm_request",
    kind: SPAN_KIND_SERVER,
    startTimeUnixNano: unixNano(endWallMs - request.e2eSeconds * 1000),
    endTimeUnixNano: unixNano(endWallMs),
    attributes: [
      str("gen_ai.response.model", replica.model.name),
      dbl("gen_ai.latency.e2e", request.e2eSeconds),
      dbl("gen_ai.latency.time_in_queue", request.queueSeconds),
      dbl("gen_ai.latency.time_in_model_prefill", request.prefillSeconds),
      dbl("gen_ai.latency.time_in_model_decode", request.decodeSeconds),
      dbl("gen_ai.latency.time_to_first_token", request.ttftSeconds),
      int("gen_ai.usage.prompt_tokens", request.promptTokens),
      int("gen_ai.usage.completion_tokens", request.completionTokens),
      str("gen_ai.response.finish_reasons", JSON.stringify([finishReason])),
    ],
    status: request.isError ? { code: STATUS_ERROR, message: "request aborted" } : {},
  };
}

/** The resource of one replica's vLLM process, as the OpenTelemetry operator's k8s attributes name it. */
function resourceOf(replica: SimReplica): { attributes: JsonKeyValue[] } {
  return {
    attributes: [
      str("service.name", replica.model.name),
      str("k8s.namespace.name", replica.namespace),
      str("k8s.pod.name", replica.pod),
      str("k8s.container.name", replica.container),
      str("k8s.node.name", replica.node),
    ],
  };
}

/**
 * Generates each simulated node's requests and posts them to its agent every interval. start()
 * and shutdown() are idempotent; shutdown() is safe without start(), aborts posts in flight and
 * waits for them.
 */
export class SpanTraffic implements Component {
  readonly name = "span-traffic";
  private readonly clock: SimulationClock;
  private readonly intervalMs: number;
  private readonly maxInFlight: number;
  private readonly maxSpans: number;
  private readonly timeoutMs: number;
  private readonly targets: TargetState[];
  private readonly abort = new AbortController();
  private readonly pending = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private lastSimMs: number | undefined;
  private ticks = 0;
  private isStarted = false;
  private isStopped = false;
  private counts = { generated: 0, accepted: 0, rejected: 0, dropped: 0 };

  constructor(private readonly options: SpanTrafficOptions) {
    this.clock = options.clock ?? simulationClock({ originMs: options.fleet.originMs });
    this.intervalMs = options.intervalMs ?? 1000;
    this.maxInFlight = options.maxInFlightPerTarget ?? 2;
    this.maxSpans = options.maxSpansPerBatch ?? 10_000;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.targets = options.targets.map((target) => {
      const node = options.fleet.nodes.find((candidate) => candidate.name === target.node);
      if (!node) throw new Error(`span traffic: no node ${target.node} in scenario ${options.fleet.scenario.name}`);
      return {
        target,
        replicas: node.replicas.filter((replica) => replica.peakRps > 0),
        inFlight: 0,
        problem: undefined,
      };
    });
  }

  async start(): Promise<void> {
    if (this.isStarted || this.isStopped) return;
    this.isStarted = true;
    this.lastSimMs ??= this.clock.simulatedNow();
    this.schedule();
  }

  async shutdown(): Promise<void> {
    this.isStopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.abort.abort();
    await Promise.allSettled([...this.pending]);
  }

  stats(): SpanTrafficStats {
    return { ...this.counts };
  }

  /**
   * Generates the requests that arrived since the previous tick (or start) and posts them, one
   * batch per node. Resolves when those posts have settled; never rejects. The background loop
   * calls it every interval without waiting; tests call it to step the traffic (the first call
   * without start() only marks the beginning).
   */
  async tick(): Promise<void> {
    if (this.isStopped) return;
    const nowSim = this.clock.simulatedNow();
    const maxWindow = MAX_CATCH_UP_INTERVALS * this.intervalMs * this.clock.timeScale;
    const fromSim = Math.max(this.lastSimMs ?? nowSim, nowSim - maxWindow);
    this.lastSimMs = nowSim;
    const tick = this.ticks++;
    if (nowSim <= fromSim) return;
    const posts = this.targets.map((state) => this.send(state, this.batch(state, fromSim, nowSim, tick)));
    await Promise.allSettled(posts);
  }

  private schedule(): void {
    if (this.isStopped) return;
    this.timer = setTimeout(() => {
      void this.tick();
      this.schedule();
    }, this.intervalMs);
  }

  /** The OTLP/JSON request body of one node's requests in [fromSim, toSim), and its span count. */
  private batch(state: TargetState, fromSim: number, toSim: number, tick: number): { body: string; spans: number } {
    const random = createRandom(hashSeed(this.options.fleet.scenario.seed, "traffic", state.target.node, tick));
    const resourceSpans: object[] = [];
    let spans = 0;
    for (const replica of state.replicas) {
      const count = poisson(random, expectedRequests(this.options.fleet, replica, fromSim, toSim));
      const items: object[] = [];
      for (let i = 0; i < count; i++) {
        const atSim = fromSim + random() * (toSim - fromSim);
        const request = drawRequest(this.options.fleet, replica, atSim, random);
        items.push(vllmSpan(replica, request, this.clock.toWallMs(atSim), random));
      }
      this.counts.generated += count;
      const kept = items.slice(0, Math.max(0, this.maxSpans - spans));
      this.counts.dropped += items.length - kept.length;
      spans += kept.length;
      if (kept.length > 0)
        resourceSpans.push({ resource: resourceOf(replica), scopeSpans: [{ scope: VLLM_SCOPE, spans: kept }] });
    }
    return { body: spans === 0 ? "" : JSON.stringify({ resourceSpans }), spans };
  }

  private send(state: TargetState, batch: { body: string; spans: number }): Promise<void> {
    if (batch.spans === 0) return Promise.resolve();
    if (state.inFlight >= this.maxInFlight) {
      this.counts.dropped += batch.spans;
      this.report(state, `${state.inFlight} posts still in flight; dropping batches until one returns`);
      return Promise.resolve();
    }
    state.inFlight++;
    const post = this.post(state.target.url, batch.body)
      .then((rejected) => {
        this.counts.accepted += batch.spans - rejected;
        this.counts.rejected += rejected;
        this.report(state, undefined);
      })
      .catch((err: unknown) => {
        this.counts.dropped += batch.spans;
        if (!this.isStopped) this.report(state, errorMessage(err));
      })
      .finally(() => {
        state.inFlight--;
        this.pending.delete(post);
      });
    this.pending.add(post);
    return post;
  }

  /** Posts one body; resolves with the spans the agent rejected, rejects on a transport error or a non-2xx answer. */
  private async post(url: string, body: string): Promise<number> {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.timeoutMs)]),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`HTTP ${response.status}: ${text.slice(0, 200)}`);
    try {
      const parsed = JSON.parse(text === "" ? "{}" : text) as { partialSuccess?: { rejectedSpans?: string | number } };
      return Number(parsed.partialSuccess?.rejectedSpans ?? 0) || 0;
    } catch {
      return 0;
    }
  }

  /** Logs a change of one target's state: a new problem (warn) or recovery (info). */
  private report(state: TargetState, problem: string | undefined): void {
    if (problem === state.problem) return;
    const { node, url } = state.target;
    if (problem === undefined) this.options.log.info({ node, url }, "simulated span traffic reaches the agent again");
    else
      this.options.log.warn(
        { node, url, err: problem },
        "simulated span traffic not delivered; later batches keep trying",
      );
    state.problem = problem;
  }
}
