import type { Registry } from "prom-client";
import { METRICS } from "../../common/conventions.js";
import type { Admission } from "../receivers/admission.js";
import { defineScrapeMetric, type FillErrorHandler } from "../../common/metric-factory.js";
import type { OtlpForwarder } from "./otlp-forward.js";

/** Receiver back-pressure and forwarding figures, read at scrape time. */
export function registerOtlpMetrics(
  registry: Registry,
  node: string,
  source: { readonly admission: Admission; readonly forwarder: OtlpForwarder | undefined },
  onError: FillErrorHandler,
): void {
  defineScrapeMetric(
    registry,
    METRICS.otlpInflight,
    (emit) => emit({ node }, source.admission.counters.inflightBytes),
    onError,
  );
  defineScrapeMetric(
    registry,
    METRICS.otlpRefused,
    (emit) => emit({ node }, source.admission.counters.rejections),
    onError,
  );
  const forwarder = source.forwarder;
  if (!forwarder) return;
  defineScrapeMetric(
    registry,
    METRICS.forwardedSpans,
    (emit) => {
      const counts: Readonly<Record<string, number>> = { ...forwarder.counts };
      for (const [result, value] of Object.entries(counts)) emit({ node, result }, value);
    },
    onError,
  );
  defineScrapeMetric(registry, METRICS.forwardQueue, (emit) => emit({ node }, forwarder.queued), onError);
}
