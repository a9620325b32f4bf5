/**
 * The MetricStore over the Prometheus HTTP API: instant queries (`/api/v1/query` with `time=`) and
 * range queries (`/api/v1/query_range`), sent as form-encoded POSTs so that long selectors never
 * meet URL length limits. Only the two query endpoints are used, which Thanos Query, Mimir,
 * Cortex and VictoriaMetrics serve the same way (https://prometheus.io/docs/prometheus/latest/querying/api/).
 *
 * Every query aggregates in Prometheus (promql.ts); the transport (prometheus-client.ts) caps
 * concurrency, retries 429/503, bounds each answer's size and reports warnings. A query asked with
 * a `shardBy` label whose answer is still over the size limit is asked again in shards of that
 * label's values (by their last characters, deeper where a shard is still too large), and the
 * shards' answers are joined: memory stays bounded whatever the fleet's size.
 */
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
  SeriesLabels,
} from "./metric-store.js";
import { AnswerShapeError, readMatrix, readVector } from "./prometheus-answer.js";
import { AnswerTooLargeError, PrometheusClient, type PrometheusClientOptions } from "./prometheus-client.js";
import {
  childShards,
  regexMatcher,
  renderIncreaseQuery,
  renderLatestQuery,
  renderOverTimeQuery,
  renderPresenceQuery,
  renderTime,
  selectorOf,
  shardRegex,
  type Shard,
} from "./promql.js";
import { sortedByLabels } from "./series-math.js";

export { renderDuration, renderIncreaseQuery, renderSelector, renderTime } from "./promql.js";

/** Options of createPrometheusStore (the client's: URL, timeout, concurrency, size limit, retries). */
export type PrometheusStoreOptions = PrometheusClientOptions;

/** How deep sharding goes: two trailing characters, up to 17 × 17 shards. */
const MAX_SHARD_DEPTH = 2;

/** A MetricStore over the Prometheus API, and a way to close its idle connections. */
export interface PrometheusStore extends MetricStore {
  readonly kind: "prometheus";
  close(): void;
}

/**
 * A MetricStore over the Prometheus HTTP API. `increase`, `latest`, `overTime` and `hasSeries`
 * are one instant query each (`increaseRange`, `overTimeRange` and `range` one range query), unless
 * the answer has to be sharded. Errors carry the query, the status
 * and Prometheus's own error text.
 */
export function createPrometheusStore(options: PrometheusStoreOptions): PrometheusStore {
  const client = new PrometheusClient(options);
  /** Queries whose answer was too large once: the next evaluation shards them from the start. */
  const largeQueries = new Set<string>();

  async function ask<T>(
    endpoint: "query" | "query_range",
    params: Record<string, string>,
    read: (data: unknown) => T,
    context: QueryContext,
  ): Promise<T> {
    const { data } = await client.query(endpoint, params, context);
    try {
      return read(data);
    } catch (err) {
      if (!(err instanceof AnswerShapeError)) throw err;
      throw new Error(
        `prometheus ${client.where}/api/v1/${endpoint}: query ${params["query"] ?? ""}: unexpected answer: ${err.message}`,
        { cause: err },
      );
    }
  }

  /** Runs `run` whole, or in shards of `context.shardBy` when the answer is too large; joins the shards. */
  async function sharded<T extends { readonly labels: SeriesLabels }>(
    key: string,
    context: QueryContext,
    run: (extra: readonly string[]) => Promise<T[]>,
  ): Promise<T[]> {
    const label = context.shardBy;
    if (label === undefined) return run([]);
    const runShard = async (shard: Shard | undefined): Promise<T[]> => {
      try {
        return await run(shard === undefined ? [] : [regexMatcher(label, shardRegex(shard))]);
      } catch (err) {
        if (
          !(err instanceof AnswerTooLargeError) ||
          shard?.isExact === true ||
          (shard?.suffix.length ?? 0) >= MAX_SHARD_DEPTH
        )
          throw err;
        largeQueries.add(key);
        return splitShard(shard);
      }
    };
    let isSplit = false;
    const splitShard = async (shard: Shard | undefined): Promise<T[]> => {
      context.usage?.countSharded();
      isSplit = true;
      const rows: T[] = [];
      // One shard at a time: the point is to hold one bounded answer at once.
      for (const child of childShards(shard)) rows.push(...(await runShard(child)));
      return rows;
    };
    const rows = await (largeQueries.has(key) ? splitShard(undefined) : runShard(undefined));
    // Joined shards come in shard order; a whole answer is already in Prometheus's order.
    return isSplit ? sortedByLabels(rows) : rows;
  }

  const instant = (
    render: (extra: readonly string[]) => string,
    atMs: number,
    context: QueryContext,
  ): Promise<LabeledValue[]> =>
    sharded(render([]), context, (extra) =>
      ask("query", { query: render(extra), time: renderTime(atMs) }, readVector, context),
    );

  const ranged = (
    render: (extra: readonly string[]) => string,
    q: { startMs: number; endMs: number; stepMs: number },
    context: QueryContext,
  ): Promise<LabeledSamples[]> =>
    sharded(render([]), context, (extra) =>
      ask(
        "query_range",
        { query: render(extra), start: renderTime(q.startMs), end: renderTime(q.endMs), step: `${q.stepMs / 1000}` },
        readMatrix,
        context,
      ),
    );

  return {
    kind: "prometheus",
    get queryCount() {
      return client.queryCount;
    },
    close: () => client.close(),
    increase: (query: IncreaseQuery, context: QueryContext = {}) =>
      instant((extra) => renderIncreaseQuery(query, extra), query.atMs, context),
    increaseRange: (query: IncreaseRangeQuery, context: QueryContext = {}) =>
      ranged((extra) => renderIncreaseQuery(query, extra), query, context),
    latest: (query: LatestQuery, context: QueryContext = {}) =>
      instant((extra) => renderLatestQuery(query, extra), query.atMs, context),
    overTime: (query: OverTimeQuery, context: QueryContext = {}) =>
      instant((extra) => renderOverTimeQuery(query, extra), query.atMs, context),
    overTimeRange: (query: OverTimeRangeQuery, context: QueryContext = {}) =>
      ranged((extra) => renderOverTimeQuery(query, extra), query, context),
    range: (query: RangeQuery, context: QueryContext = {}) =>
      ranged((extra) => selectorOf(query, extra), query, context),

    async hasSeries(
      metrics: readonly string[],
      atMs: number,
      context: QueryContext = {},
    ): Promise<ReadonlySet<string>> {
      if (metrics.length === 0) return new Set();
      const rows = await ask(
        "query",
        { query: renderPresenceQuery(metrics), time: renderTime(atMs) },
        (data) => readVector(data, { keepName: true }),
        context,
      );
      return new Set(rows.map((row) => row.labels["__name__"] ?? "").filter((name) => metrics.includes(name)));
    },
  };
}
