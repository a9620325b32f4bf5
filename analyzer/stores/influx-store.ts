/**
 * The MetricStore over InfluxDB 1.x (InfluxQL through the `influx` package), reading the layout the
 * agent's InfluxDB sink writes and InfluxDB's own Prometheus remote-write endpoint produces: one
 * measurement per metric name (optionally prefixed), labels as tags, one float field `value`.
 *
 * InfluxQL has no counter-reset-aware increase, so `increase` reads the raw samples of the window
 * (`SELECT "value" … GROUP BY *`) and applies the same Prometheus semantics as the memory store
 * (analyzer/fleet/utilization.ts counterIncrease: resets, extrapolation to the window's edges);
 * `range` and `latest` read raw samples and apply Prometheus's lookback (staleness) window. The
 * three therefore give the answers the Prometheus store gives over the same samples
 * (test/analyzer/stores/store-contract.test.ts). Each call is one InfluxQL query.
 *
 * Source: `influx=http://[user:password@]host:8086[/path]?db=<database>&rp=<retention policy>&prefix=<measurement prefix>`
 * (db defaults to `inferwatch`, rp to the database's default). Credentials in the URL become Basic
 * auth and never appear in errors. A result InfluxDB cut short (`max-row-limit`) is an error, not a
 * silently smaller answer: read a downsampled retention policy for long windows, or raise the limit.
 */
import { InfluxDB, type IPoolOptions } from "influx";
import { z } from "zod";
import { redactSecrets } from "../../common/auth/redact.js";
import { counterIncrease, DEFAULT_STALENESS_MS, type TimedValue } from "../fleet/utilization.js";
import type {
  IncreaseQuery,
  IncreaseRangeQuery,
  LabeledSamples,
  LabeledValue,
  LabelMatch,
  LabelOneOf,
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
  outerOf,
  overTimeOf,
  pointsByGroup,
  sortedByLabels,
} from "./series-math.js";

/** Options of createInfluxStore. */
export interface InfluxStoreOptions {
  /** See the module comment. */
  readonly url: string;
  /** Per-query limit, milliseconds. */
  readonly timeoutMs: number;
  /** Prometheus's lookback delta for `latest` and `range`; 5 minutes by default. */
  readonly stalenessMs?: number;
  /** Whether a sample exactly at a window's start belongs to it: Prometheus 2.x "inclusive" (default), 3.x "exclusive". */
  readonly windowStart?: "inclusive" | "exclusive";
}

/** The parts of an `influx=` source URL. */
export interface InfluxSource {
  /** Base URL without credentials or query. */
  readonly base: string;
  readonly database: string;
  /** Empty: the database's default retention policy. */
  readonly retentionPolicy: string;
  readonly prefix: string;
  readonly username?: string;
  readonly password?: string;
}

/** No pool backoff: the `influx` pool would otherwise refuse every query for up to 10 s after one failure. */
const NO_POOL_BACKOFF: NonNullable<IPoolOptions["backoff"]> = {
  getDelay: () => 0,
  next: () => NO_POOL_BACKOFF,
  reset: () => NO_POOL_BACKOFF,
};

const answerSchema = z.object({
  results: z.array(
    z.object({
      error: z.string().optional(),
      partial: z.boolean().optional(),
      series: z
        .array(
          z.object({
            name: z.string(),
            tags: z.record(z.string(), z.string()).optional(),
            columns: z.array(z.string()),
            values: z.array(z.array(z.unknown())),
          }),
        )
        .optional(),
    }),
  ),
  error: z.string().optional(),
});
type AnswerSeries = NonNullable<z.infer<typeof answerSchema>["results"][number]["series"]>[number];

/** Splits an `influx=` source URL (see the module comment); throws a clear error for a malformed one. */
export function parseInfluxSource(url: string): InfluxSource {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`influx store: not a URL: ${JSON.stringify(redactSecrets(url))}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    throw new Error(`influx store: expected an http(s) URL, got ${parsed.protocol}`);
  const params = parsed.searchParams;
  const source: InfluxSource = {
    base: `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}`,
    database: params.get("db") ?? "inferwatch",
    retentionPolicy: params.get("rp") ?? "",
    prefix: params.get("prefix") ?? "",
    ...(parsed.username === ""
      ? {}
      : { username: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) }),
  };
  if (source.database === "") throw new Error("influx store: db= must not be empty");
  return source;
}

/** An InfluxQL double-quoted identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** An InfluxQL single-quoted string literal. */
export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/**
 * `WHERE` of a query: the time bounds (milliseconds, inclusive unless `isStartExclusive`), the
 * exact-match tags and the tags whose value must be one of a set. An empty match value matches
 * series without the tag, as in PromQL.
 */
export function renderWhere(
  fromMs: number,
  toMs: number,
  match: LabelMatch = {},
  isStartExclusive = false,
  oneOf: LabelOneOf = {},
): string {
  const conditions = [`time ${isStartExclusive ? ">" : ">="} ${Math.ceil(fromMs)}ms`, `time <= ${Math.floor(toMs)}ms`];
  for (const [name, value] of Object.entries(match))
    conditions.push(`${quoteIdentifier(name)} = ${quoteString(value)}`);
  for (const [name, values] of Object.entries(oneOf)) {
    conditions.push(
      values.length === 0
        ? "false"
        : `(${values.map((value) => `${quoteIdentifier(name)} = ${quoteString(value)}`).join(" OR ")})`,
    );
  }
  return conditions.join(" AND ");
}

function labelsOf(tags: Readonly<Record<string, string>> | undefined): SeriesLabels {
  const labels: Record<string, string> = {};
  // GROUP BY * lists every tag key of the measurement, with "" where the series lacks it.
  for (const name of Object.keys(tags ?? {}).sort()) if (tags?.[name] !== "") labels[name] = tags?.[name] as string;
  return labels;
}

/** A series' (time, value) rows as TimedValues, oldest first, times minus `originMs`. */
function samplesOf(series: AnswerSeries, originMs = 0): TimedValue[] {
  const time = series.columns.indexOf("time");
  const value = series.columns.indexOf(series.columns.find((c) => c !== "time") ?? "value");
  const samples: TimedValue[] = [];
  for (const row of series.values) {
    const atMs = row[time];
    const v = row[value];
    if (typeof atMs === "number" && typeof v === "number") samples.push({ atMs: atMs - originMs, value: v });
  }
  return samples;
}

/** A MetricStore over InfluxDB 1.x; see the module comment. */
export function createInfluxStore(options: InfluxStoreOptions): MetricStore {
  const source = parseInfluxSource(options.url);
  const base = new URL(source.base);
  const client = new InfluxDB({
    hosts: [
      {
        host: base.hostname,
        port: Number(base.port || (base.protocol === "https:" ? 443 : 80)),
        protocol: base.protocol === "https:" ? "https" : "http",
        path: base.pathname,
      },
    ],
    database: source.database,
    ...(source.username === undefined ? {} : { username: source.username, password: source.password ?? "" }),
    pool: { maxRetries: 0, requestTimeout: options.timeoutMs, backoff: NO_POOL_BACKOFF },
  });
  const stalenessMs = options.stalenessMs ?? DEFAULT_STALENESS_MS;
  const isExclusive = options.windowStart === "exclusive";
  let queries = 0;

  async function select(
    what: string,
    metric: string,
    where: string,
    queryContext: QueryContext = {},
  ): Promise<AnswerSeries[]> {
    queries++;
    queryContext.usage?.countQuery();
    const q = `SELECT ${what} FROM ${quoteIdentifier(source.prefix + metric)} WHERE ${where} GROUP BY *`;
    const context = `influx ${source.base} (db ${source.database}${source.retentionPolicy === "" ? "" : `, rp ${source.retentionPolicy}`}): query ${q}`;
    let raw: unknown;
    try {
      raw = await client.queryRaw(q, {
        database: source.database,
        precision: "ms",
        method: "POST",
        ...(source.retentionPolicy === "" ? {} : { retentionPolicy: source.retentionPolicy }),
      });
    } catch (err) {
      throw new Error(`${context}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const answer = answerSchema.safeParse(raw);
    if (!answer.success)
      throw new Error(`${context}: unexpected answer: ${z.prettifyError(answer.error).replace(/\n/g, "; ")}`);
    const result = answer.data.results[0];
    const failed = answer.data.error ?? result?.error;
    if (failed !== undefined) throw new Error(`${context}: ${failed}`);
    if (result?.partial === true)
      throw new Error(
        `${context}: InfluxDB cut the answer short (max-row-limit); query a downsampled retention policy or raise the limit`,
      );
    return result?.series ?? [];
  }

  const where = (q: Selection, fromMs: number, toMs: number, isStartExclusive = isExclusive) =>
    renderWhere(fromMs, toMs, q.match, isStartExclusive, q.oneOf);
  /** Raw samples of every selected series in [fromMs, toMs], with their labels. */
  const held = async (q: Selection, fromMs: number, toMs: number, context?: QueryContext) =>
    (await select(`"value"`, q.metric, where(q, fromMs, toMs, false), context)).map((row) => ({
      labels: labelsOf(row.tags),
      samples: samplesOf(row),
    }));
  /** `sum by (by) (increase(…))` at `atMs` over held samples (times relative to the window's start, as in the memory store). */
  const increaseAt = (
    series: readonly { labels: SeriesLabels; samples: readonly TimedValue[] }[],
    q: { windowMs: number; by: readonly string[] },
    atMs: number,
  ): LabeledValue[] => {
    const startMs = atMs - q.windowMs;
    const window = { startMs: isExclusive ? 0 : -Number.MIN_VALUE, endMs: q.windowMs };
    const groups = new Map<string, { labels: Record<string, string>; value: number }>();
    for (const row of series) {
      const relative = row.samples
        .filter((s) => s.atMs >= startMs && s.atMs <= atMs)
        .map((s) => ({ atMs: s.atMs - startMs, value: s.value }));
      const result = counterIncrease(relative, window);
      if (result === null) continue;
      const labels = keptLabels(row.labels, q.by);
      const key = labelKey(labels);
      const group = groups.get(key);
      if (group) group.value += result.increase;
      else groups.set(key, { labels, value: result.increase });
    }
    return sortedByLabels([...groups.values()]);
  };

  const overTimeAt = (
    series: readonly { labels: SeriesLabels; samples: readonly TimedValue[] }[],
    q: Omit<OverTimeQuery, "atMs">,
    atMs: number,
  ): LabeledValue[] => {
    const rows: LabeledValue[] = [];
    for (const row of series) {
      const value = overTimeOf(inWindow(row.samples, atMs, q.windowMs, isExclusive ? "exclusive" : "inclusive"), q.fn);
      if (value !== undefined) rows.push({ labels: row.labels, value });
    }
    return aggregateBy(rows, q.by, outerOf(q.fn));
  };

  return {
    kind: "influx",
    get queryCount() {
      return queries;
    },

    async increase(query: IncreaseQuery, context?: QueryContext): Promise<LabeledValue[]> {
      return increaseAt(await held(query, query.atMs - query.windowMs, query.atMs, context), query, query.atMs);
    },

    async increaseRange(query: IncreaseRangeQuery, context?: QueryContext): Promise<LabeledSamples[]> {
      const series = await held(query, query.startMs - query.windowMs, query.endMs, context);
      return pointsByGroup(
        instants(query.startMs, query.endMs, query.stepMs).map((atMs) => ({
          atMs,
          rows: increaseAt(series, query, atMs),
        })),
      );
    },

    async overTime(query: OverTimeQuery, context?: QueryContext): Promise<LabeledValue[]> {
      return overTimeAt(await held(query, query.atMs - query.windowMs, query.atMs, context), query, query.atMs);
    },

    async overTimeRange(query: OverTimeRangeQuery, context?: QueryContext): Promise<LabeledSamples[]> {
      const series = await held(query, query.startMs - query.windowMs, query.endMs, context);
      return pointsByGroup(
        instants(query.startMs, query.endMs, query.stepMs).map((atMs) => ({
          atMs,
          rows: overTimeAt(series, query, atMs),
        })),
      );
    },

    async hasSeries(metrics: readonly string[], atMs: number, context?: QueryContext): Promise<ReadonlySet<string>> {
      const present = new Set<string>();
      for (const metric of metrics) {
        const rows = await select(
          `last("value")`,
          metric,
          renderWhere(atMs - stalenessMs, atMs, {}, isExclusive),
          context,
        );
        if (rows.some((row) => row.values.length > 0)) present.add(metric);
      }
      return present;
    },

    async range(query: RangeQuery, context?: QueryContext): Promise<LabeledSamples[]> {
      if (!(query.stepMs > 0)) throw new RangeError(`influx store: range step must be positive, got ${query.stepMs}`);
      const series = await select(
        `"value"`,
        query.metric,
        where(query, query.startMs - stalenessMs, query.endMs),
        context,
      );
      const rows: LabeledSamples[] = [];
      for (const row of series) {
        const samples = samplesOf(row);
        const points: TimedValue[] = [];
        let next = 0;
        for (let atMs = query.startMs; atMs <= query.endMs; atMs += query.stepMs) {
          while (next < samples.length && (samples[next] as TimedValue).atMs <= atMs) next++;
          const latest = samples[next - 1];
          const age = latest === undefined ? Infinity : atMs - latest.atMs;
          if (latest !== undefined && (isExclusive ? age < stalenessMs : age <= stalenessMs))
            points.push({ atMs, value: latest.value });
        }
        if (points.length > 0) rows.push({ labels: labelsOf(row.tags), samples: points });
      }
      return sortedByLabels(rows);
    },

    async latest(query: LatestQuery, context?: QueryContext): Promise<LabeledValue[]> {
      const series = await select(
        `last("value")`,
        query.metric,
        where(query, query.atMs - stalenessMs, query.atMs),
        context,
      );
      const rows: LabeledValue[] = [];
      for (const row of series) {
        const last = samplesOf(row).at(-1);
        if (last !== undefined) rows.push({ labels: labelsOf(row.tags), value: last.value });
      }
      return query.by === undefined ? sortedByLabels(rows) : aggregateBy(rows, query.by, query.reduce ?? "max");
    },
  };
}
