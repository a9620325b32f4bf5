import type { Registry } from "prom-client";
import { METRICS, type MetricDef } from "../../common/conventions.js";
import { defineScrapeMetric, type FillErrorHandler, type Labels } from "../../common/metric-factory.js";
import type { GaugeField } from "../collectors/runtimes/runtime-gauges.js";
import type { TargetState } from "../collectors/runtimes/runtime-scraper.js";

/** Which catalog entry each runtime gauge field is exported as. */
const FIELD_METRICS: readonly (readonly [GaugeField, MetricDef])[] = [
  ["kvCacheUsage", METRICS.llmKvCacheUsage],
  ["prefixCacheQueries", METRICS.llmPrefixCacheQueries],
  ["prefixCacheHits", METRICS.llmPrefixCacheHits],
  ["queueDepth", METRICS.llmQueueDepth],
  ["batchSize", METRICS.llmBatchSize],
  ["preemptions", METRICS.llmPreemptions],
];

/** Ratios keep the highest of series that share labels; counts add up. */
const IS_RATIO: Readonly<Record<GaugeField, boolean>> = {
  kvCacheUsage: true, prefixCacheQueries: false, prefixCacheHits: false, queueDepth: false, batchSize: false, preemptions: false,
};

/**
 * Emits one value per label set: two targets without pod labels that serve the same model (two
 * static URLs) fold together, queue and batch and counters summed, ratios the highest, instead of
 * one silently overwriting the other.
 */
function emitFolded(
  emit: (labels: Labels, value: number) => void,
  values: Iterable<{ readonly labels: Labels; readonly value: number }>,
  isRatio: boolean,
): void {
  const folded = new Map<string, { labels: Labels; value: number }>();
  for (const { labels, value } of values) {
    const key = JSON.stringify(labels);
    const previous = folded.get(key);
    folded.set(key, { labels, value: previous === undefined ? value : isRatio ? Math.max(previous.value, value) : previous.value + value });
  }
  for (const { labels, value } of folded.values()) emit(labels, value);
}

/**
 * Registers the runtime gauges (KV cache, prefix cache, queue, batch, preemptions) with the span
 * metrics' labels, and each target's up gauge and scrape duration, all read from `targets()` at
 * scrape time. A field a runtime does not report has no series; a target that is down has only
 * its up and duration series.
 */
export function registerRuntimeMetrics(registry: Registry, node: string, targets: () => readonly TargetState[], onError: FillErrorHandler): void {
  for (const [field, def] of FIELD_METRICS) {
    defineScrapeMetric(registry, def, (emit) => {
      emitFolded(emit, targets().flatMap((target) => target.series.flatMap((series) => {
        const value = series.gauges[field];
        return value === undefined ? [] : [{ labels: { ...series.labels, node }, value }];
      })), IS_RATIO[field]);
    }, onError);
  }
  defineScrapeMetric(registry, METRICS.llmPrefixCacheHitRatio, (emit) => {
    emitFolded(emit, targets().flatMap((target) => target.series.flatMap((series) =>
      series.prefixCacheHitRatio === undefined ? [] : [{ labels: { ...series.labels, node }, value: series.prefixCacheHitRatio }])), true);
  }, onError);
  defineScrapeMetric(registry, METRICS.runtimeScrapeUp, (emit) => {
    for (const target of targets()) emit({ node, target: target.url, runtime: target.runtime }, target.isUp ? 1 : 0);
  }, onError);
  defineScrapeMetric(registry, METRICS.runtimeScrapeDuration, (emit) => {
    for (const target of targets()) emit({ node, target: target.url, runtime: target.runtime }, target.durationSeconds);
  }, onError);
}
