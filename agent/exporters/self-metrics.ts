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

/**
 * The agent's own health: build, each collector's last duration, success, errors and sample age
 * (age is computed at scrape time, so a stalled sampler shows as a growing age), and the pod
 * mapping's freshness.
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
  define(METRICS.collectorErrors, (emit) => {
    for (const s of source.stats()) emit({ node, collector: s.name }, s.errorsTotal);
  });
  define(METRICS.sampleAge, (emit) => {
    for (const s of source.stats()) if (s.lastSampleAtMs !== undefined) emit({ node, collector: s.name }, (now() - s.lastSampleAtMs) / 1000);
  });
  define(METRICS.sampleTimestamp, (emit) => {
    for (const s of source.stats()) if (s.lastSampleAtMs !== undefined) emit({ node, collector: s.name }, s.lastSampleAtMs / 1000);
  });
  const attribution = source.attribution;
  if (attribution) {
    define(METRICS.podResourcesUp, (emit) => emit({ node }, attribution().isUp ? 1 : 0));
    define(METRICS.podResourcesAge, (emit) => {
      const refreshed = attribution().refreshedAtMs;
      if (refreshed !== undefined) emit({ node }, (now() - refreshed) / 1000);
    });
  }
}
