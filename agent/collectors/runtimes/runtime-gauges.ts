import type { ExpositionSample } from "../../../common/exposition.js";

/** The inference runtimes whose /metrics pages inferwatch reads (`trtllm` is TensorRT-LLM's trtllm-serve). */
export type RuntimeName = "vllm" | "sglang" | "tgi" | "triton" | "trtllm";

/**
 * What a runtime page can say about one model. Gauges (`kvCacheUsage`, `prefixCacheHitRatio`,
 * `queueDepth`, `batchSize`) are values now; every other field is a counter the runtime keeps
 * since it started: prefix-cache queries and hits, preemptions, finished requests (ok / failed),
 * prompt and completion tokens, and the cumulative queue and compute seconds of `timedRequests`
 * finished requests (Triton's duration counters), from which a mean is derived.
 */
export type GaugeField =
  | "kvCacheUsage"
  | "prefixCacheHitRatio"
  | "prefixCacheQueries"
  | "prefixCacheHits"
  | "queueDepth"
  | "batchSize"
  | "preemptions"
  | "requestsOk"
  | "requestsFailed"
  | "promptTokens"
  | "completionTokens"
  | "queueSecondsTotal"
  | "computeSecondsTotal"
  | "timedRequests";

/** Fields that are 0..1 ratios: rows that fold together keep the highest; every other field adds up. */
export const RATIO_FIELDS: ReadonlySet<GaugeField> = new Set<GaugeField>(["kvCacheUsage", "prefixCacheHitRatio"]);

/**
 * What one runtime page says about one model at one scrape. A field the runtime does not report
 * is absent (never 0). `model` is "" when the page names no model (TGI): the target's
 * configuration or pod supplies it.
 */
export type ModelGauges = { readonly model: string } & { readonly [F in GaugeField]?: number };

type MutableRow = { model: string } & { [F in GaugeField]?: number };

/** A page's samples by name (a counter's name with its `_total`). */
export type SampleIndex = ReadonlyMap<string, readonly ExpositionSample[]>;

/** Sample labels, as the exposition parser gives them. */
export type Labels = Readonly<Record<string, string>>;

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

/** A counter as prometheus_client writes it (`<name>_total`), or without the suffix (older clients). */
export function counterNames(name: string): readonly string[] {
  return [`${name}_total`, name];
}

/**
 * Per-model accumulator of rows: rows that get one name (a configured model, the overflow row)
 * fold into one, summing counts and keeping the highest ratio. Non-finite values are dropped, so
 * a NaN leaves the field absent.
 */
export class ModelTable {
  private readonly rows = new Map<string, MutableRow>();

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

  /** Folds a whole row in: ratios keep the highest, everything else adds up. */
  fold(into: string, gauges: ModelGauges): void {
    this.row(into);
    for (const [field, value] of fieldsOf(gauges)) {
      if (RATIO_FIELDS.has(field)) this.max(into, field, value);
      else this.sum(into, field, value);
    }
  }

  /** The rows, one per model seen. */
  list(): ModelGauges[] {
    return [...this.rows.values()];
  }

  private row(model: string): MutableRow {
    let row = this.rows.get(model);
    if (row === undefined) this.rows.set(model, (row = { model }));
    return row;
  }
}

const ALL_FIELDS: readonly GaugeField[] = [
  "kvCacheUsage",
  "prefixCacheHitRatio",
  "prefixCacheQueries",
  "prefixCacheHits",
  "queueDepth",
  "batchSize",
  "preemptions",
  "requestsOk",
  "requestsFailed",
  "promptTokens",
  "completionTokens",
  "queueSecondsTotal",
  "computeSecondsTotal",
  "timedRequests",
];

/** The fields a row carries, with their values. */
export function fieldsOf(gauges: ModelGauges): [GaugeField, number][] {
  const out: [GaugeField, number][] = [];
  for (const field of ALL_FIELDS) {
    const value = gauges[field];
    if (value !== undefined) out.push([field, value]);
  }
  return out;
}

/** A 0..1 ratio clamped into range (a runtime may round past 1). */
export function clampRatio(value: number): number {
  return Math.min(1, Math.max(0, value));
}
