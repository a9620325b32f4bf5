/**
 * The live console at `/` on the analyzer's listener (same TLS and tokens as the API: a viewer
 * token reads it): the page, its client scripts and stylesheet (served from analyzer/console/client
 * as they are; no build step), the ECharts browser bundle from the installed package (no CDN: the
 * page works offline and sends nothing off the machine), and two JSON endpoints the other API
 * routes did not cover: the utilization grid of the last hours and the runtimes' gauges per model.
 * Both are computed at most once per evaluation, at the evaluation's instant, like the rest of the API.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { errorMessage } from "../../common/errors.js";
import { json, type RouteHandler, type RouteResponse } from "../../common/http-server.js";
import { projectPath } from "../../common/paths.js";
import type { PoolOf } from "../fleet/assemble.js";
import type { AnalyzerState } from "../analyzer-state.js";
import type { MetricStore } from "../stores/metric-store.js";
import { consolePage } from "./console-page.js";
import { runtimeNow, PREEMPTION_WINDOW_MS, PREFIX_CACHE_WINDOW_MS } from "./runtime-now.js";
import { utilizationHistory, HISTORY_WINDOW_MS } from "./utilization-history.js";
import type { UtilizationBasis } from "../fleet/utilization-basis.js";

/** What the console reads. */
export interface ConsoleOptions {
  readonly store: MetricStore;
  readonly poolOf: PoolOf;
  readonly state: () => AnalyzerState;
  /** How often the page fetches again: the evaluation interval, at least 5 s. */
  readonly refreshMs: number;
  /** The utilization basis of the heatmap and the pools' lines (as the fleet figures); default `busy`. */
  readonly basis?: UtilizationBasis;
}

/** Only this listener: scripts, styles, fetches and images from the same origin; nothing inline but styles ECharts sets. */
const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

/** A file served as it is, read on first use. */
function staticFile(path: string, contentType: string): RouteHandler {
  let body: Buffer | undefined;
  return () => {
    body ??= readFileSync(path);
    return {
      status: 200,
      contentType,
      body,
      headers: { "x-content-type-options": "nosniff", "cache-control": "no-cache" },
    };
  };
}

/** A figure computed once per evaluation (concurrent requests share it); a failure is not kept. */
function perEvaluation<T>(state: () => AnalyzerState, compute: (atMs: number) => Promise<T>): () => Promise<T | null> {
  let cached: { atMs: number; value: Promise<T> } | undefined;
  return () => {
    const atMs = state().evaluatedAtMs;
    if (atMs === undefined) return Promise.resolve(null);
    if (cached?.atMs !== atMs) {
      const value = compute(atMs);
      cached = { atMs, value };
      value.catch(() => {
        if (cached?.value === value) cached = undefined;
      });
    }
    return cached.value;
  };
}

/** The routes to add to the analyzer's listener: `/`, `/console/*`, `/api/v1/utilization/history`, `/api/v1/runtime`. */
export function consoleRoutes(options: ConsoleOptions): Record<string, RouteHandler> {
  const { state } = options;
  const page = consolePage(Math.max(options.refreshMs, 5_000));
  const envelope = () => {
    const s = state();
    return {
      evaluatedAt: s.evaluatedAtMs === undefined ? null : new Date(s.evaluatedAtMs).toISOString(),
      stale: s.error !== undefined,
      error: s.error ?? null,
    };
  };
  const history = perEvaluation(state, (atMs) =>
    utilizationHistory(options.store, options.poolOf, atMs, options.basis),
  );
  const runtime = perEvaluation(state, (atMs) => runtimeNow(options.store, atMs));
  const answer = async (
    name: string,
    read: () => Promise<unknown>,
    windows: Record<string, number>,
  ): Promise<RouteResponse> => {
    try {
      return json(200, { ...envelope(), windows, [name]: await read() });
    } catch (err) {
      return json(503, { ...envelope(), error: `${name}: ${errorMessage(err)}`, [name]: null });
    }
  };
  const routes: Record<string, RouteHandler> = {
    "/": () => ({ status: 200, contentType: "text/html; charset=utf-8", body: page, headers: PAGE_HEADERS }),
    "/console/echarts.min.js": staticFile(
      createRequire(import.meta.url).resolve("echarts/dist/echarts.min.js"),
      "text/javascript; charset=utf-8",
    ),
    "/api/v1/utilization/history": () => answer("utilization", history, { historyMs: HISTORY_WINDOW_MS }),
    "/api/v1/runtime": () =>
      answer("models", runtime, { prefixCacheMs: PREFIX_CACHE_WINDOW_MS, preemptionsMs: PREEMPTION_WINDOW_MS }),
  };
  const clientDir = projectPath("analyzer", "console", "client");
  for (const name of readdirSync(clientDir)) {
    const type = CONTENT_TYPES[name.slice(name.lastIndexOf("."))];
    if (type !== undefined) routes[`/console/${name}`] = staticFile(`${clientDir}/${name}`, type);
  }
  return routes;
}
