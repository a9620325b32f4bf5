/** The report's tables as rows of text, shared by the Markdown and HTML renderers. */
import { BASIS_LABEL } from "../fleet/utilization-basis.js";
import type { CapacityReport } from "./report-model.js";
import { GIB } from "../../common/units.js";

/** One table: a title, column headers and rows of formatted cells. */
export interface ReportTable {
  readonly id: string;
  readonly title: string;
  readonly headers: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

/** A number with thousands separators and at most `digits` decimals. */
export function formatNumber(value: number, digits = 0): string {
  // A value that rounds to zero is shown as 0, never "-0".
  const shown = Math.abs(value) < 0.5 * 10 ** -digits ? 0 : value;
  return shown.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** A 0..1 ratio as a percentage. */
export function formatPercent(ratio: number | null, digits = 1): string {
  return ratio === null ? "–" : `${(ratio * 100).toFixed(digits)} %`;
}

function interval(low: string | null, high: string | null): string {
  return `${low ?? "?"} – ${high ?? "after the horizon"}`;
}

/** What the runtime-cache section says, in one line, when the store holds no runtime gauges. */
export const NO_RUNTIME_GAUGES =
  "No runtime gauges in the window (inferwatch_llm_kv_cache_usage_ratio, the prefix-cache and preemption counters): no agent scraped a runtime's own /metrics, so KV-cache usage and prefix-cache hits are unknown.";

/** How the runtime-cache table's figures are computed, in one line. */
export const RUNTIME_CACHE_CAPTION =
  "KV-cache usage: mean and highest sample of inferwatch_llm_kv_cache_usage_ratio over the window (every replica's series); prefix-cache hit ratio: increase(hits) ÷ increase(queries) over the window; preemptions: increase(inferwatch_llm_preemptions_total).";

/** Every table of the report, by section id. */
export function reportTables(
  report: CapacityReport,
): Record<
  "demand" | "supply" | "slo" | "runtimeCache" | "recommendations" | "idle" | "headroom" | "plan",
  ReportTable
> {
  return {
    demand: {
      id: "demand",
      title: "Demand per model class",
      headers: [
        "model class",
        "models",
        "requests",
        "errors",
        "prompt tokens",
        "completion tokens",
        "peak tokens/s",
        "peak at (UTC)",
      ],
      rows: report.demand.map((c) => [
        c.modelClass,
        c.models.join(", "),
        formatNumber(c.requests),
        formatNumber(c.errors),
        formatNumber(c.promptTokens),
        formatNumber(c.completionTokens),
        formatNumber(c.peakTokensPerSecond, 1),
        c.peakAt?.slice(0, 16).replace("T", " ") ?? "–",
      ]),
    },
    supply: {
      id: "supply",
      title: "GPU supply per pool",
      headers: [
        "pool",
        "GPUs",
        "by model",
        "GPU memory",
        "mean utilization",
        "peak hourly utilization",
        "utilization basis",
      ],
      rows: report.supply.map((p) => [
        p.pool,
        String(p.gpus),
        p.byGpuModel.map((k) => `${k.gpus} × ${k.gpuModel}`).join(", "),
        `${formatNumber(p.memoryBytes / GIB)} GiB`,
        formatPercent(p.meanUtilization),
        formatPercent(p.peakHourlyUtilization),
        BASIS_LABEL[p.utilizationBasis],
      ]),
    },
    slo: {
      id: "slo",
      title: "SLO attainment and error budget over the window",
      headers: ["SLO", "objective", "threshold", "attainment", "good / total", "budget left", "burn now", "models"],
      rows: report.slos.map((s) => [
        s.id,
        formatPercent(s.objective, 2),
        s.thresholdSeconds === null ? "–" : `${s.thresholdSeconds} s`,
        formatPercent(s.attainment, 3),
        `${formatNumber(s.goodEvents)} / ${formatNumber(s.totalEvents)}`,
        formatPercent(s.budgetRemaining),
        s.burnNow,
        s.models.join(", "),
      ]),
    },
    runtimeCache: {
      id: "runtime-cache",
      title: "KV cache and prefix cache per model",
      headers: [
        "model",
        "mean KV-cache usage",
        "peak KV-cache usage",
        "peak at (UTC)",
        "prefix-cache hit ratio",
        "prefix-cache queries (tokens)",
        "preemptions",
      ],
      rows: report.runtimeCache.map((m) => [
        m.model,
        formatPercent(m.kvCacheUsageMean),
        formatPercent(m.kvCacheUsagePeak),
        m.kvCacheUsagePeakAt?.slice(0, 16).replace("T", " ") ?? "–",
        formatPercent(m.prefixCacheHitRatio),
        m.prefixCacheQueries === null ? "–" : formatNumber(m.prefixCacheQueries),
        m.preemptions === null ? "–" : formatNumber(m.preemptions),
      ]),
    },
    recommendations: {
      id: "recommendations",
      title: "GPUs reclaimable now",
      headers: ["pool", "by consolidation", "by idle eviction", "moves", "idle replicas"],
      rows: report.recommendations.pools.map((p) => [
        p.pool,
        String(p.consolidationGpus),
        String(p.idleGpus),
        String(p.moves),
        String(p.idleReplicas),
      ]),
    },
    idle: {
      id: "idle",
      title: "Idle models and replicas",
      headers: ["what", "model", "GPUs", "why"],
      rows: [
        ...report.recommendations.idleModels.map((m) => [
          `scale to zero (${m.replicas} replica(s))`,
          m.model,
          String(m.gpus),
          m.reason,
        ]),
        ...report.recommendations.evictions.map((e) => [`evict ${e.replicaId}`, e.model, "–", e.reason]),
      ],
    },
    headroom: {
      id: "headroom",
      title: "Headroom per pool at its compute ceiling",
      headers: [
        "pool",
        "GPUs",
        "ceiling",
        "capacity (busy GPUs)",
        "floor (busy GPUs)",
        "last daily peak",
        "trend / day",
        "runs out",
        "interval",
        "method",
      ],
      rows: report.forecast.pools.map((p) => [
        p.pool,
        String(p.gpus),
        formatPercent(p.ceilingRatio, 0),
        formatNumber(p.capacityBusyGpus, 1),
        `${formatNumber(p.floorBusyGpus, 1)} (${formatPercent(p.floorRatio, 0)})`,
        formatNumber(p.forecast.history[p.forecast.history.length - 1]?.value ?? 0, 2),
        formatNumber(p.forecast.trendPerDay, 3),
        p.state === "already"
          ? `already (${p.exhaustionDay ?? "?"})`
          : p.state === "forecast"
            ? (p.exhaustionDay ?? "?")
            : `not within ${report.forecast.horizonDays} days`,
        p.state === "not-within-horizon" && p.exhaustionEarliest === null
          ? "–"
          : interval(p.exhaustionEarliest, p.exhaustionLatest),
        p.forecast.method.kind,
      ]),
    },
    plan: {
      id: "plan",
      title: "Next quarter: GPUs to buy or free",
      headers: ["pool", "action", "GPUs", "GPU model", "needed at the horizon", "why"],
      rows: report.plan.actions.map((a) => [a.pool, a.action, String(a.gpus), a.gpuModel, String(a.neededGpus), a.why]),
    },
  };
}
