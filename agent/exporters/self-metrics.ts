import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import type { Registry } from "prom-client";
import { METRICS } from "../../common/conventions.js";
import type { PodAttribution } from "../collectors/pods/pod-attribution.js";
import type { CollectorStats } from "../sampler.js";
import { defineScrapeMetric, type FillErrorHandler } from "../../common/metric-factory.js";

/** What the agent's own metrics read. */
export interface SelfMetricsSource {
  readonly node: string;
  readonly version: string;
  readonly stats: () => readonly CollectorStats[];
  /** Undefined when pod attribution is off. */
  readonly attribution: (() => PodAttribution) | undefined;
  readonly now?: () => number;
}

/** Length of one event-loop delay window; the gauge covers the current and the previous one. */
const EVENT_LOOP_WINDOW_MS = 30_000;
/** Sampling resolution of the delay monitor (Node's default, 10 ms). */
const EVENT_LOOP_RESOLUTION_MS = 10;

/**
 * The longest event-loop delay of the last one to two windows, from a `monitorEventLoopDelay`
 * histogram reset when read after a window has passed (no timer of its own; the monitor's timer does
 * not hold the process open). A window rather than the maximum since start, so a stall shows and
 * then clears. Measuring starts at the first read (the first scrape), so start-up work (module
 * loading, compiling) is not reported as a stall of the running agent.
 */
export class EventLoopDelayWindow {
  private current: IntervalHistogram | undefined;
  private previousMaxNs = 0;
  private windowStartMs = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Longest delay in seconds over the current and the previous window (0 before any delay). */
  maxSeconds(): number {
    const nowMs = this.now();
    if (this.current === undefined) {
      this.current = monitorEventLoopDelay({ resolution: EVENT_LOOP_RESOLUTION_MS });
      this.current.enable();
      this.windowStartMs = nowMs;
    } else if (nowMs - this.windowStartMs >= EVENT_LOOP_WINDOW_MS) {
      // A window with nothing recorded reports max 0; a skipped window (no read for a while) counts as the previous one.
      this.previousMaxNs = this.current.max;
      this.current.reset();
      this.windowStartMs = nowMs;
    }
    return Math.max(this.previousMaxNs, this.current.max) / 1e9;
  }
}

/**
 * The agent's own health: build, each collector's last duration, success, errors and sample age
 * (age is computed at scrape time, so a stalled sampler shows as a growing age), and the pod
 * mapping's freshness, and the longest recent event-loop delay.
 */
export function registerSelfMetrics(registry: Registry, source: SelfMetricsSource, onError: FillErrorHandler): void {
  const { node } = source;
  const now = source.now ?? Date.now;
  const define = (def: (typeof METRICS)[keyof typeof METRICS], fill: Parameters<typeof defineScrapeMetric>[2]) =>
    defineScrapeMetric(registry, def, fill, onError);

  define(METRICS.buildInfo, (emit) => emit({ node, version: source.version, node_version: process.version }, 1));
  define(METRICS.collectorDuration, (emit) => {
    for (const s of source.stats()) if (s.runs > 0) emit({ node, collector: s.name }, s.lastDurationMs / 1000);
  });
  define(METRICS.collectorSuccess, (emit) => {
    for (const s of source.stats()) if (s.runs > 0) emit({ node, collector: s.name }, s.isLastSuccess ? 1 : 0);
  });
  define(METRICS.collectorRuns, (emit) => {
    for (const s of source.stats()) emit({ node, collector: s.name }, s.runs);
  });
  define(METRICS.collectorErrors, (emit) => {
    for (const s of source.stats()) emit({ node, collector: s.name }, s.errorsTotal);
  });
  define(METRICS.sampleAge, (emit) => {
    for (const s of source.stats())
      if (s.lastSampleAtMs !== undefined) emit({ node, collector: s.name }, (now() - s.lastSampleAtMs) / 1000);
  });
  define(METRICS.sampleTimestamp, (emit) => {
    for (const s of source.stats())
      if (s.lastSampleAtMs !== undefined) emit({ node, collector: s.name }, s.lastSampleAtMs / 1000);
  });
  const eventLoop = new EventLoopDelayWindow(now);
  define(METRICS.eventLoopDelayMax, (emit) => emit({ node }, eventLoop.maxSeconds()));
  const attribution = source.attribution;
  if (attribution) {
    define(METRICS.podResourcesUp, (emit) => emit({ node }, attribution().isUp ? 1 : 0));
    define(METRICS.podResourcesAge, (emit) => {
      const refreshed = attribution().refreshedAtMs;
      if (refreshed !== undefined) emit({ node }, (now() - refreshed) / 1000);
    });
  }
}
