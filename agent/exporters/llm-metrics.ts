import type { Registry } from "prom-client";
import { METRICS, type MetricDef } from "../../common/conventions.js";
import type { FillErrorHandler } from "../../common/metric-factory.js";
import { HISTOGRAMS, type HistogramKind, type LlmSeries, type LlmSeriesStore } from "../processors/llm-series-store.js";

/** A sample as prom-client's registry renders it (the shape its own metrics' get() returns). */
interface RenderedValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
  exemplar?: { labelSet: Record<string, string>; value: number; timestamp: number };
}

/**
 * A metric family whose values come from the series store at scrape time. It implements the part
 * of prom-client's metric contract the Registry uses (name, help, type, get), so the registry still
 * does the rendering, OpenMetrics included (exemplars appear only there).
 */
class StoreFamily {
  readonly aggregator = "sum";
  constructor(
    public name: string,
    readonly help: string,
    readonly type: "counter" | "gauge" | "histogram",
    private readonly values: () => RenderedValue[],
    private readonly onError: FillErrorHandler,
  ) {}

  /** A family whose values throw is left empty in this scrape (and reported), never failing the scrape. */
  get(): { name: string; help: string; type: string; values: RenderedValue[]; aggregator: string } {
    let values: RenderedValue[] = [];
    try {
      values = this.values();
    } catch (err) {
      this.onError(this.name, err);
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

const HISTOGRAM_DEFS: Record<HistogramKind, MetricDef> = {
  e2e: METRICS.llmRequestDuration,
  queue: METRICS.llmQueueDuration,
  prefill: METRICS.llmPrefillDuration,
  decode: METRICS.llmDecodeDuration,
  ttft: METRICS.llmTimeToFirstToken,
  tpot: METRICS.llmTimePerOutputToken,
};

function seriesLabels(node: string, series: LlmSeries): Record<string, string> {
  const { model, runtime, namespace, pod, tier } = series.labels;
  return { model, runtime, namespace, pod, node, tier };
}

/**
 * Registers the LLM request families (six histograms with trace exemplars, requests and tokens
 * counters, the last-request gauge), the store's own health and, with `unattributed`, the spans
 * recorded under model="unknown", all read per scrape.
 * Expired series are swept first, so a scrape never shows a series past its TTL.
 */
export function registerLlmMetrics(
  registry: Registry,
  node: string,
  store: LlmSeriesStore,
  spanCounts: () => Readonly<Record<string, number>>,
  onError: FillErrorHandler,
  unattributed?: () => readonly { readonly runtime: string; readonly reason: string; readonly count: number }[],
): void {
  const register = (family: StoreFamily) =>
    registry.registerMetric(family as unknown as Parameters<Registry["registerMetric"]>[0]);
  HISTOGRAMS.forEach((kind, index) => {
    const def = HISTOGRAM_DEFS[kind];
    const bounds = store.bounds(kind);
    register(
      new StoreFamily(
        def.name,
        def.help,
        "histogram",
        () => {
          if (index === 0) store.expire();
          const values: RenderedValue[] = [];
          for (const series of store.all()) {
            const histogram = series.histograms[index];
            if (!histogram || histogram.count === 0) continue;
            const labels = seriesLabels(node, series);
            let cumulative = 0;
            for (let slot = 0; slot <= bounds.length; slot++) {
              cumulative += histogram.counts[slot] as number;
              const exemplar = histogram.exemplars[slot];
              values.push({
                labels: { ...labels, le: slot < bounds.length ? (bounds[slot] as number) : "+Inf" },
                value: cumulative,
                metricName: `${def.name}_bucket`,
                ...(exemplar
                  ? {
                      exemplar: {
                        labelSet: { trace_id: exemplar.traceId },
                        value: exemplar.value,
                        timestamp: exemplar.timestamp,
                      },
                    }
                  : {}),
              });
            }
            values.push({ labels, value: histogram.sum, metricName: `${def.name}_sum` });
            values.push({ labels, value: histogram.count, metricName: `${def.name}_count` });
          }
          return values;
        },
        onError,
      ),
    );
  });
  register(
    new StoreFamily(
      METRICS.llmRequests.name,
      METRICS.llmRequests.help,
      "counter",
      () =>
        [...store.all()].flatMap((series) => {
          const labels = seriesLabels(node, series);
          return [
            { labels: { ...labels, status: "ok" }, value: series.ok },
            { labels: { ...labels, status: "error" }, value: series.errors },
          ];
        }),
      onError,
    ),
  );
  register(
    new StoreFamily(
      METRICS.llmTokens.name,
      METRICS.llmTokens.help,
      "counter",
      () =>
        [...store.all()].flatMap((series) => {
          const labels = seriesLabels(node, series);
          return [
            { labels: { ...labels, type: "prompt" }, value: series.promptTokens },
            { labels: { ...labels, type: "completion" }, value: series.completionTokens },
          ];
        }),
      onError,
    ),
  );
  register(
    new StoreFamily(
      METRICS.llmLastRequest.name,
      METRICS.llmLastRequest.help,
      "gauge",
      () =>
        [...store.all()].map((series) => ({ labels: seriesLabels(node, series), value: series.lastRequestSeconds })),
      onError,
    ),
  );
  register(
    new StoreFamily(
      METRICS.llmSeries.name,
      METRICS.llmSeries.help,
      "gauge",
      () => [{ labels: { node }, value: store.size }],
      onError,
    ),
  );
  register(
    new StoreFamily(
      METRICS.llmOverflow.name,
      METRICS.llmOverflow.help,
      "counter",
      () => [{ labels: { node }, value: store.overflowed }],
      onError,
    ),
  );
  register(
    new StoreFamily(
      METRICS.llmExpired.name,
      METRICS.llmExpired.help,
      "counter",
      () => [{ labels: { node }, value: store.expired }],
      onError,
    ),
  );
  if (unattributed) {
    register(
      new StoreFamily(
        METRICS.llmUnattributed.name,
        METRICS.llmUnattributed.help,
        "counter",
        () => unattributed().map(({ runtime, reason, count }) => ({ labels: { node, runtime, reason }, value: count })),
        onError,
      ),
    );
  }
  register(
    new StoreFamily(
      METRICS.otlpSpans.name,
      METRICS.otlpSpans.help,
      "counter",
      () => Object.entries(spanCounts()).map(([outcome, value]) => ({ labels: { node, outcome }, value })),
      onError,
    ),
  );
}
