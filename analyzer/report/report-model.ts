/**
 * The capacity-planning report as data: what the HTML, Markdown and JSON renderers show, and the
 * JSON format itself. Units: instants as ISO-8601 strings (UTC), days as `YYYY-MM-DD` (UTC),
 * ratios 0..1, bytes, tokens, requests, GPUs.
 */
import type { FigureBasis } from "../fleet/utilization-basis.js";
import type { ForecastMethod, ForecastPoint } from "./forecast.js";

/** Version of the report's JSON shape (2: headroom at the compute ceiling with `ceilingRatio`/`floorRatio` instead of `targetRatio`; `runtimeCache`). */
export const REPORT_VERSION = 2;

/** Demand of one model class over the report's window. */
export interface ClassDemand {
  readonly modelClass: string;
  readonly models: readonly string[];
  readonly requests: number;
  readonly errors: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Highest tokens per second (prompt + completion) over one step of the history. */
  readonly peakTokensPerSecond: number;
  readonly peakAt: string | null;
  /** Per UTC day (aligned with `days` of the report): requests and the day's peak tokens/s. */
  readonly dailyRequests: readonly number[];
  readonly dailyPeakTokensPerSecond: readonly number[];
}

/** GPUs of one pool by kind, now. */
export interface PoolSupply {
  readonly pool: string;
  readonly gpus: number;
  readonly byGpuModel: readonly { readonly gpuModel: string; readonly gpus: number; readonly memoryBytes: number }[];
  readonly memoryBytes: number;
  /** Time-weighted mean utilization over the window (0..1), null without samples. */
  readonly meanUtilization: number | null;
  /** Highest hourly mean utilization of the pool. */
  readonly peakHourlyUtilization: number | null;
  /** What the pool's utilization is: `sm`, `tensor`, `busy`, `mixed` (GPUs without GPM on busy time) or `unknown` (no samples). */
  readonly utilizationBasis: FigureBasis;
}

/** Mean utilization by pool and UTC hour of day: `values[pool][hour]`, null where no samples fell. */
export interface UtilizationHeatmap {
  readonly pools: readonly string[];
  readonly hours: readonly number[];
  readonly values: readonly (readonly (number | null)[])[];
}

/** One SLO over the report's window. */
export interface SloAttainment {
  readonly id: string;
  readonly modelClass: string;
  readonly kind: string;
  readonly objective: number;
  readonly thresholdSeconds: number | null;
  readonly models: readonly string[];
  /** good ÷ total over the window; null without traffic. */
  readonly attainment: number | null;
  readonly goodEvents: number;
  readonly totalEvents: number;
  /** Share of the window's error budget left (negative when overspent); 1 without traffic. */
  readonly budgetRemaining: number;
  /** Burn state now: firing (page or ticket), ok or no-data. */
  readonly burnNow: string;
}

/**
 * The runtimes' KV cache and prefix cache for one model over the report's window (from the
 * runtime gauges the agents scrape); null where the model's runtimes export no such series.
 */
export interface ModelRuntimeCache {
  readonly model: string;
  /** Mean of `inferwatch_llm_kv_cache_usage_ratio` over every sample of the model's series in the window (0..1). */
  readonly kvCacheUsageMean: number | null;
  /** Highest sample of it in the window, and when. */
  readonly kvCacheUsagePeak: number | null;
  readonly kvCacheUsagePeakAt: string | null;
  /** increase(prefix-cache hits) ÷ increase(prefix-cache queries) over the window; null without queries. */
  readonly prefixCacheHitRatio: number | null;
  /** increase(prefix-cache queries) over the window, in tokens; null without the counter. */
  readonly prefixCacheQueries: number | null;
  /** increase(`inferwatch_llm_preemptions_total`) over the window; null without the counter. */
  readonly preemptions: number | null;
}

/** Fragmentation of each pool at one instant. */
export interface FragmentationPoint {
  readonly at: string;
  readonly pools: readonly {
    readonly pool: string;
    readonly fragmentationRatio: number;
    readonly strandedBytes: number;
    readonly freeBytes: number;
    readonly partiallyUsedGpus: number;
  }[];
}

/** The recommendations now, per pool, and the idle models. */
export interface ReportRecommendations {
  readonly pools: readonly {
    readonly pool: string;
    readonly consolidationGpus: number;
    readonly idleGpus: number;
    readonly moves: number;
    readonly idleReplicas: number;
  }[];
  readonly gpusReclaimable: number;
  readonly moves: number;
  readonly idleModels: readonly {
    readonly model: string;
    readonly replicas: number;
    readonly gpus: number;
    readonly reason: string;
  }[];
  readonly evictions: readonly {
    readonly replicaId: string;
    readonly model: string;
    readonly pool: string;
    readonly reason: string;
  }[];
  readonly checkedValid: boolean;
}

/** A forecast of one daily series, dated. */
export interface DatedForecast {
  readonly method: ForecastMethod;
  /** Observed days and values (the series the model was fitted on). */
  readonly history: readonly { readonly day: string; readonly value: number; readonly fitted: number | null }[];
  readonly points: readonly (ForecastPoint & { readonly day: string })[];
  readonly trendPerDay: number;
}

/** When a pool runs out of headroom at its compute ceiling, with an interval; and its utilization floor. */
export interface PoolHeadroom {
  readonly pool: string;
  readonly gpus: number;
  /** Compute ceiling: the utilization at which a GPU still meets its latency SLO (consolidation `computeCeilingRatio`). */
  readonly ceilingRatio: number;
  /** Utilization floor: the cost objective "GPUs busy at least this" (`slo.gpuUtilization`); under it the pool is under-utilized. */
  readonly floorRatio: number;
  /** GPUs' worth of busy compute the pool carries at its ceiling: gpus × ceiling. */
  readonly capacityBusyGpus: number;
  /** Busy GPUs at the floor: gpus × floor. */
  readonly floorBusyGpus: number;
  /** Forecast of the daily peak of busy GPUs (hourly mean utilization × GPUs). */
  readonly forecast: DatedForecast;
  /** `already` when the last observed peak is over capacity; `forecast` when within the horizon; `not-within-horizon` otherwise. */
  readonly state: "already" | "forecast" | "not-within-horizon";
  /** Day the point forecast reaches capacity; earliest (upper bound) and latest (lower bound); null beyond the horizon. */
  readonly exhaustionDay: string | null;
  readonly exhaustionEarliest: string | null;
  readonly exhaustionLatest: string | null;
}

/** What to buy or free in one pool next quarter, and why. */
export interface PoolAction {
  readonly pool: string;
  readonly action: "buy" | "free" | "hold";
  readonly gpus: number;
  readonly gpuModel: string;
  /** GPUs needed at the horizon: ⌈upper bound of the peak forecast ÷ compute ceiling⌉. */
  readonly neededGpus: number;
  readonly why: string;
}

/** The whole report. */
export interface CapacityReport {
  readonly version: typeof REPORT_VERSION;
  readonly generatedAt: string;
  readonly source: string;
  readonly window: { readonly from: string; readonly to: string; readonly days: number; readonly stepSeconds: number };
  /** UTC days of the window, `YYYY-MM-DD`, oldest first (the axis of every daily series). */
  readonly days: readonly string[];
  readonly demand: readonly ClassDemand[];
  readonly supply: readonly PoolSupply[];
  readonly heatmap: UtilizationHeatmap;
  /** What every utilization figure of the report is (see PoolSupply.utilizationBasis), over all pools. */
  readonly utilizationBasis: FigureBasis;
  readonly slos: readonly SloAttainment[];
  /** KV-cache usage, prefix-cache hit ratio and preemptions per model; empty when the store holds no runtime gauges. */
  readonly runtimeCache: readonly ModelRuntimeCache[];
  readonly fragmentation: readonly FragmentationPoint[];
  readonly recommendations: ReportRecommendations;
  readonly forecast: {
    readonly horizonDays: number;
    /** The compute ceiling every pool's headroom is measured against. */
    readonly ceilingRatio: number;
    /** The default utilization floor (a pool's own `slo.gpuUtilization.pools` override is in its headroom). */
    readonly floorRatio: number;
    readonly method: string;
    readonly demand: readonly { readonly modelClass: string; readonly forecast: DatedForecast }[];
    readonly pools: readonly PoolHeadroom[];
  };
  readonly plan: { readonly actions: readonly PoolAction[]; readonly summary: string };
  /** Notes on the data: gaps, fallbacks, what a figure could not be computed from. */
  readonly notes: readonly string[];
}
