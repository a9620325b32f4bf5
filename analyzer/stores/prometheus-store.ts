/**
 * The MetricStore over the Prometheus HTTP API: instant queries (`/api/v1/query` with `time=`) and
 * range queries (`/api/v1/query_range`), sent as form-encoded POSTs so that long selectors never
 * meet URL length limits. Only the two query endpoints are used, which Thanos Query, Mimir,
 * Cortex and VictoriaMetrics serve the same way (https://prometheus.io/docs/prometheus/latest/querying/api/).
 *
 * Credentials in the URL (`https://user:pass@host/prometheus`) become a Basic authorization
 * header; extra headers (a bearer token, Mimir's `X-Scope-OrgID`) pass through. Neither ever
 * appears in an error message: errors name the URL without its credentials, and the query.
 */
import { z } from "zod";
import type { IncreaseQuery, LabeledSamples, LabeledValue, LabelMatch, MetricStore, RangeQuery, SeriesLabels } from "./metric-store.js";

/** Options of createPrometheusStore. */
export interface PrometheusStoreOptions {
  /** Base URL of the API, without `/api/v1`: `http://prometheus:9090`, `http://mimir/prometheus`. */
  readonly url: string;
  /** Per-request limit, milliseconds. */
  readonly timeoutMs: number;
  /** Extra request headers (authorization, tenant); never logged. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The fetch to use; the global one by default (tests pass recorded servers' URLs instead). */
  readonly fetch?: typeof fetch;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Prometheus's sample value encoding: a string, with `NaN`, `+Inf` and `-Inf` spelled out. */
const sampleValue = z.string().transform((text, ctx) => {
  const value = text === "+Inf" ? Infinity : text === "-Inf" ? -Infinity : text === "NaN" ? NaN : Number(text);
  if (Number.isNaN(value) && text !== "NaN") {
    ctx.addIssue({ code: "custom", message: `not a sample value: ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  return value;
});
const samplePair = z.tuple([z.number(), sampleValue]);
const metricLabels = z.record(z.string(), z.string());
const vectorData = z.object({ resultType: z.literal("vector"), result: z.array(z.object({ metric: metricLabels, value: samplePair })) });
const matrixData = z.object({ resultType: z.literal("matrix"), result: z.array(z.object({ metric: metricLabels, values: z.array(samplePair) })) });
const errorBody = z.object({ status: z.literal("error"), errorType: z.string().optional(), error: z.string().optional() });

/** Escapes a label value for a PromQL string literal (backslash, double quote, newline). */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** `metric{a="x",b="y"}` with validated names and escaped values. */
export function renderSelector(metric: string, match: LabelMatch = {}): string {
  if (!METRIC_NAME.test(metric)) throw new Error(`prometheus store: invalid metric name ${JSON.stringify(metric)}`);
  const matchers = Object.entries(match).map(([name, value]) => {
    if (!LABEL_NAME.test(name)) throw new Error(`prometheus store: invalid label name ${JSON.stringify(name)}`);
    return `${name}="${escapeLabelValue(value)}"`;
  });
  return matchers.length === 0 ? metric : `${metric}{${matchers.join(",")}}`;
}

/**
 * A range selector's duration as Prometheus 2.x parses it: whole seconds (`3600s`), else whole
 * milliseconds (`1500ms`); never fractions, which 2.x refuses.
 */
export function renderDuration(ms: number): string {
  if (!(ms > 0) || !Number.isInteger(ms)) throw new Error(`prometheus store: window must be a positive whole number of milliseconds, got ${ms}`);
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** `sum by (<by>) (increase(<metric>{<match>}[<window>]))`. */
export function renderIncreaseQuery(query: Pick<IncreaseQuery, "metric" | "windowMs" | "by" | "match">): string {
  for (const name of query.by) if (!LABEL_NAME.test(name)) throw new Error(`prometheus store: invalid label name ${JSON.stringify(name)}`);
  const inner = `increase(${renderSelector(query.metric, query.match)}[${renderDuration(query.windowMs)}])`;
  return query.by.length === 0 ? `sum(${inner})` : `sum by (${query.by.join(", ")}) (${inner})`;
}

/** Unix seconds with millisecond precision, as the API's `time`, `start` and `end` take them. */
export function renderTime(ms: number): string {
  const rounded = Math.round(ms);
  const seconds = Math.floor(rounded / 1000);
  return `${seconds}.${String(rounded - seconds * 1000).padStart(3, "0")}`;
}

function withoutName(labels: Record<string, string>): SeriesLabels {
  const { __name__: _name, ...rest } = labels;
  return rest;
}

/** The API URL without credentials, and the Basic authorization they become. */
function splitCredentials(url: string): { base: string; authorization: string | undefined } {
  const base = new URL(url);
  let authorization: string | undefined;
  if (base.username !== "" || base.password !== "") {
    authorization = `Basic ${Buffer.from(`${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`).toString("base64")}`;
    base.username = "";
    base.password = "";
  }
  return { base: `${base.origin}${base.pathname.replace(/\/+$/, "")}`, authorization };
}

/**
 * A MetricStore over the Prometheus HTTP API. `increase` is one instant query per call (so one per
 * metric and window, whatever the number of SLOs), `range` one range query, `latest` one instant
 * query of the selector. Errors carry the query, the status and Prometheus's own error text.
 */
export function createPrometheusStore(options: PrometheusStoreOptions): MetricStore {
  const { base, authorization } = splitCredentials(options.url);
  const doFetch = options.fetch ?? fetch;
  const headers: Record<string, string> = { ...options.headers, "content-type": "application/x-www-form-urlencoded", accept: "application/json" };
  if (authorization !== undefined) headers["authorization"] = authorization;
  let queries = 0;

  async function call<T>(endpoint: "query" | "query_range", params: Record<string, string>, schema: z.ZodType<T>): Promise<T> {
    queries++;
    const where = `${base}/api/v1/${endpoint}`;
    const context = `prometheus ${where}: query ${params["query"] ?? ""}`;
    let response: Response;
    let text: string;
    try {
      // A redirect would turn the POST into a GET without the query: name it instead of following it.
      response = await doFetch(where, { method: "POST", headers, body: new URLSearchParams(params).toString(), redirect: "manual", signal: AbortSignal.timeout(options.timeoutMs) });
      text = await response.text();
    } catch (err) {
      const isTimeout = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
      throw new Error(isTimeout ? `${context}: no answer within ${options.timeoutMs} ms` : `${context}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (response.status >= 300 && response.status < 400) {
      throw new Error(`${context}: HTTP ${response.status} redirect to ${response.headers.get("location") ?? "?"}; give the final URL`);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new Error(`${context}: HTTP ${response.status}, not a JSON answer: ${text.slice(0, 200)}`, { cause: err });
    }
    const failed = errorBody.safeParse(body);
    if (failed.success) throw new Error(`${context}: HTTP ${response.status} ${failed.data.errorType ?? "error"}: ${failed.data.error ?? "(no message)"}`);
    if (!response.ok) throw new Error(`${context}: HTTP ${response.status}: ${text.slice(0, 200)}`);
    const parsed = z.object({ status: z.literal("success"), data: schema }).safeParse(body);
    if (!parsed.success) throw new Error(`${context}: unexpected answer: ${z.prettifyError(parsed.error).replace(/\n/g, "; ")}`);
    return parsed.data.data;
  }

  async function instant(query: string, atMs: number): Promise<LabeledValue[]> {
    const data = await call("query", { query, time: renderTime(atMs) }, vectorData);
    return data.result.map((row) => ({ labels: withoutName(row.metric), value: row.value[1] }));
  }

  return {
    kind: "prometheus",
    get queryCount() {
      return queries;
    },
    increase: (query) => instant(renderIncreaseQuery(query), query.atMs),
    latest: (query) => instant(renderSelector(query.metric, query.match), query.atMs),
    async range(query: RangeQuery): Promise<LabeledSamples[]> {
      const params = { query: renderSelector(query.metric, query.match), start: renderTime(query.startMs), end: renderTime(query.endMs), step: `${query.stepMs / 1000}` };
      const data = await call("query_range", params, matrixData);
      return data.result.map((row) => ({ labels: withoutName(row.metric), samples: row.values.map(([seconds, value]) => ({ atMs: Math.round(seconds * 1000), value })) }));
    },
  };
}
