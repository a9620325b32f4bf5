import { METRICS } from "../../common/conventions.js";
import { classOf, type SloConfig } from "../../common/slo/spec.js";
import type { MetricStore } from "../stores/metric-store.js";
import type { ClassDemand } from "./report-model.js";
import { counterSteps, dayIndex, type TimeGrid } from "./time-grid.js";

/** The demand figures and the per-step tokens/s behind them, per model class. */
export interface DemandResult {
  readonly classes: readonly ClassDemand[];
}

/** The class a model's demand is counted under: its SLO class, else the model itself. */
export function demandClassOf(slo: Pick<SloConfig, "classes">, model: string): string {
  return classOf(slo, model)?.name ?? model;
}

interface ClassAccumulator {
  readonly models: Set<string>;
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  readonly tokens: { increase: Float64Array; rate: Float64Array };
  readonly requestSteps: { increase: Float64Array; rate: Float64Array };
}

/**
 * Requests, errors and tokens per model class over the window (`increase()` of the request and
 * token counters over the whole window: counter resets and Prometheus's extrapolation included),
 * and from range queries on the grid: requests per UTC day and the peak tokens per second (prompt +
 * completion, summed over the class's series, per step). Four store queries.
 */
export async function computeDemand(
  store: MetricStore,
  grid: TimeGrid,
  slo: Pick<SloConfig, "classes">,
): Promise<DemandResult> {
  const windowMs = grid.endMs - grid.startMs;
  const [requestTotals, tokenTotals, tokenRange, requestRange] = await Promise.all([
    store.increase({ metric: METRICS.llmRequests.name, windowMs, atMs: grid.endMs, by: ["model", "status"] }),
    store.increase({ metric: METRICS.llmTokens.name, windowMs, atMs: grid.endMs, by: ["model", "type"] }),
    store.range({ metric: METRICS.llmTokens.name, startMs: grid.startMs, endMs: grid.endMs, stepMs: grid.stepMs }),
    store.range({ metric: METRICS.llmRequests.name, startMs: grid.startMs, endMs: grid.endMs, stepMs: grid.stepMs }),
  ]);
  const classes = new Map<string, ClassAccumulator>();
  const classFor = (model: string): ClassAccumulator => {
    const name = demandClassOf(slo, model);
    let acc = classes.get(name);
    if (!acc) {
      const steps = () => ({ increase: new Float64Array(grid.count), rate: new Float64Array(grid.count) });
      classes.set(
        name,
        (acc = {
          models: new Set(),
          requests: 0,
          errors: 0,
          promptTokens: 0,
          completionTokens: 0,
          tokens: steps(),
          requestSteps: steps(),
        }),
      );
    }
    acc.models.add(model);
    return acc;
  };
  for (const row of requestTotals) {
    const acc = classFor(row.labels["model"] ?? "");
    acc.requests += row.value;
    if (row.labels["status"] === "error") acc.errors += row.value;
  }
  for (const row of tokenTotals) {
    const acc = classFor(row.labels["model"] ?? "");
    if (row.labels["type"] === "prompt") acc.promptTokens += row.value;
    else if (row.labels["type"] === "completion") acc.completionTokens += row.value;
  }
  for (const series of tokenRange) counterSteps(grid, series.samples, classFor(series.labels["model"] ?? "").tokens);
  for (const series of requestRange)
    counterSteps(grid, series.samples, classFor(series.labels["model"] ?? "").requestSteps);

  const rows = [...classes.entries()].map(([modelClass, acc]): ClassDemand => {
    const dailyRequests = grid.days.map(() => 0);
    const dailyPeak = grid.days.map(() => 0);
    let peak = 0;
    let peakIndex = -1;
    for (let i = 0; i < grid.count; i++) {
      const atMs = grid.startMs + i * grid.stepMs;
      const day = dayIndex(grid, atMs);
      dailyRequests[day] = (dailyRequests[day] as number) + (acc.requestSteps.increase[i] as number);
      const rate = acc.tokens.rate[i] as number;
      if (rate > (dailyPeak[day] as number)) dailyPeak[day] = rate;
      if (rate > peak) {
        peak = rate;
        peakIndex = i;
      }
    }
    return {
      modelClass,
      models: [...acc.models].sort(),
      requests: acc.requests,
      errors: acc.errors,
      promptTokens: acc.promptTokens,
      completionTokens: acc.completionTokens,
      peakTokensPerSecond: peak,
      peakAt: peakIndex < 0 ? null : new Date(grid.startMs + peakIndex * grid.stepMs).toISOString(),
      dailyRequests,
      dailyPeakTokensPerSecond: dailyPeak,
    };
  });
  return { classes: rows.sort((a, b) => a.modelClass.localeCompare(b.modelClass)) };
}
