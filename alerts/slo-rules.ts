/**
 * SLO recording rules and multiwindow, multi-burn-rate alerts, generated from the SLO configuration
 * the analyzer reads and the window pairs of common/slo/windows.ts.
 *
 * - Per SLO and window: good ÷ total events, from increases of two counters (for latency the
 *   histogram bucket at the threshold and the count), never an average of ratios (Sloth #241, #618).
 *   Windows of a day and longer (1 d, 3 d, the period) are `sum_over_time` of the recorded 5-minute
 *   increases (recording-rules.ts), as the analyzer reads them: a 30-day window then reads 8,640
 *   recorded points per model instead of 30 days of every pod's samples.
 *   The total is guarded (`> 0`) and the good count defaults to 0 (`or vector(0)`), so a model
 *   without traffic has no ratio — no NaN and no alert — while a total outage still has one
 *   (Sloth #133; the Pyrra/vLLM `(num or vector(0)) / (den > 0)` form).
 * - One alert rule per window pair, all named {@link ALERTS.sloBurn}, labelled with the pair
 *   (`window`, `long_window`, `short_window`) so the responder sees which pair fired
 *   (autometrics-shared#82) and Alertmanager can inhibit the slower pair by the faster (Pyrra #1883).
 * - An error-budget-exhausted ticket over the SLO period, in a second group per SLO that runs every
 *   5 minutes (the period's raw increase is the costliest query).
 */
import { LONG_WINDOW_MIN_MS, recordedName, type SloFamily } from "../analyzer/slo/slo-counts.js";
import { BURN_WINDOWS, burnFactor, isReachable, windowDurationsMs, type BurnWindow } from "../common/slo/windows.js";
import { listSlos, type ModelClass, type Slo, type SloConfig } from "../common/slo/spec.js";
import { formatDurationMs } from "../common/config/duration.js";
import { ALERT_LABELS, ALERTS, METRICS, RECORDING_RULES } from "../common/conventions.js";
import { classMatchers } from "./model-selector.js";
import { leMatcher, matcher, promNumber, promString, selector } from "../common/promql.js";
import { MINUTE_MS } from "../common/units.js";
import {
  alertRule,
  scaled,
  type AlertingRule,
  type RecordingRule,
  type RuleContext,
  type RuleGroup,
} from "./rule-model.js";

/** A window pair's severity: the workbook's page and ticket are the mixins' critical and warning. */
export const PAIR_SEVERITY = { page: "critical", ticket: "warning" } as const;

/** The name of the good ÷ total recording rule of one window (nominal length, before the time scale). */
export function goodRatioRule(windowMs: number): string {
  return `${RECORDING_RULES.sloGoodRatio}${formatDurationMs(windowMs)}`;
}

/** The recorded families of an SLO's good and total events. */
function recordedFamilies(slo: Slo): { good: SloFamily; total: SloFamily } {
  if (slo.kind === "availability") return { good: "requests", total: "requests" };
  return slo.kind === "ttft"
    ? { good: "ttftBuckets", total: "ttftCount" }
    : { good: "latencyBuckets", total: "latencyCount" };
}

/**
 * PromQL for good and total events of `slo` over `range` (a PromQL duration), for the models
 * `matchers` select; with `isRecorded`, summed from the recorded 5-minute increases.
 */
export function sloEventQueries(
  slo: Slo,
  matchers: string,
  range: string,
  isRecorded = false,
): { good: string; total: string } {
  if (isRecorded) {
    const families = recordedFamilies(slo);
    const sum = (family: SloFamily, extra: readonly string[]) =>
      `sum(sum_over_time(${selector(recordedName(family), [matchers, ...extra])}[${range}]))`;
    if (slo.kind === "availability")
      return { good: sum(families.good, [matcher("status", "!=", "error")]), total: sum(families.total, []) };
    return { good: sum(families.good, [leMatcher(slo.thresholdSeconds)]), total: sum(families.total, []) };
  }
  if (slo.kind === "availability") {
    const metric = METRICS.llmRequests.name;
    return {
      good: `sum(increase(${selector(metric, [matchers, matcher("status", "!=", "error")])}[${range}]))`,
      total: `sum(increase(${selector(metric, [matchers])}[${range}]))`,
    };
  }
  return {
    good: `sum(increase(${selector(`${slo.metric}_bucket`, [matchers, leMatcher(slo.thresholdSeconds)])}[${range}]))`,
    total: `sum(increase(${selector(`${slo.metric}_count`, [matchers])}[${range}]))`,
  };
}

function describeSlo(slo: Slo): string {
  const objective = `${promNumber(slo.objective * 100)}%`;
  if (slo.kind === "availability") return `${objective} of requests without error`;
  return `${objective} of requests ${slo.kind === "ttft" ? "with a first token" : "finished"} within ${promNumber(slo.thresholdSeconds)} s`;
}

/** The SLO's own labels, also set on its alerts so that each alert rule is distinct in the file. */
function sloLabels(slo: Slo): Record<string, string> {
  return { [ALERT_LABELS.slo]: slo.id, [ALERT_LABELS.modelClass]: slo.className };
}

function burnAlert(context: RuleContext, slo: Slo, window: BurnWindow, periodMs: number): AlertingRule {
  const factor = burnFactor(window, periodMs);
  const budget = promNumber(1 - slo.objective);
  const burn = (windowMs: number) => `(1 - ${goodRatioRule(windowMs)}{slo=${promString(slo.id)}}) / ${budget}`;
  const long = formatDurationMs(window.longMs);
  const short = formatDurationMs(window.shortMs);
  const isPage = window.severity === "page";
  return alertRule(context, {
    name: ALERTS.sloBurn,
    // `>=`: a pair fires when both windows burn at least the factor, as the analyzer evaluates it.
    expr: `${burn(window.longMs)} >= ${promNumber(factor)}\nand\n${burn(window.shortMs)} >= ${promNumber(factor)}`,
    severity: PAIR_SEVERITY[window.severity],
    labels: {
      ...sloLabels(slo),
      [ALERT_LABELS.window]: window.id,
      [ALERT_LABELS.longWindow]: long,
      [ALERT_LABELS.shortWindow]: short,
    },
    summary: isPage
      ? "An SLO is burning its error budget fast enough to page."
      : "An SLO is burning its error budget faster than it can sustain.",
    description:
      `{{ $labels.slo }} (model class {{ $labels.model_class }}, ${describeSlo(slo)}) burns its error budget at ` +
      `{{ $value | printf "%.1f" }}× over ${long} and still over ${short} (threshold ${promNumber(factor)}×): ` +
      `${promNumber(window.budgetShare * 100)}% of the ${formatDurationMs(periodMs)} budget gone within ${long}.`,
  });
}

function exhaustedAlert(context: RuleContext, slo: Slo, periodMs: number): AlertingRule {
  return alertRule(context, {
    name: ALERTS.sloBudgetExhausted,
    expr: `${RECORDING_RULES.sloBudgetRemaining}{slo=${promString(slo.id)}} <= 0`,
    forMs: 5 * MINUTE_MS,
    severity: "warning",
    labels: sloLabels(slo),
    summary: "An SLO has spent its whole error budget for the period.",
    description: `{{ $labels.slo }} (model class {{ $labels.model_class }}, ${describeSlo(slo)}) has {{ $value | humanizePercentage }} of its ${formatDurationMs(periodMs)} error budget left.`,
  });
}

/** How often the budget group runs: a 30-day increase is the costliest query here, and the budget moves slowly. */
const BUDGET_INTERVAL_MS = 5 * MINUTE_MS;

/**
 * Everything generated for one SLO, in two groups: the burn windows' ratios and alerts, evaluated at
 * the global interval, and the period's ratio, budget and exhausted ticket every 5 minutes (a raw
 * `increase()` over 30 days on every evaluation is what hit query limits in giantswarm/prometheus-rules#2123).
 */
function sloGroups(
  context: RuleContext,
  slo: Slo,
  matchers: string,
  periodMs: number,
): { groups: RuleGroup[]; warnings: string[] } {
  const labels = sloLabels(slo);
  const ratio = (windowMs: number): RecordingRule => {
    const { good, total } = sloEventQueries(slo, matchers, scaled(context, windowMs), windowMs >= LONG_WINDOW_MIN_MS);
    return { record: goodRatioRule(windowMs), expr: `(${good} or vector(0))\n/\n(${total} > 0)`, labels };
  };
  const burnWindows = windowDurationsMs(BURN_WINDOWS);
  const budget: RecordingRule = {
    record: RECORDING_RULES.sloBudgetRemaining,
    expr: `1 - (1 - ${goodRatioRule(periodMs)}{slo=${promString(slo.id)}}) / ${promNumber(1 - slo.objective)}`,
    labels,
  };
  const warnings: string[] = [];
  const alerts = BURN_WINDOWS.flatMap((window) => {
    if (isReachable(window, periodMs, slo.objective)) return [burnAlert(context, slo, window, periodMs)];
    warnings.push(
      `${slo.id}: the ${window.id} pair can never fire at a ${promNumber(slo.objective * 100)}% objective (its threshold is above a 100% error rate); left out`,
    );
    return [];
  });
  return {
    groups: [
      { name: `inferwatch-slo-${slo.id}`, rules: [...burnWindows.map(ratio), ...alerts] },
      {
        name: `inferwatch-slo-${slo.id}-budget`,
        interval: scaled(context, BUDGET_INTERVAL_MS),
        rules: [
          ...(burnWindows.includes(periodMs) ? [] : [ratio(periodMs)]),
          budget,
          exhaustedAlert(context, slo, periodMs),
        ],
      },
    ],
    warnings,
  };
}

/** The SLO groups of a configuration, class by class, and what could not be generated. */
export function sloRuleGroups(context: RuleContext, config: SloConfig): { groups: RuleGroup[]; warnings: string[] } {
  const groups: RuleGroup[] = [];
  const warnings: string[] = [];
  config.classes.forEach((modelClass: ModelClass, index) => {
    const matchers = classMatchers(config.classes, index);
    if (matchers === undefined) {
      warnings.push(
        `class ${modelClass.name}: no model-name rule; pod-label rules cannot select LLM series in Prometheus, so it has no SLO rules`,
      );
      return;
    }
    for (const slo of listSlos({ classes: [modelClass] })) {
      const generated = sloGroups(context, slo, matchers, config.periodMs);
      groups.push(...generated.groups);
      warnings.push(...generated.warnings);
    }
  });
  return { groups, warnings };
}
