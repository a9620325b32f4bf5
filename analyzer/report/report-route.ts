import type { IncomingMessage } from "node:http";
import { text, type RouteHandler } from "../../common/http-server.js";
import type { PoolOf } from "../fleet/assemble.js";
import type { FleetSnapshot } from "../fleet/snapshot.js";
import type { Recommendations } from "../recommend/recommendations.js";
import type { SloConfig } from "../../common/slo/spec.js";
import type { MetricStore } from "../stores/metric-store.js";
import { buildReport } from "./build-report.js";
import { renderReport, REPORT_FORMATS, reportContentType, type ReportFormat } from "./render.js";
import type { CapacityReport } from "./report-model.js";
import { parseReportWindow } from "./report-window.js";
import { DAY_MS } from "../../common/units.js";

/** What the route reads from the running analyzer. */
export interface ReportRouteOptions {
  readonly store: MetricStore;
  readonly slo: SloConfig;
  readonly poolOf: PoolOf;
  /** The analyzer's last evaluation (undefined fields: none yet). */
  readonly state: () => {
    readonly snapshot: FleetSnapshot | undefined;
    readonly recommendations: Recommendations | undefined;
    readonly evaluatedAtMs: number | undefined;
  };
  readonly source: string;
  /** The analyzer's `recommend.consolidation.computeCeilingRatio` (headroom line); default the consolidation default. */
  readonly computeCeilingRatio?: number;
}

const DEFAULT_SINCE_MS = 30 * DAY_MS;

/**
 * `GET /report?format=html|md|json&since=30d`: the capacity-planning report built from the
 * analyzer's own store, ending at its last evaluation (whose snapshot and recommendations it shows).
 * One report per (window, evaluation) is built and kept, so reloading the page does not recompute
 * it; concurrent requests share the build. 400 for a bad parameter (a window outside 1d..730d among
 * them), 503 before the first evaluation.
 */
export function reportRoute(options: ReportRouteOptions): RouteHandler {
  let cached: { key: string; report: Promise<CapacityReport> } | undefined;
  return async (request: IncomingMessage) => {
    const params = new URL(request.url ?? "/", "http://localhost").searchParams;
    const format = (params.get("format") ?? "html") as ReportFormat;
    if (!REPORT_FORMATS.includes(format)) return text(400, `format must be one of ${REPORT_FORMATS.join(", ")}\n`);
    const since = params.get("since");
    const window = since === null ? { ok: true as const, sinceMs: DEFAULT_SINCE_MS } : parseReportWindow(since);
    if (!window.ok) return text(400, `${window.message}\n`);
    const { sinceMs } = window;
    const { snapshot, recommendations, evaluatedAtMs } = options.state();
    if (!snapshot || !recommendations || evaluatedAtMs === undefined) return text(503, "no evaluation yet\n");
    const key = `${sinceMs}|${evaluatedAtMs}`;
    if (cached?.key !== key) {
      const report = buildReport(options.store, {
        atMs: evaluatedAtMs,
        sinceMs,
        poolOf: options.poolOf,
        slo: options.slo,
        source: options.source,
        current: { snapshot, recommendations },
        ...(options.computeCeilingRatio === undefined ? {} : { computeCeilingRatio: options.computeCeilingRatio }),
      });
      cached = { key, report };
      report.catch(() => {
        if (cached?.report === report) cached = undefined;
      });
    }
    const report = await cached.report;
    return {
      status: 200,
      contentType: reportContentType(format),
      body: renderReport(report, format),
      headers: { "cache-control": "no-store" },
    };
  };
}
