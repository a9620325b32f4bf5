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
import type { IncreaseQuery, LabeledSamples, LabeledValue, LabelMatch, LatestQuery, MetricStore, RangeQuery, SeriesLabels } from "./metric-store.js";

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
const NO_POOL_BACKOFF: NonNullable<IPoolOptions["backoff"]> = { getDelay: () => 0, next: () => NO_POOL_BACKOFF, reset: () => NO_POOL_BACKOFF };

const answerSchema = z.object({
  results: z.array(z.object({
    error: z.string().optional(),
    partial: z.boolean().optional(),
    series: z.array(z.object({ name: z.string(), tags: z.record(z.string(), z.string()).optional(), columns: z.array(z.string()), values: z.array(z.array(z.unknown())) })).optional(),
  })),
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
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error(`influx store: expected an http(s) URL, got ${parsed.protocol}`);
  const params = parsed.searchParams;
  const source: InfluxSource = {
    base: `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}`,
    database: params.get("db") ?? "inferwatch",
    retentionPolicy: params.get("rp") ?? "",
    prefix: params.get("prefix") ?? "",
    ...(parsed.username === "" ? {} : { username: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) }),
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
 * `WHERE` of a query: the time bounds (milliseconds, inclusive unless `isStartExclusive`) and the
 * exact-match tags. An empty match value matches series without the tag, as in PromQL.
 */
export function renderWhere(fromMs: number, toMs: number, match: LabelMatch = {}, isStartExclusive = false): string {
  const conditions = [`time ${isStartExclusive ? ">" : ">="} ${Math.ceil(fromMs)}ms`, `time <= ${Math.floor(toMs)}ms`];
  for (const [name, value] of Object.entries(match)) conditions.push(`${quoteIdentifier(name)} = ${quoteString(value)}`);
  return conditions.join(" AND ");
}

function labelsOf(tags: Readonly<Record<string, string>> | undefined): SeriesLabels {
  const labels: Record<string, string> = {};
  // GROUP BY * lists every tag key of the measurement, with "" where the series lacks it.
  for (const name of Object.keys(tags ?? {}).sort()) if (tags?.[name] !== "") labels[name] = tags?.[name] as string;
  return labels;
}

function labelKey(labels: SeriesLabels): string {
  let key = "";
  for (const name of Object.keys(labels).sort()) key += `\u0000${name}\u0001${labels[name] as string}`;
  return key;
}

function sortedByLabels<T extends { readonly labels: SeriesLabels }>(rows: T[]): T[] {
  const keyed = rows.map((row) => ({ row, key: labelKey(row.labels) }));
  return keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map(({ row }) => row);
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
    hosts: [{ host: base.hostname, port: Number(base.port || (base.protocol === "https:" ? 443 : 80)), protocol: base.protocol === "https:" ? "https" : "http", path: base.pathname }],
    database: source.database,
    ...(source.username === undefined ? {} : { username: source.username, password: source.password ?? "" }),
    pool: { maxRetries: 0, requestTimeout: options.timeoutMs, backoff: NO_POOL_BACKOFF },
  });
  const stalenessMs = options.stalenessMs ?? DEFAULT_STALENESS_MS;
  const isExclusive = options.windowStart === "exclusive";
  let queries = 0;

  async function select(what: string, metric: string, where: string): Promise<AnswerSeries[]> {
    queries++;
    const q = `SELECT ${what} FROM ${quoteIdentifier(source.prefix + metric)} WHERE ${where} GROUP BY *`;
    const context = `influx ${source.base} (db ${source.database}${source.retentionPolicy === "" ? "" : `, rp ${source.retentionPolicy}`}): query ${q}`;
    let raw: unknown;
    try {
      raw = await client.queryRaw(q, { database: source.database, precision: "ms", method: "POST", ...(source.retentionPolicy === "" ? {} : { retentionPolicy: source.retentionPolicy }) });
    } catch (err) {
      throw new Error(`${context}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const answer = answerSchema.safeParse(raw);
    if (!answer.success) throw new Error(`${context}: unexpected answer: ${z.prettifyError(answer.error).replace(/\n/g, "; ")}`);
    const result = answer.data.results[0];
    const failed = answer.data.error ?? result?.error;
    if (failed !== undefined) throw new Error(`${context}: ${failed}`);
    if (result?.partial === true) throw new Error(`${context}: InfluxDB cut the answer short (max-row-limit); query a downsampled retention policy or raise the limit`);
    return result?.series ?? [];
  }

  return {
    kind: "influx",
    get queryCount() {
      return queries;
    },

    async increase(query: IncreaseQuery): Promise<LabeledValue[]> {
      const startMs = query.atMs - query.windowMs;
      const series = await select(`"value"`, query.metric, renderWhere(startMs, query.atMs, query.match, isExclusive));
      // As in the memory store: times relative to the window's start, whose inclusive edge is −MIN_VALUE.
      const window = { startMs: isExclusive ? 0 : -Number.MIN_VALUE, endMs: query.windowMs };
      const groups = new Map<string, { labels: Record<string, string>; value: number }>();
      for (const row of series) {
        const result = counterIncrease(samplesOf(row, startMs), window);
        if (result === null) continue;
        const all = labelsOf(row.tags);
        const labels: Record<string, string> = {};
        for (const name of query.by) if (all[name] !== undefined) labels[name] = all[name] as string;
        const key = labelKey(labels);
        const group = groups.get(key);
        if (group) group.value += result.increase;
        else groups.set(key, { labels, value: result.increase });
      }
      return sortedByLabels([...groups.values()]);
    },

    async range(query: RangeQuery): Promise<LabeledSamples[]> {
      if (!(query.stepMs > 0)) throw new RangeError(`influx store: range step must be positive, got ${query.stepMs}`);
      const series = await select(`"value"`, query.metric, renderWhere(query.startMs - stalenessMs, query.endMs, query.match, isExclusive));
      const rows: LabeledSamples[] = [];
      for (const row of series) {
        const samples = samplesOf(row);
        const points: TimedValue[] = [];
        let next = 0;
        for (let atMs = query.startMs; atMs <= query.endMs; atMs += query.stepMs) {
          while (next < samples.length && (samples[next] as TimedValue).atMs <= atMs) next++;
          const latest = samples[next - 1];
          const age = latest === undefined ? Infinity : atMs - latest.atMs;
          if (latest !== undefined && (isExclusive ? age < stalenessMs : age <= stalenessMs)) points.push({ atMs, value: latest.value });
        }
        if (points.length > 0) rows.push({ labels: labelsOf(row.tags), samples: points });
      }
      return sortedByLabels(rows);
    },

    async latest(query: LatestQuery): Promise<LabeledValue[]> {
      const series = await select(`last("value")`, query.metric, renderWhere(query.atMs - stalenessMs, query.atMs, query.match, isExclusive));
      const rows: LabeledValue[] = [];
      for (const row of series) {
        const last = samplesOf(row).at(-1);
        if (last !== undefined) rows.push({ labels: labelsOf(row.tags), value: last.value });
      }
      return sortedByLabels(rows);
    },
  };
}
