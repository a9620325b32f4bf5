import { OVERFLOW_MODEL } from "../../common/conventions.js";
import type { LlmSpan } from "./llm-span.js";

/** The label values of one LLM request series (node is the agent's and added at export). */
export interface LlmSeriesLabels {
  readonly model: string;
  readonly runtime: string;
  readonly namespace: string;
  readonly pod: string;
  readonly tier: string;
}

const OVERFLOW_LABELS: LlmSeriesLabels = { model: OVERFLOW_MODEL, runtime: "", namespace: "", pod: "", tier: "" };
const OVERFLOW_KEY = `${OVERFLOW_MODEL}\u0000\u0000\u0000\u0000`;

/** The six latency histograms, in the order their buckets are stored. */
export const HISTOGRAMS = ["e2e", "queue", "prefill", "decode", "ttft", "tpot"] as const;
export type HistogramKind = (typeof HISTOGRAMS)[number];

/** The last observation that landed in a bucket, linking the bucket to its trace. */
export interface Exemplar {
  readonly traceId: string;
  readonly value: number;
  /** Unix seconds. */
  readonly timestamp: number;
}

/** One histogram's state: per-bucket counts (not cumulative; the last slot is +Inf), sum and count. */
export interface HistogramState {
  readonly counts: Float64Array;
  sum: number;
  count: number;
  readonly exemplars: (Exemplar | undefined)[];
}

/** Finished requests and tokens as one source counted them. */
export interface RequestCounts {
  ok: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
}

/** What a runtime counted for one series between two of its scrapes; a field it does not report is absent. */
export interface RuntimeIncrements {
  readonly requestsOk?: number;
  readonly requestsFailed?: number;
  readonly promptTokens?: number;
  readonly completionTokens?: number;
}

/** Everything recorded for one label set. */
export interface LlmSeries {
  readonly labels: LlmSeriesLabels;
  readonly histograms: readonly HistogramState[];
  /**
   * The exported counts: never less than either source's, never their sum (see
   * {@link reconcileCounts}), and never decreasing.
   */
  ok: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  /** Counted from spans, and from the runtime's own counters (increases since the agent first scraped it). */
  readonly counted: { readonly spans: RequestCounts; readonly runtime: RequestCounts };
  /** Unix seconds of the latest request end; the idle signal. */
  lastRequestSeconds: number;
  /** Unix ms at which the series last received a request (for expiry). */
  lastSeenMs: number;
}

/** Options for {@link LlmSeriesStore}. */
export interface LlmSeriesStoreOptions {
  /** Sorted, unique upper bounds of the latency histograms (e2e, queue, prefill, decode, ttft). */
  readonly latencyBuckets: readonly number[];
  /** Sorted, unique upper bounds of the time-per-output-token histogram. */
  readonly tpotBuckets: readonly number[];
  readonly maxSeries: number;
  readonly ttlMs: number;
  readonly now?: () => number;
}

/**
 * Holds the LLM request series in plain typed arrays. This is the hot path of span ingest (tens of
 * thousands of spans a second), so it is hand-written rather than prom-client histograms: one map
 * lookup per span instead of one label hash per histogram (test/bench measures both). Label sets
 * past `maxSeries` fold into one overflow series, and series idle past `ttlMs` expire. Runtimes'
 * own request and token counters join the same series ({@link recordRuntimeCounts}).
 */
export class LlmSeriesStore {
  private readonly series = new Map<string, LlmSeries>();
  private readonly now: () => number;
  /** Spans recorded into an overflow series. */
  overflowed = 0;
  /** Series dropped by expiry. */
  expired = 0;

  constructor(readonly options: LlmSeriesStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Bucket bounds of one histogram kind. */
  bounds(kind: HistogramKind): readonly number[] {
    return kind === "tpot" ? this.options.tpotBuckets : this.options.latencyBuckets;
  }

  /** Records one request. */
  record(labels: LlmSeriesLabels, span: LlmSpan): void {
    const series = this.seriesFor(labels);
    const nowMs = this.now();
    series.lastSeenMs = nowMs;
    const endSeconds = span.endTimeMs / 1000;
    if (endSeconds > series.lastRequestSeconds) series.lastRequestSeconds = endSeconds;
    const counted = series.counted.spans;
    if (span.isError) counted.errors++;
    else counted.ok++;
    if (span.promptTokens !== undefined) counted.promptTokens += span.promptTokens;
    if (span.completionTokens !== undefined) counted.completionTokens += span.completionTokens;
    reconcileCounts(series);
    const exemplarTime = nowMs / 1000;
    this.observe(series, 0, this.options.latencyBuckets, span.e2eSeconds, span.traceId, exemplarTime);
    if (span.queueSeconds !== undefined)
      this.observe(series, 1, this.options.latencyBuckets, span.queueSeconds, span.traceId, exemplarTime);
    if (span.prefillSeconds !== undefined)
      this.observe(series, 2, this.options.latencyBuckets, span.prefillSeconds, span.traceId, exemplarTime);
    if (span.decodeSeconds !== undefined)
      this.observe(series, 3, this.options.latencyBuckets, span.decodeSeconds, span.traceId, exemplarTime);
    if (span.ttftSeconds !== undefined)
      this.observe(series, 4, this.options.latencyBuckets, span.ttftSeconds, span.traceId, exemplarTime);
    if (span.tpotSeconds !== undefined)
      this.observe(series, 5, this.options.tpotBuckets, span.tpotSeconds, span.traceId, exemplarTime);
  }

  /**
   * Records what a runtime's own counters say about a series (vLLM `request_success_total`,
   * tokens, …) since the previous scrape. Requests a runtime counted also mark the series as
   * having served a request at `atMs`, so a runtime without tracing is not taken for idle.
   */
  recordRuntimeCounts(labels: LlmSeriesLabels, increments: RuntimeIncrements, atMs: number): void {
    const series = this.seriesFor(labels);
    const counted = series.counted.runtime;
    const ok = positive(increments.requestsOk);
    const failed = positive(increments.requestsFailed);
    counted.ok += ok;
    counted.errors += failed;
    counted.promptTokens += positive(increments.promptTokens);
    counted.completionTokens += positive(increments.completionTokens);
    series.lastSeenMs = this.now();
    if (ok + failed > 0 && atMs / 1000 > series.lastRequestSeconds) series.lastRequestSeconds = atMs / 1000;
    reconcileCounts(series);
  }

  /** Drops series idle past the TTL. */
  expire(): void {
    const cutoff = this.now() - this.options.ttlMs;
    for (const [key, series] of this.series) {
      if (series.lastSeenMs < cutoff) {
        this.series.delete(key);
        this.expired++;
      }
    }
  }

  /** The live series. */
  all(): IterableIterator<LlmSeries> {
    return this.series.values();
  }

  get size(): number {
    return this.series.size;
  }

  private seriesFor(labels: LlmSeriesLabels): LlmSeries {
    const key = `${labels.model}\u0000${labels.runtime}\u0000${labels.namespace}\u0000${labels.pod}\u0000${labels.tier}`;
    const existing = this.series.get(key);
    if (existing) return existing;
    // One slot is kept for the overflow series, so the store never holds more than maxSeries.
    const overflowed = this.series.get(OVERFLOW_KEY);
    if (this.series.size >= this.options.maxSeries - (overflowed ? 0 : 1)) {
      this.overflowed++;
      return overflowed ?? this.create(OVERFLOW_KEY, OVERFLOW_LABELS);
    }
    return this.create(key, labels);
  }

  private create(key: string, labels: LlmSeriesLabels): LlmSeries {
    const histograms = HISTOGRAMS.map((kind) => {
      const slots = this.bounds(kind).length + 1;
      return {
        counts: new Float64Array(slots),
        sum: 0,
        count: 0,
        exemplars: new Array<Exemplar | undefined>(slots).fill(undefined),
      };
    });
    const counted = { spans: emptyCounts(), runtime: emptyCounts() };
    const series: LlmSeries = {
      labels,
      histograms,
      ok: 0,
      errors: 0,
      promptTokens: 0,
      completionTokens: 0,
      counted,
      lastRequestSeconds: 0,
      lastSeenMs: this.now(),
    };
    this.series.set(key, series);
    return series;
  }

  private observe(
    series: LlmSeries,
    index: number,
    bounds: readonly number[],
    value: number,
    traceId: string,
    timestamp: number,
  ): void {
    const histogram = series.histograms[index] as HistogramState;
    let slot = 0;
    while (slot < bounds.length && value > (bounds[slot] as number)) slot++;
    histogram.counts[slot] = (histogram.counts[slot] as number) + 1;
    histogram.sum += value;
    histogram.count++;
    if (traceId !== "") histogram.exemplars[slot] = { traceId, value, timestamp };
  }
}

/** Sorted unique bounds with every SLO threshold included exactly. */
export function bucketsWithThresholds(buckets: readonly number[], thresholds: readonly number[]): number[] {
  return [...new Set([...buckets, ...thresholds])].sort((a, b) => a - b);
}

function emptyCounts(): RequestCounts {
  return { ok: 0, errors: 0, promptTokens: 0, completionTokens: 0 };
}

function positive(value: number | undefined): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : 0;
}

/**
 * Sets the exported counts of a series from its two sources without counting a request twice.
 * A runtime that traces reports each finished request both as a span and in its own counter
 * (vLLM V1 counts `request_success_total` and emits the `llm_request` span in the same place,
 * vllm/v1/engine/output_processor.py), so the sources are not added: the exported failures are the
 * larger of the two failure counts, the exported total the larger of the two totals, and ok the
 * rest. Each exported count only ever grows (a counter Prometheus can rate), so when one source
 * runs ahead of the other for a scrape the total may briefly exceed both, and catches up.
 */
export function reconcileCounts(series: LlmSeries): void {
  const { spans, runtime } = series.counted;
  series.errors = Math.max(series.errors, spans.errors, runtime.errors);
  const total = Math.max(spans.ok + spans.errors, runtime.ok + runtime.errors);
  series.ok = Math.max(series.ok, total - series.errors);
  series.promptTokens = Math.max(series.promptTokens, spans.promptTokens, runtime.promptTokens);
  series.completionTokens = Math.max(series.completionTokens, spans.completionTokens, runtime.completionTokens);
}
