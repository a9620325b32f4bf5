/**
 * The multiwindow, multi-burn-rate alerting policy of the Google SRE Workbook, kept as data.
 *
 * Each window pair states how much of the period's error budget may burn within its long window
 * before someone is told; the burn-rate factor is derived from that share, never written down, so
 * a different SLO period gets consistent factors (Sloth `internal/alert/window.go`
 * `getBurnRateFactor`; https://sre.google/workbook/alerting-on-slos/, table 5-8).
 */

import { DAY_MS, HOUR_MS, MINUTE_MS } from "../units.js";

/** Who is told: a page wakes someone; a ticket waits for working hours. */
export type Severity = "page" | "ticket";

/** One long/short window pair; it fires when the burn rate over both is at least its factor. */
export interface BurnWindow {
  /** Stable identifier, `<severity>-<long>-<short>`, used in metric labels and rule names. */
  readonly id: string;
  readonly severity: Severity;
  /** The window over which `budgetShare` of the period's budget may burn, milliseconds. */
  readonly longMs: number;
  /** The window that confirms the burn is still going on (the workbook's 1/12 guideline), milliseconds. */
  readonly shortMs: number;
  /** Share of the whole period's error budget (0..1) consumed within `longMs` when the pair fires. */
  readonly budgetShare: number;
}

/**
 * The workbook's recommended pairs for a 30-day SLO, ordered from the most urgent to the least.
 * Page: 2% of the budget within 1 h (confirmed over 5 m), 5% within 6 h (30 m).
 * Ticket: 10% within 1 d (2 h), the workbook's 3× pair, and 10% within 3 d (6 h).
 * The 1 d pair is the workbook's `ratio_rate24h > 3*0.001` expression: 3 × 1 d ÷ 30 d = 10%.
 */
export const BURN_WINDOWS: readonly BurnWindow[] = [
  { id: "page-1h-5m", severity: "page", longMs: HOUR_MS, shortMs: 5 * MINUTE_MS, budgetShare: 0.02 },
  { id: "page-6h-30m", severity: "page", longMs: 6 * HOUR_MS, shortMs: 30 * MINUTE_MS, budgetShare: 0.05 },
  { id: "ticket-1d-2h", severity: "ticket", longMs: DAY_MS, shortMs: 2 * HOUR_MS, budgetShare: 0.1 },
  { id: "ticket-3d-6h", severity: "ticket", longMs: 3 * DAY_MS, shortMs: 6 * HOUR_MS, budgetShare: 0.1 },
];

/** Every distinct window length of `windows`, ascending, so a store can answer each once per evaluation. */
export function windowDurationsMs(windows: readonly BurnWindow[] = BURN_WINDOWS): readonly number[] {
  const lengths = new Set<number>();
  for (const window of windows) {
    lengths.add(window.longMs);
    lengths.add(window.shortMs);
  }
  return [...lengths].sort((a, b) => a - b);
}

/** The longest long window of `windows`, milliseconds: the history an evaluation needs. */
export function longestWindowMs(windows: readonly BurnWindow[] = BURN_WINDOWS): number {
  return Math.max(...windows.map((window) => window.longMs));
}

/**
 * The burn rate at which `window` fires for an SLO over `periodMs`: burning at rate b for the long
 * window L consumes b × L ÷ period of the budget, so the factor is budget share × period ÷ L
 * (workbook: "budget consumed = burn rate × alerting window ÷ period"); the tests check the
 * workbook's table 5-8 values for 30 d.
 */
export function burnFactor(window: BurnWindow, periodMs: number): number {
  return (window.budgetShare * periodMs) / window.longMs;
}

/**
 * Whether `window` can ever fire for an SLO with this objective: the highest possible burn rate is
 * 1 ÷ (1 − objective) (every request bad), so a 90% SLO can never reach the one-hour page's
 * factor (workbook, "extreme goals": a 100% outage consumes only 1.4% of a 90% SLO's budget in an
 * hour).
 */
export function isReachable(window: BurnWindow, periodMs: number, objective: number): boolean {
  return burnFactor(window, periodMs) * (1 - objective) <= 1;
}

/**
 * How long a steady burn at `burnRate` takes to fire `window`, milliseconds, starting from a clean
 * history: the long window's ratio reaches the factor after factor ÷ burn × L, which equals budget
 * share × period ÷ burn rate (workbook: "time to fire = (1 − SLO) ÷ error ratio × window × factor");
 * the short window, 1/12 as long, is already above by then. Undefined when the burn never gets there.
 */
export function detectionTimeMs(window: BurnWindow, periodMs: number, burnRate: number): number | undefined {
  const factor = burnFactor(window, periodMs);
  if (!(burnRate >= factor) || !Number.isFinite(burnRate)) return undefined;
  return (window.budgetShare * periodMs) / burnRate;
}

/**
 * How long `window` keeps firing after a steady burn at `burnRate` stops, milliseconds, when the
 * burn lasted at least the short window and the long window stays above its factor meanwhile: the
 * short window's ratio decays linearly and drops below the factor after S × (1 − factor ÷ burn).
 * It is at most the short window (workbook, figure 5-6: the alert "ceas[es] to fire five minutes
 * later, rather than one hour later"). Undefined when the burn never fires the pair.
 */
export function resetTimeMs(window: BurnWindow, periodMs: number, burnRate: number): number | undefined {
  const factor = burnFactor(window, periodMs);
  if (!(burnRate >= factor) || !Number.isFinite(burnRate)) return undefined;
  return window.shortMs * (1 - factor / burnRate);
}
