/**
 * The embedded metric store: series fed by the analyzer's own pulls of the agents (or by tests),
 * held in bounded ring buffers of stepped resolution (tiered-series.ts) and answering the
 * MetricStore queries with Prometheus's semantics, so that it gives the same burn rates as a
 * Prometheus server holding the same samples (test/analyzer/stores/store-contract.test.ts).
 *
 * Memory: a series costs 16 bytes per retained point, at most Σ(⌈retention ÷ step⌉ + 2) points per
 * series, about 240 KiB with the default tiers once all of them are full; `maxSeries` bounds the
 * count (past it, samples of new series are refused and counted).
 */
import { z } from "zod";
import { counterIncrease, DEFAULT_STALENESS_MS, type TimedValue } from "../fleet/utilization.js";
import { parseExpositionText } from "../../common/exposition.js";
import { CorruptSnapshotError, loadSnapshotFile, saveSnapshotFile, type LoadedSnapshot } from "./memory-store-file.js";
import type {
  IncreaseQuery,
  IncreaseRangeQuery,
  LabeledSamples,
  LabeledValue,
  LatestQuery,
  MetricStore,
  OverTimeQuery,
  OverTimeRangeQuery,
  QueryContext,
  RangeQuery,
  Selection,
  SeriesLabels,
} from "./metric-store.js";
import {
  aggregateBy,
  inWindow,
  instants,
  keptLabels,
  labelKey,
  matchesSelection,
  outerOf,
  overTimeOf,
  pointsByGroup,
  sortedByLabels,
  valueAt,
} from "./series-math.js";
import { DEFAULT_TIERS, TieredSeries, type TierSpec } from "./tiered-series.js";
import { toError } from "../../common/errors.js";

const tierSchema = z.strictObject({ stepMs: z.number().int().positive(), retentionMs: z.number().int().positive() });

/** Options of the memory store, validated by `memoryStoreOptionsSchema`. */
export const memoryStoreOptionsSchema = z.strictObject({
  /** Resolution tiers, finest first: steps ascending, each retention at least its step. */
  tiers: z
    .array(tierSchema)
    .min(1)
    .refine(
      (tiers) =>
        tiers.every(
          (tier, i) => tier.retentionMs >= tier.stepMs && (i === 0 || tier.stepMs > (tiers[i - 1] as TierSpec).stepMs),
        ),
      "tiers must be finest first (steps ascending) with retention ≥ step",
    )
    .default(DEFAULT_TIERS.map((tier) => ({ ...tier }))),
  /** The most series held; samples of further series are refused and counted. */
  maxSeries: z.number().int().positive().default(10_000),
  /** How far back `latest` and `range` look for a sample (Prometheus's lookback delta). */
  stalenessMs: z.number().positive().default(DEFAULT_STALENESS_MS),
  /**
   * Whether a sample exactly at a window's start belongs to it. Prometheus 2.x selects [t − w, t]
   * ("inclusive"); Prometheus 3.x selects (t − w, t] ("exclusive"). Match the server the analyzer's
   * other source runs, so that both give the same answers.
   */
  windowStart: z.enum(["inclusive", "exclusive"]).default("inclusive"),
});
export type MemoryStoreOptions = z.input<typeof memoryStoreOptionsSchema>;
type ResolvedOptions = z.output<typeof memoryStoreOptionsSchema>;

/** What became of one ingested sample. */
export type IngestOutcome = "stored" | "series-limit" | "out-of-order";

/** Counters of the store itself. */
export interface MemoryStoreStats {
  readonly series: number;
  readonly samplesStored: number;
  /** Samples refused because their series would pass `maxSeries`. */
  readonly refusedSeriesLimit: number;
  /** Samples not newer than their series' newest sample. */
  readonly refusedOutOfOrder: number;
}

/** Appends to one series without looking it up again (bulk ingestion). */
export interface SeriesAppender {
  readonly labels: SeriesLabels;
  append(value: number, atMs: number): IngestOutcome;
}

/** The result of MemoryStore.load: the store, and why it starts empty when it does. */
export type LoadResult =
  | { readonly state: "loaded" | "missing"; readonly store: MemoryStore }
  /** The file exists but cannot be read back; the store is empty and `error` says why. */
  | { readonly state: "corrupt"; readonly store: MemoryStore; readonly error: Error };

/** A running persistence loop. */
export interface Persister {
  /** Stops the timer (idempotent); with `flush`, saves once more first. */
  stop(options?: { readonly flush?: boolean }): Promise<void>;
}

function seriesKey(name: string, labels: SeriesLabels): string {
  const names = Object.keys(labels).sort();
  let key = name;
  for (const label of names) key += `\u0000${label}\u0001${labels[label] as string}`;
  return key;
}

/** A MetricStore held in memory, fed by `ingest`; see the module comment. */
export class MemoryStore implements MetricStore {
  readonly kind = "memory" as const;
  readonly options: ResolvedOptions;
  private readonly byName = new Map<string, Map<string, TieredSeries>>();
  private seriesCount = 0;
  private queries = 0;
  private stored = 0;
  private refusedLimit = 0;
  private refusedOrder = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.options = memoryStoreOptionsSchema.parse(options);
  }

  get queryCount(): number {
    return this.queries;
  }

  stats(): MemoryStoreStats {
    return {
      series: this.seriesCount,
      samplesStored: this.stored,
      refusedSeriesLimit: this.refusedLimit,
      refusedOutOfOrder: this.refusedOrder,
    };
  }

  /** Stores one sample (time in milliseconds since the epoch); samples of a series must come in time order. */
  ingest(name: string, labels: SeriesLabels, value: number, atMs: number): IngestOutcome {
    const series = this.seriesFor(name, labels);
    return series === null ? this.refuse() : this.appendTo(series, value, atMs);
  }

  /** The appender of one series, creating it; null when the series cap refuses a new series. */
  seriesAppender(name: string, labels: SeriesLabels): SeriesAppender | null {
    const series = this.seriesFor(name, labels);
    if (series === null) {
      this.refusedLimit++;
      return null;
    }
    return { labels: series.labels, append: (value, atMs) => this.appendTo(series, value, atMs) };
  }

  /**
   * Stores every sample of a scraped exposition (Prometheus text or OpenMetrics) at `atMs`, or at a
   * line's own timestamp when it has one (Prometheus's honor_timestamps); `extraLabels` (such as
   * `instance`) are added to every series. Returns how many samples were stored. Throws
   * ExpositionParseError for malformed text, storing nothing.
   */
  ingestExposition(text: string, atMs: number, extraLabels: SeriesLabels = {}): number {
    let storedCount = 0;
    for (const sample of parseExpositionText(text)) {
      const outcome = this.ingest(
        sample.name,
        { ...sample.labels, ...extraLabels },
        sample.value,
        sample.timestampMs ?? atMs,
      );
      if (outcome === "stored") storedCount++;
    }
    return storedCount;
  }

  async increase(query: IncreaseQuery, context?: QueryContext): Promise<LabeledValue[]> {
    this.count(context);
    return this.increaseAt(query, query.atMs);
  }

  async increaseRange(query: IncreaseRangeQuery, context?: QueryContext): Promise<LabeledSamples[]> {
    this.count(context);
    return pointsByGroup(
      instants(query.startMs, query.endMs, query.stepMs).map((atMs) => ({ atMs, rows: this.increaseAt(query, atMs) })),
    );
  }

  async overTime(query: OverTimeQuery, context?: QueryContext): Promise<LabeledValue[]> {
    this.count(context);
    return this.overTimeAt(query, query.atMs);
  }

  async overTimeRange(query: OverTimeRangeQuery, context?: QueryContext): Promise<LabeledSamples[]> {
    this.count(context);
    return pointsByGroup(
      instants(query.startMs, query.endMs, query.stepMs).map((atMs) => ({ atMs, rows: this.overTimeAt(query, atMs) })),
    );
  }

  private overTimeAt(query: Omit<OverTimeQuery, "atMs">, atMs: number): LabeledValue[] {
    const rows: LabeledValue[] = [];
    for (const series of this.matching(query)) {
      const value = overTimeOf(
        inWindow(series.samplesBetween(atMs - query.windowMs, atMs), atMs, query.windowMs, this.options.windowStart),
        query.fn,
      );
      if (value !== undefined) rows.push({ labels: series.labels, value });
    }
    return aggregateBy(rows, query.by, outerOf(query.fn));
  }

  async hasSeries(metrics: readonly string[], atMs: number, context?: QueryContext): Promise<ReadonlySet<string>> {
    this.count(context);
    const present = new Set<string>();
    for (const metric of metrics) {
      for (const series of this.matching({ metric })) {
        if (
          valueAt(
            series.samplesBetween(atMs - this.options.stalenessMs, atMs),
            atMs,
            this.options.stalenessMs,
            this.options.windowStart,
          ) !== undefined
        ) {
          present.add(metric);
          break;
        }
      }
    }
    return present;
  }

  private increaseAt(
    query: Selection & { readonly windowMs: number; readonly by: readonly string[] },
    atMs: number,
  ): LabeledValue[] {
    const startMs = atMs - query.windowMs;
    // counterIncrease selects (start, end]. Times are taken relative to the window's start, so that
    // the closed [start, end] of Prometheus 2.x is (−Number.MIN_VALUE, end]: the sample on the edge is
    // in, and its distance to the start, MIN_VALUE ÷ 1000, rounds to exactly 0 as in Prometheus.
    const window = { startMs: this.options.windowStart === "inclusive" ? -Number.MIN_VALUE : 0, endMs: query.windowMs };
    const groups = new Map<string, { labels: Record<string, string>; value: number }>();
    for (const series of this.matching(query)) {
      const samples = series.samplesBetween(startMs, atMs, startMs);
      const result = counterIncrease(samples, window);
      if (result === null) continue;
      const labels = keptLabels(series.labels, query.by);
      const key = labelKey(labels);
      const group = groups.get(key);
      if (group) group.value += result.increase;
      else groups.set(key, { labels, value: result.increase });
    }
    return sortedByLabels([...groups.values()]);
  }

  async range(query: RangeQuery, context?: QueryContext): Promise<LabeledSamples[]> {
    this.count(context);
    if (!(query.stepMs > 0)) throw new RangeError(`memory store: range step must be positive, got ${query.stepMs}`);
    const lookback = this.options.stalenessMs;
    const rows: LabeledSamples[] = [];
    for (const series of this.matching(query)) {
      const samples = series.samplesBetween(query.startMs - lookback, query.endMs);
      const points: TimedValue[] = [];
      let next = 0;
      for (let atMs = query.startMs; atMs <= query.endMs; atMs += query.stepMs) {
        while (next < samples.length && (samples[next] as TimedValue).atMs <= atMs) next++;
        const latest = samples[next - 1];
        if (latest !== undefined && this.isFresh(latest.atMs, atMs)) points.push({ atMs, value: latest.value });
      }
      if (points.length > 0) rows.push({ labels: series.labels, samples: points });
    }
    return sortedByLabels(rows);
  }

  async latest(query: LatestQuery, context?: QueryContext): Promise<LabeledValue[]> {
    this.count(context);
    const rows: LabeledValue[] = [];
    for (const series of this.matching(query)) {
      const value = valueAt(
        series.samplesBetween(query.atMs - this.options.stalenessMs, query.atMs),
        query.atMs,
        this.options.stalenessMs,
        this.options.windowStart,
      );
      if (value !== undefined) rows.push({ labels: series.labels, value });
    }
    return query.by === undefined ? sortedByLabels(rows) : aggregateBy(rows, query.by, query.reduce ?? "max");
  }

  /**
   * Writes every series to `path` atomically (a temporary file in the same directory, then a
   * rename), in the format described in memory-store-file.ts.
   */
  async save(path: string): Promise<void> {
    await saveSnapshotFile(path, this.options.tiers, [...this.allSeries()]);
  }

  /**
   * A store holding what `path` holds. A missing file gives an empty store ("missing"); a file that
   * cannot be read back gives an empty store and the error ("corrupt"): the caller decides whether
   * to go on without history. Saved tiers that differ from `options.tiers` are rebuilt by replaying
   * every retained sample. Throws only for invalid options or an unreadable path (permissions).
   */
  static async load(path: string, options: MemoryStoreOptions = {}): Promise<LoadResult> {
    const store = new MemoryStore(options);
    let loaded: LoadedSnapshot | null;
    try {
      loaded = await loadSnapshotFile(path, store.options.tiers);
    } catch (err) {
      if (err instanceof CorruptSnapshotError) return { state: "corrupt", store, error: err };
      throw err;
    }
    if (loaded === null) return { state: "missing", store };
    for (const series of loaded.series) {
      const target = store.seriesFor(series.name, series.labels);
      if (target === null) store.refusedLimit++;
      else if (loaded.hasSameTiers) {
        target.tiers.splice(0, target.tiers.length, ...series.tiers);
        target.lastAtMs = series.lastAtMs;
      } else for (const sample of series.allSamples()) target.append(sample.atMs, sample.value);
    }
    return { state: "loaded", store };
  }

  /**
   * Saves to `path` every `intervalMs` (the first save one interval from now). A failed save is
   * reported to `onError` and retried at the next tick; saves never overlap. The timer does not
   * keep the process alive.
   */
  startPersisting(path: string, intervalMs: number, onError: (err: Error) => void = () => {}): Persister {
    let timer: NodeJS.Timeout | undefined;
    let isStopped = false;
    let running: Promise<void> = Promise.resolve();
    const saveOnce = (): Promise<void> => (running = this.save(path).catch((err: unknown) => onError(toError(err))));
    const schedule = (): void => {
      if (isStopped) return;
      timer = setTimeout(() => void saveOnce().then(schedule), intervalMs);
      timer.unref();
    };
    schedule();
    return {
      stop: async (stopOptions = {}) => {
        if (isStopped) return running;
        isStopped = true;
        clearTimeout(timer);
        await running;
        if (stopOptions.flush === true) await saveOnce();
      },
    };
  }

  /** Counts a query here and in the caller's usage. */
  private count(context: QueryContext | undefined): void {
    this.queries++;
    context?.usage?.countQuery();
  }

  private isFresh(sampleAtMs: number, atMs: number): boolean {
    const age = atMs - sampleAtMs;
    return this.options.windowStart === "inclusive" ? age <= this.options.stalenessMs : age < this.options.stalenessMs;
  }

  private refuse(): IngestOutcome {
    this.refusedLimit++;
    return "series-limit";
  }

  private appendTo(series: TieredSeries, value: number, atMs: number): IngestOutcome {
    if (!series.append(atMs, value)) {
      this.refusedOrder++;
      return "out-of-order";
    }
    this.stored++;
    return "stored";
  }

  private seriesFor(name: string, labels: SeriesLabels): TieredSeries | null {
    let named = this.byName.get(name);
    const key = seriesKey(name, labels);
    const existing = named?.get(key);
    if (existing !== undefined) return existing;
    if (this.seriesCount >= this.options.maxSeries) return null;
    if (named === undefined) this.byName.set(name, (named = new Map<string, TieredSeries>()));
    const sorted: Record<string, string> = {};
    for (const label of Object.keys(labels).sort()) sorted[label] = labels[label] as string;
    const series = new TieredSeries(name, Object.freeze(sorted), this.options.tiers);
    named.set(key, series);
    this.seriesCount++;
    return series;
  }

  private *matching(selection: Selection): Iterable<TieredSeries> {
    const named = this.byName.get(selection.metric);
    if (named === undefined) return;
    for (const series of named.values())
      if (matchesSelection(series.labels, selection.match, selection.oneOf)) yield series;
  }

  private *allSeries(): Iterable<TieredSeries> {
    for (const named of this.byName.values()) yield* named.values();
  }
}
