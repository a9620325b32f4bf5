import type { ExpositionSample } from "../../../common/exposition.js";

/** The inference runtimes whose /metrics pages inferwatch reads. */
export type RuntimeName = "vllm" | "tgi" | "triton";

/** Gauge and counter fields a runtime page can yield for one model. */
export type GaugeField = "kvCacheUsage" | "prefixCacheQueries" | "prefixCacheHits" | "queueDepth" | "batchSize" | "preemptions";

/**
 * What one runtime page says about one model at one scrape. A field the runtime does not report
 * is absent (never 0). `model` is "" when the page names no model (TGI): the target's
 * configuration or pod supplies it.
 */
export type ModelGauges = { readonly model: string } & { readonly [F in GaugeField]?: number };

/** A page's samples by name (a counter's name with its `_total`). */
export type SampleIndex = ReadonlyMap<string, readonly ExpositionSample[]>;

/** Indexes a parsed page by sample name. */
export function indexSamples(samples: readonly ExpositionSample[]): SampleIndex {
  const index = new Map<string, ExpositionSample[]>();
  for (const sample of samples) {
    const list = index.get(sample.name);
    if (list) list.push(sample);
    else index.set(sample.name, [sample]);
  }
  return index;
}

/** The samples of the first name present in the page (a newer name first, then the names it replaced). */
export function firstPresent(page: SampleIndex, names: readonly string[]): readonly ExpositionSample[] {
  for (const name of names) {
    const found = page.get(name);
    if (found !== undefined && found.length > 0) return found;
  }
  return [];
}

/** A counter as prometheus_client writes it (`<name>_total`), or without the suffix (older clients). */
export function counterNames(name: string): readonly string[] {
  return [`${name}_total`, name];
}

/**
 * Per-model accumulator for a profile: engines (vLLM data parallel) or versions (Triton) of one
 * model fold into one row, summing counts and keeping the highest ratio. Non-finite values are
 * dropped, so a NaN from a runtime leaves the field absent.
 */
export class ModelTable {
  private readonly rows = new Map<string, { model: string } & { [F in GaugeField]?: number }>();

  /** Adds `value` to the model's field. */
  sum(model: string, field: GaugeField, value: number): void {
    if (!Number.isFinite(value)) return;
    const row = this.row(model);
    row[field] = (row[field] ?? 0) + value;
  }

  /** Keeps the larger of the model's field and `value`. */
  max(model: string, field: GaugeField, value: number): void {
    if (!Number.isFinite(value)) return;
    const row = this.row(model);
    row[field] = Math.max(row[field] ?? -Infinity, value);
  }

  /** The rows, one per model seen. */
  list(): ModelGauges[] {
    return [...this.rows.values()];
  }

  private row(model: string): { model: string } & { [F in GaugeField]?: number } {
    let row = this.rows.get(model);
    if (row === undefined) this.rows.set(model, (row = { model }));
    return row;
  }
}

/** How one runtime's page maps to inferwatch's gauges. A new runtime is one more file listed in ./profiles/index.ts. */
export interface RuntimeGaugeProfile {
  readonly runtime: RuntimeName;
  /** Whether the page carries this runtime's metric names (for targets whose runtime is not configured). */
  detects(page: SampleIndex): boolean;
  /** Pure: the page's gauges per model. */
  read(page: SampleIndex): ModelGauges[];
}

/** A 0..1 ratio clamped into range (a runtime may round past 1). */
export function clampRatio(value: number): number {
  return Math.min(1, Math.max(0, value));
}
