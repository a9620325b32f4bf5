/**
 * The report's charts as Apache ECharts options (https://echarts.apache.org/en/option.html), every
 * one computed from the report model: plain JSON (no functions), so the HTML embeds them as data
 * and the browser test can check each chart's series against the model.
 */
import { BASIS_LABEL } from "../fleet/utilization-basis.js";
import type { CapacityReport, DatedForecast } from "./report-model.js";
import { GIB } from "../../common/units.js";

/** One chart: where it goes, what it says, and its ECharts option. */
export interface ReportChart {
  readonly id: string;
  readonly section: "demand" | "supply" | "slo" | "fragmentation" | "recommendations" | "forecast";
  readonly title: string;
  /** The caption under the chart: what it shows, units, and how it was computed. */
  readonly caption: string;
  readonly heightPx: number;
  readonly option: Record<string, unknown>;
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits || 0;
const pct = (ratio: number) => round(ratio * 100, 1);
/** An element id from a free-form name. */
const slug = (name: string) => name.toLowerCase().replace(/[^a-z0-9]+/g, "-");

const BASE = {
  animation: false,
  tooltip: { trigger: "axis" },
  legend: { top: 0, type: "scroll" },
  grid: { left: 70, right: 70, top: 40, bottom: 50 },
};

function axis(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: "value", name, nameLocation: "middle", nameGap: 50, ...extra };
}

function forecastChart(
  id: string,
  title: string,
  forecast: DatedForecast,
  unit: string,
  caption: string,
  capacity?: { value: number; label: string },
): ReportChart {
  const days = [...forecast.history.map((h) => h.day), ...forecast.points.map((p) => p.day)];
  const pad = (n: number) => Array.from({ length: n }, () => null);
  const observed = [...forecast.history.map((h) => round(h.value, 3)), ...pad(forecast.points.length)];
  const fitted = [
    ...forecast.history.map((h) => (h.fitted === null ? null : round(h.fitted, 3))),
    ...pad(forecast.points.length),
  ];
  const point = [...pad(forecast.history.length), ...forecast.points.map((p) => round(p.value, 3))];
  const lower = [...pad(forecast.history.length), ...forecast.points.map((p) => round(p.lower, 3))];
  const band = [...pad(forecast.history.length), ...forecast.points.map((p) => round(p.upper - p.lower, 3))];
  const series: Record<string, unknown>[] = [
    { name: "observed daily peak", type: "line", data: observed, symbolSize: 4 },
    { name: "one-step fit", type: "line", data: fitted, lineStyle: { type: "dotted" }, symbol: "none" },
    { name: "forecast", type: "line", data: point, lineStyle: { type: "dashed" }, symbol: "none" },
    {
      name: "interval lower",
      type: "line",
      data: lower,
      stack: `${id}-band`,
      lineStyle: { opacity: 0 },
      symbol: "none",
      tooltip: { show: false },
    },
    {
      name: "95 % interval",
      type: "line",
      data: band,
      stack: `${id}-band`,
      lineStyle: { opacity: 0 },
      areaStyle: { opacity: 0.2 },
      symbol: "none",
    },
  ];
  if (capacity)
    series.push({
      name: capacity.label,
      type: "line",
      data: days.map(() => round(capacity.value, 3)),
      lineStyle: { type: "solid", width: 2 },
      symbol: "none",
    });
  return {
    id,
    section: "forecast",
    title,
    caption,
    heightPx: 320,
    option: {
      ...BASE,
      legend: { ...BASE.legend, data: series.map((s) => s.name).filter((n) => n !== "interval lower") },
      xAxis: { type: "category", data: days, name: "day (UTC)", nameLocation: "middle", nameGap: 30 },
      yAxis: axis(unit),
      series,
    },
  };
}

/** Every chart of the report, in reading order. */
export function reportCharts(report: CapacityReport): ReportChart[] {
  const charts: ReportChart[] = [];
  const days = report.days;
  charts.push({
    id: "demand-requests",
    section: "demand",
    title: "Requests per day by model class",
    heightPx: 300,
    caption:
      "Finished requests per UTC day (ok + error), stacked by model class; from the increase of inferwatch_llm_requests_total per step. The first and last days are partial.",
    option: {
      ...BASE,
      xAxis: { type: "category", data: days },
      yAxis: axis("requests / day"),
      series: report.demand.map((c) => ({
        name: c.modelClass,
        type: "bar",
        stack: "requests",
        data: c.dailyRequests.map((v) => Math.round(v)),
      })),
    },
  });
  charts.push({
    id: "demand-peak",
    section: "demand",
    title: "Peak tokens per second by model class",
    heightPx: 300,
    caption: `Highest tokens/s (prompt + completion) of each UTC day, per model class, over ${report.window.stepSeconds / 60}-minute steps of inferwatch_llm_tokens_total.`,
    option: {
      ...BASE,
      xAxis: { type: "category", data: days },
      yAxis: axis("tokens / s"),
      series: report.demand.map((c) => ({
        name: c.modelClass,
        type: "line",
        data: c.dailyPeakTokensPerSecond.map((v) => round(v, 1)),
      })),
    },
  });
  const kinds = [...new Set(report.supply.flatMap((p) => p.byGpuModel.map((k) => k.gpuModel)))].sort();
  charts.push({
    id: "supply",
    section: "supply",
    title: "GPU supply per pool",
    heightPx: 280,
    caption: "GPUs installed per pool now, by GPU model (from inferwatch_gpu_info at the end of the window).",
    option: {
      ...BASE,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "category", data: report.supply.map((p) => p.pool) },
      yAxis: axis("GPUs", { minInterval: 1 }),
      series: kinds.map((kind) => ({
        name: kind,
        type: "bar",
        stack: "gpus",
        data: report.supply.map((p) => p.byGpuModel.find((k) => k.gpuModel === kind)?.gpus ?? 0),
      })),
    },
  });
  const cells = report.heatmap.pools.flatMap((_, y) =>
    report.heatmap.hours.map((h, x) => [
      x,
      y,
      report.heatmap.values[y]?.[h] === null || report.heatmap.values[y]?.[h] === undefined
        ? "-"
        : pct(report.heatmap.values[y]?.[h]),
    ]),
  );
  charts.push({
    id: "utilization-heatmap",
    section: "supply",
    title: "GPU utilization by pool and hour of day (UTC)",
    heightPx: 160 + 45 * Math.max(1, report.heatmap.pools.length),
    caption: `Mean GPU utilization (%) of each pool at each UTC hour of day, over every day of the window; time-weighted over equal steps. Basis: ${BASIS_LABEL[report.utilizationBasis]}.`,
    option: {
      animation: false,
      tooltip: { position: "top" },
      grid: { left: 90, right: 30, top: 10, bottom: 110 },
      xAxis: {
        type: "category",
        data: report.heatmap.hours.map((h) => `${String(h).padStart(2, "0")}:00`),
        name: "hour of day (UTC)",
        nameLocation: "middle",
        nameGap: 30,
        splitArea: { show: true },
      },
      yAxis: { type: "category", data: report.heatmap.pools, splitArea: { show: true } },
      visualMap: {
        min: 0,
        max: 100,
        calculable: true,
        orient: "horizontal",
        left: "center",
        bottom: 5,
        itemHeight: 200,
        text: ["100 %", "0 % utilization"],
      },
      series: [{ name: "utilization %", type: "heatmap", data: cells, label: { show: true, fontSize: 10 } }],
    },
  });
  const sloIds = report.slos.map((s) => s.id);
  charts.push({
    id: "slo-attainment",
    section: "slo",
    title: "SLO attainment over the window",
    heightPx: 120 + 26 * Math.max(1, sloIds.length),
    caption:
      "Share of good events (%) over the whole window per SLO (bars) against its objective (markers): latency and TTFT from the histogram bucket at the threshold, availability from non-error requests.",
    option: {
      ...BASE,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 150, right: 40, top: 40, bottom: 50 },
      yAxis: { type: "category", data: sloIds },
      xAxis: axis("% good events", {
        min: Math.max(
          0,
          Math.floor(Math.min(...report.slos.map((s) => Math.min(s.objective, s.attainment ?? 1) * 100), 100) - 2),
        ),
        max: 100,
      }),
      series: [
        {
          name: "attainment",
          type: "bar",
          data: report.slos.map((s) => (s.attainment === null ? null : round(s.attainment * 100, 3))),
        },
        {
          name: "objective",
          type: "scatter",
          symbol: "diamond",
          symbolSize: 12,
          data: report.slos.map((s) => round(s.objective * 100, 3)),
        },
      ],
    },
  });
  charts.push({
    id: "slo-budget",
    section: "slo",
    title: "Error budget remaining",
    heightPx: 120 + 26 * Math.max(1, sloIds.length),
    caption:
      "Share of each SLO's error budget left at the end of the window (%), the window taken as the SLO period; negative when overspent.",
    option: {
      ...BASE,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 150, right: 40, top: 40, bottom: 50 },
      yAxis: { type: "category", data: sloIds },
      xAxis: axis("% of budget left"),
      series: [
        { name: "budget remaining", type: "bar", data: report.slos.map((s) => round(s.budgetRemaining * 100, 2)) },
      ],
    },
  });
  const fragPools = [...new Set(report.fragmentation.flatMap((p) => p.pools.map((q) => q.pool)))].sort();
  const at = report.fragmentation.map((p) => p.at.slice(0, 16).replace("T", " "));
  charts.push({
    id: "fragmentation",
    section: "fragmentation",
    title: "Fragmentation and stranded GPU memory over time",
    heightPx: 320,
    caption:
      "Per pool: FGD expected fragmentation (% of free GPU memory the replica shapes seen cannot use; solid, left axis) and stranded memory (GiB free in pieces no replica shape fits; dashed, right axis), from the fleet snapshot assembled at each instant.",
    option: {
      ...BASE,
      xAxis: { type: "category", data: at, name: "time (UTC)", nameLocation: "middle", nameGap: 30 },
      yAxis: [axis("fragmentation %", { min: 0, max: 100 }), axis("stranded GiB", { min: 0 })],
      series: fragPools.flatMap((pool) => [
        {
          name: `${pool} fragmentation %`,
          type: "line",
          yAxisIndex: 0,
          data: report.fragmentation.map((p) => {
            const q = p.pools.find((x) => x.pool === pool);
            return q ? pct(q.fragmentationRatio) : null;
          }),
        },
        {
          name: `${pool} stranded GiB`,
          type: "line",
          yAxisIndex: 1,
          lineStyle: { type: "dashed" },
          data: report.fragmentation.map((p) => {
            const q = p.pools.find((x) => x.pool === pool);
            return q ? round(q.strandedBytes / GIB, 2) : null;
          }),
        },
      ]),
    },
  });
  const recPools = report.recommendations.pools;
  charts.push({
    id: "recommendations",
    section: "recommendations",
    title: "GPUs reclaimable now per pool",
    heightPx: 260,
    caption:
      "GPUs the recommendations free now: by consolidation (moves checked against every placement constraint) and by idle eviction / scale to zero. Nothing is applied automatically.",
    option: {
      ...BASE,
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      xAxis: { type: "category", data: recPools.map((p) => p.pool) },
      yAxis: axis("GPUs", { minInterval: 1 }),
      series: [
        { name: "consolidation", type: "bar", stack: "gpus", data: recPools.map((p) => p.consolidationGpus) },
        { name: "idle eviction", type: "bar", stack: "gpus", data: recPools.map((p) => p.idleGpus) },
      ],
    },
  });
  // Element ids must stay distinct when names differ only in case or punctuation ("A" and "a").
  const used = new Set(charts.map((c) => c.id));
  const uniqueId = (base: string) => {
    let id = base;
    for (let n = 2; used.has(id); n++) id = `${base}-${n}`;
    used.add(id);
    return id;
  };
  for (const pool of report.forecast.pools) {
    charts.push(
      forecastChart(
        uniqueId(`forecast-pool-${slug(pool.pool)}`),
        `Pool ${pool.pool}: daily peak busy GPUs and headroom`,
        pool.forecast,
        "busy GPUs",
        `Daily peak of busy GPUs in pool ${pool.pool} (highest hourly mean of Σ utilization), its ${pool.forecast.method.kind} forecast with the 95 % interval, and the capacity at the ${Math.round(pool.ceilingRatio * 100)} % compute ceiling, the utilization at which a GPU still meets its latency SLO (${pool.gpus} GPUs × ${pool.ceilingRatio}). ${pool.state === "not-within-horizon" ? "The forecast stays under capacity over the horizon." : `Headroom runs out ${pool.exhaustionDay ?? "?"} (interval ${pool.exhaustionEarliest ?? "?"} – ${pool.exhaustionLatest ?? "after the horizon"}).`} A peak under the ${Math.round(pool.floorRatio * 100)} % utilization floor (${round(pool.floorBusyGpus, 2)} busy GPUs) misses the cost objective: GPUs to free.`,
        { value: pool.capacityBusyGpus, label: `ceiling ${Math.round(pool.ceilingRatio * 100)} %` },
      ),
    );
  }
  for (const demand of report.forecast.demand) {
    charts.push(
      forecastChart(
        uniqueId(`forecast-demand-${slug(demand.modelClass)}`),
        `Model class ${demand.modelClass}: peak tokens/s forecast`,
        demand.forecast,
        "tokens / s",
        `Daily peak tokens/s of model class ${demand.modelClass} and its ${demand.forecast.method.kind} forecast over ${report.forecast.horizonDays} days with the 95 % interval (trend ${round(demand.forecast.trendPerDay, 2)} tokens/s per day).`,
      ),
    );
  }
  return charts;
}
