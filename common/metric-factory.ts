import { Counter, Gauge, type Registry } from "prom-client";
import type { MetricDef } from "./conventions.js";

/** Label values of one series; a label left out is exported as absent (empty). */
export type Labels = Record<string, string | number>;

/** Called once per scrape to emit the current series of one metric. */
export type Fill = (emit: (labels: Labels, value: number) => void) => void;

/** Receives a fill that threw, so a broken source never fails the whole scrape. */
export type FillErrorHandler = (metric: string, err: unknown) => void;

/**
 * Defines a gauge or counter from the catalog whose series are produced at scrape time by `fill`.
 * Series not emitted by the latest fill disappear, so a lost GPU or an exited process leaves no stale
 * value behind. Counters take the absolute value their source reports (NVML keeps the running total).
 */
export function defineScrapeMetric(
  registry: Registry,
  def: MetricDef,
  fill: Fill,
  onError: FillErrorHandler,
): Gauge | Counter {
  const common = { name: def.name, help: def.help, labelNames: [...def.labels], registers: [registry] };
  if (def.type === "gauge") {
    return new Gauge({
      ...common,
      collect() {
        this.reset();
        runFill(def.name, fill, (labels, value) => this.set(labels, value), onError);
      },
    });
  }
  if (def.type === "counter") {
    return new Counter({
      ...common,
      collect() {
        this.reset();
        runFill(def.name, fill, (labels, value) => this.inc(labels, Math.max(0, value)), onError);
      },
    });
  }
  throw new Error(`metric ${def.name}: histograms are not scrape-time metrics`);
}

function runFill(
  name: string,
  fill: Fill,
  emit: (labels: Labels, value: number) => void,
  onError: FillErrorHandler,
): void {
  try {
    fill((labels, value) => {
      if (Number.isFinite(value)) emit(labels, value);
    });
  } catch (err) {
    onError(name, err);
  }
}
