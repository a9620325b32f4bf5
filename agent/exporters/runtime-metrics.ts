import type { Registry } from "prom-client";
import { METRICS, type MetricDef } from "../../common/conventions.js";
import { defineScrapeMetric, type FillErrorHandler, type Labels } from "../../common/metric-factory.js";
import { RATIO_FIELDS, type GaugeField } from "../collectors/runtimes/runtime-gauges.js";
import type { RuntimeSeries, TargetState } from "../collectors/runtimes/runtime-scraper.js";

/** Which catalog entry each runtime gauge field is exported as (the request and token counters go to the span series instead). */
const FIELD_METRICS: readonly (readonly [GaugeField, MetricDef])[] = [
  ["kvCacheUsage", METRICS.llmKvCacheUsage],
  ["prefixCacheQueries", METRICS.llmPrefixCacheQueries],
  ["prefixCacheHits", METRICS.llmPrefixCacheHits],
  ["queueDepth", METRICS.llmQueueDepth],
  ["batchSize", METRICS.llmBatchSize],
  ["preemptions", METRICS.llmPreemptions],
];

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
    folded.set(key, {
      labels,
      value: previous === undefined ? value : isRatio ? Math.max(previous.value, value) : previous.value + value,
    });
  }
  for (const { labels, value } of folded.values()) emit(labels, value);
}

/** The scraper's cardinality figures: label sets held and rows folded since start, by limit. */
export interface RuntimeSeriesHealth {
  readonly series: number;
  readonly overflowed: { readonly target: number; readonly agent: number };
}

/**
 * Registers the runtime gauges (KV cache, prefix cache, queue, batch, preemptions, mean queue and
 * compute time) with the span metrics' labels, each target's up gauge and scrape duration and,
 * with `health`, the series count and overflow counter, all read at scrape time. A field a runtime does not report has no series; a target that is down has only
 * its up and duration series.
 */
export function registerRuntimeMetrics(
  registry: Registry,
  node: string,
  targets: () => readonly TargetState[],
  onError: FillErrorHandler,
  health?: () => RuntimeSeriesHealth,
): void {
  for (const [field, def] of FIELD_METRICS) {
    defineScrapeMetric(
      registry,
      def,
      (emit) => {
        emitFolded(
          emit,
          targets().flatMap((target) =>
            target.series.flatMap((series) => {
              const value = series.gauges[field];
              return value === undefined ? [] : [{ labels: { ...series.labels, node }, value }];
            }),
          ),
          RATIO_FIELDS.has(field),
        );
      },
      onError,
    );
  }
  const derived = (def: MetricDef, value: (series: RuntimeSeries) => number | undefined, isRatio: boolean): void => {
    defineScrapeMetric(
      registry,
      def,
      (emit) => {
        emitFolded(
          emit,
          targets().flatMap((target) =>
            target.series.flatMap((series) => {
              const v = value(series);
              return v === undefined ? [] : [{ labels: { ...series.labels, node }, value: v }];
            }),
          ),
          isRatio,
        );
      },
      onError,
    );
  };
  derived(METRICS.llmPrefixCacheHitRatio, (series) => series.prefixCacheHitRatio, true);
  // Means of different series are not summable: where two share labels, the larger stands (as ratios).
  derived(METRICS.llmMeanQueueTime, (series) => series.meanQueueSeconds, true);
  derived(METRICS.llmMeanComputeTime, (series) => series.meanComputeSeconds, true);
  if (health) {
    defineScrapeMetric(registry, METRICS.runtimeSeries, (emit) => emit({ node }, health().series), onError);
    defineScrapeMetric(
      registry,
      METRICS.runtimeSeriesOverflow,
      (emit) => {
        const { overflowed } = health();
        emit({ node, limit: "target" }, overflowed.target);
        emit({ node, limit: "agent" }, overflowed.agent);
      },
      onError,
    );
  }
  defineScrapeMetric(
    registry,
    METRICS.runtimeScrapeUp,
    (emit) => {
      for (const target of targets()) emit({ node, target: target.url, runtime: target.runtime }, target.isUp ? 1 : 0);
    },
    onError,
  );
  defineScrapeMetric(
    registry,
    METRICS.runtimeScrapeDuration,
    (emit) => {
      for (const target of targets())
        emit({ node, target: target.url, runtime: target.runtime }, target.durationSeconds);
    },
    onError,
  );
}
