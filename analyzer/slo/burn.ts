import { BURN_WINDOWS, burnFactor, type BurnWindow, type Severity } from "../../common/slo/windows.js";

/**
 * Burn rates from counted events. A window's error ratio is bad ÷ total events counted over the
 * whole window (increases of counters, or of histogram buckets for latency), never an average of
 * shorter windows' ratios: averaging gives a quiet five minutes the weight of a busy one and hides
 * errors under uneven traffic (slok/sloth#241, #618). A window without events is "no data": it has
 * no ratio and never burns (slok/sloth#133: quiet services and NaN).
 */

/** Events counted over one window. `total` counts every event; `good` those meeting the SLO. */
export interface EventCounts {
  readonly good: number;
  readonly total: number;
}

/** Why a window has no ratio: nothing happened, the store has no series, or the counts are unusable. */
export type NoDataReason = "no-traffic" | "missing" | "invalid";

/** A window's burn: measured, or no data (never NaN, never burning). */
export type BurnMeasure =
  | { readonly state: "no-data"; readonly reason: NoDataReason }
  | {
      readonly state: "measured";
      readonly good: number;
      readonly total: number;
      readonly bad: number;
      /** bad ÷ total, 0..1. */
      readonly errorRatio: number;
      /** errorRatio ÷ (1 − objective): 1 spends exactly the budget over the period. */
      readonly burnRate: number;
    };

/** Counted events after checks; `bad` is never negative. */
export type CountedEvents =
  | { readonly state: "no-data"; readonly reason: NoDataReason }
  | { readonly state: "counted"; readonly good: number; readonly total: number; readonly bad: number };

/**
 * Relative slack when comparing a burn rate with a factor, so that a burn exactly at the factor
 * fires despite binary rounding (0.72 ÷ 0.05 is 14.399999999999999 in floating point). It is far
 * below any difference a counted window can show.
 */
const RELATIVE_TOLERANCE = 1e-9;

/**
 * The error budget 1 − objective, as a ratio. Rounded to 12 significant digits so that a decimal
 * objective gives its decimal budget (1 − 0.95 is 0.050000000000000044 in floating point), which
 * keeps hand-computed burn rates exact. Throws RangeError for an objective outside (0, 1).
 */
export function errorBudgetOf(objective: number): number {
  if (!(objective > 0 && objective < 1))
    throw new RangeError(`slo: objective must be between 0 and 1 (exclusive), got ${objective}`);
  return Number((1 - objective).toPrecision(12));
}

/**
 * Checks counted events: undefined is "missing", non-finite or negative counts "invalid", a zero
 * total "no-traffic". `good` above `total` (bucket and count read a moment apart, or extrapolated
 * separately by `increase()`) is taken as `total`.
 */
export function countEvents(counts: EventCounts | undefined): CountedEvents {
  if (counts === undefined) return { state: "no-data", reason: "missing" };
  const { good, total } = counts;
  if (!Number.isFinite(good) || !Number.isFinite(total) || good < 0 || total < 0)
    return { state: "no-data", reason: "invalid" };
  if (total === 0) return { state: "no-data", reason: "no-traffic" };
  const clampedGood = Math.min(good, total);
  return { state: "counted", good: clampedGood, total, bad: total - clampedGood };
}

/** The error ratio and burn rate of one window's counted events against `objective` (0..1). */
export function computeBurnRate(counts: EventCounts | undefined, objective: number): BurnMeasure {
  const budget = errorBudgetOf(objective);
  const events = countEvents(counts);
  if (events.state === "no-data") return events;
  const errorRatio = events.bad / events.total;
  return {
    state: "measured",
    good: events.good,
    total: events.total,
    bad: events.bad,
    errorRatio,
    burnRate: errorRatio / budget,
  };
}

/** Whether a measured window burns at least `factor` times the sustainable rate; no data never does. */
export function isBurningAt(measure: BurnMeasure, factor: number): boolean {
  return measure.state === "measured" && measure.burnRate >= factor * (1 - RELATIVE_TOLERANCE);
}

/** One window pair's verdict: firing when both windows burn at least the factor. */
export interface WindowPairStatus {
  readonly windowId: string;
  readonly severity: Severity;
  /** Burn-rate factor derived for the SLO's period. */
  readonly factor: number;
  readonly longMs: number;
  readonly shortMs: number;
  readonly long: BurnMeasure;
  readonly short: BurnMeasure;
  /** "no-data" when the long window has no events; "ok" when it has but the pair does not fire. */
  readonly state: "firing" | "ok" | "no-data";
}

/** The burn status of one SLO over every window pair. */
export interface SloBurnStatus {
  /** "firing" when any pair fires; "no-data" when no pair's long window has events. */
  readonly state: "firing" | "ok" | "no-data";
  /** The most urgent firing pair (pages before tickets, then policy order), or null: one notification, not three. */
  readonly firingWindowId: string | null;
  readonly severity: Severity | null;
  /** One status per window pair, in policy order. */
  readonly windows: readonly WindowPairStatus[];
}

/** Counted events over the last `windowMs` milliseconds, or undefined when the store has none. */
export type EventLookup = (windowMs: number) => EventCounts | undefined;

/** The verdict of one window pair from its long and short windows' counted events. */
export function evaluateWindowPair(
  window: BurnWindow,
  objective: number,
  periodMs: number,
  long: EventCounts | undefined,
  short: EventCounts | undefined,
): WindowPairStatus {
  const factor = burnFactor(window, periodMs);
  const longBurn = computeBurnRate(long, objective);
  const shortBurn = computeBurnRate(short, objective);
  const state =
    longBurn.state === "no-data"
      ? "no-data"
      : isBurningAt(longBurn, factor) && isBurningAt(shortBurn, factor)
        ? "firing"
        : "ok";
  return {
    windowId: window.id,
    severity: window.severity,
    factor,
    longMs: window.longMs,
    shortMs: window.shortMs,
    long: longBurn,
    short: shortBurn,
    state,
  };
}

/**
 * Evaluates every window pair of one SLO (objective in 0..1, period in milliseconds). `lookup` is
 * asked once per distinct window length, so a window shared by two pairs (6 h) is counted once.
 */
export function evaluateBurn(
  slo: { readonly objective: number },
  periodMs: number,
  lookup: EventLookup,
  windows: readonly BurnWindow[] = BURN_WINDOWS,
): SloBurnStatus {
  const cache = new Map<number, EventCounts | undefined>();
  const counted = (windowMs: number): EventCounts | undefined => {
    if (!cache.has(windowMs)) cache.set(windowMs, lookup(windowMs));
    return cache.get(windowMs);
  };
  const statuses = windows.map((window) =>
    evaluateWindowPair(window, slo.objective, periodMs, counted(window.longMs), counted(window.shortMs)),
  );
  const firing =
    statuses.find((status) => status.state === "firing" && status.severity === "page") ??
    statuses.find((status) => status.state === "firing");
  const state = firing ? "firing" : statuses.every((status) => status.state === "no-data") ? "no-data" : "ok";
  return { state, firingWindowId: firing?.windowId ?? null, severity: firing?.severity ?? null, windows: statuses };
}
