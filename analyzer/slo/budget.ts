import { countEvents, errorBudgetOf, type BurnMeasure, type EventCounts, type NoDataReason } from "./burn.js";

/**
 * The error budget over the SLO period: the number of bad events the objective allows is
 * (1 − objective) × total events of the period, and the budget remaining is 1 − bad ÷ allowed
 * (https://sre.google/workbook/alerting-on-slos/: "the error budget gives the number of allowed bad
 * events"). Counted over the whole period, not averaged from short windows.
 */

/** The budget of one SLO over its period. */
export type BudgetStatus =
  | {
      /** No events counted (no traffic, no series, or unusable counts): nothing is spent. */
      readonly state: "no-data";
      readonly reason: NoDataReason;
      /** Always 1: a period without traffic leaves the budget whole. */
      readonly remaining: 1;
      readonly consumed: 0;
    }
  | {
      readonly state: "measured";
      readonly good: number;
      readonly total: number;
      readonly bad: number;
      /** (1 − objective) × total: bad events the period may hold. */
      readonly allowedBad: number;
      /** bad ÷ allowedBad; above 1 when overspent. */
      readonly consumed: number;
      /** 1 − consumed; negative when overspent (not clamped, so the overspend shows). */
      readonly remaining: number;
    };

/** The error budget from the events counted over the whole period, against `objective` (0..1). */
export function errorBudget(periodCounts: EventCounts | undefined, objective: number): BudgetStatus {
  const budget = errorBudgetOf(objective);
  const events = countEvents(periodCounts);
  if (events.state === "no-data") return { state: "no-data", reason: events.reason, remaining: 1, consumed: 0 };
  const allowedBad = budget * events.total;
  const consumed = events.bad / allowedBad;
  return {
    state: "measured",
    good: events.good,
    total: events.total,
    bad: events.bad,
    allowedBad,
    consumed,
    remaining: 1 - consumed,
  };
}

/**
 * Milliseconds until the budget is spent if the current burn rate (of the 1 h or 6 h window) goes
 * on: burning at rate b spends b ÷ period of the budget per unit of time (a burn of 1 spends it
 * exactly over the period; workbook table 5-4: 10× empties a 30-day budget in 3 days), so the time
 * left is remaining × period ÷ b. This assumes traffic stays at the period's average rate.
 * 0 when the budget is already spent; null (never Infinity, which JSON cannot carry) when there is
 * no burn to extrapolate: no data, or a burn rate of 0.
 */
export function timeToExhaustionMs(budget: BudgetStatus, burn: BurnMeasure | number, periodMs: number): number | null {
  const burnRate = typeof burn === "number" ? burn : burn.state === "measured" ? burn.burnRate : undefined;
  if (burnRate === undefined || !Number.isFinite(burnRate) || burnRate <= 0) return null;
  if (budget.remaining <= 0) return 0;
  return (budget.remaining * periodMs) / burnRate;
}
