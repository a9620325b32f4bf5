/**
 * The report's time axis: range-query steps over the window and the UTC days they fall in, and the
 * per-step increases of a counter series sampled on that grid.
 */
import type { TimedValue } from "../fleet/utilization.js";
import { DAY_MS } from "../../common/units.js";

/** The finest step the report reads: the memory store's 30-day tier and a Prometheus range of 30 days stays under its 11,000 points. */
export const MIN_STEP_MS = 5 * 60_000;
/** Steps per window at most; longer windows get coarser steps (whole minutes). */
const MAX_STEPS = 9_000;

/** Range-query steps over [startMs, endMs] and the UTC days they cover. */
export interface TimeGrid {
  readonly startMs: number;
  readonly endMs: number;
  readonly stepMs: number;
  /** Steps: startMs + i × stepMs for i in [0, count). */
  readonly count: number;
  /** Start of the first UTC day touched by the window. */
  readonly firstDayMs: number;
  /** `YYYY-MM-DD` of every UTC day touched, oldest first. */
  readonly days: readonly string[];
  /** Indexes into `days` of the days wholly inside the window (forecasts use only these). */
  readonly completeDays: readonly number[];
}

/** The grid of a window ending at `endMs` and `sinceMs` long; the step is ≥ 5 minutes, aligned to it. */
export function timeGrid(endMs: number, sinceMs: number): TimeGrid {
  const stepMs = Math.max(MIN_STEP_MS, Math.ceil(sinceMs / MAX_STEPS / 60_000) * 60_000);
  const alignedEnd = Math.floor(endMs / stepMs) * stepMs;
  const count = Math.floor(sinceMs / stepMs) + 1;
  const startMs = alignedEnd - (count - 1) * stepMs;
  const firstDayMs = Math.floor(startMs / DAY_MS) * DAY_MS;
  const dayCount = Math.floor(alignedEnd / DAY_MS) - Math.floor(startMs / DAY_MS) + 1;
  const days = Array.from({ length: dayCount }, (_, i) => dayString(firstDayMs + i * DAY_MS));
  const completeDays = days
    .map((_, i) => i)
    .filter((i) => firstDayMs + i * DAY_MS >= startMs && firstDayMs + (i + 1) * DAY_MS <= alignedEnd);
  return { startMs, endMs: alignedEnd, stepMs, count, firstDayMs, days, completeDays };
}

/** `YYYY-MM-DD` of the UTC day holding `ms`. */
export function dayString(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Index of the step at `atMs` (range answers fall on the grid). */
export function stepIndex(grid: TimeGrid, atMs: number): number {
  return Math.round((atMs - grid.startMs) / grid.stepMs);
}

/** Index into `grid.days` of the day holding `atMs`. */
export function dayIndex(grid: TimeGrid, atMs: number): number {
  return Math.floor((atMs - grid.firstDayMs) / DAY_MS);
}

/**
 * Per-step increases and rates of one counter sampled on the grid: `increase[i]` is what the
 * counter added between the previous sample and step i (a drop is a reset: the new value is the
 * increase, as Prometheus's increase() reads it), `rate[i]` that increase per second of the time
 * between the two samples. Steps without a sample, and the first sample, add nothing.
 */
export function counterSteps(
  grid: TimeGrid,
  samples: readonly TimedValue[],
  into: { increase: Float64Array; rate: Float64Array },
): void {
  for (let k = 1; k < samples.length; k++) {
    const previous = samples[k - 1] as TimedValue;
    const sample = samples[k] as TimedValue;
    const i = stepIndex(grid, sample.atMs);
    if (i < 0 || i >= grid.count) continue;
    const added = sample.value >= previous.value ? sample.value - previous.value : sample.value;
    const seconds = (sample.atMs - previous.atMs) / 1000;
    into.increase[i] = (into.increase[i] as number) + added;
    if (seconds > 0) into.rate[i] = (into.rate[i] as number) + added / seconds;
  }
}
