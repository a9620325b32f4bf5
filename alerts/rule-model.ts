/**
 * The shape of a Prometheus rule file (https://prometheus.io/docs/prometheus/latest/configuration/recording_rules/)
 * and what every generator shares: the time scale, the runbook links, the alert builder that makes
 * every alert carry a severity, a static summary, a templated description and a runbook URL.
 */
import { formatDurationMs } from "../common/config/duration.js";
import { ALERT_LABELS } from "../common/conventions.js";

/** Mixin severities (monitoring-mixins guideline): critical pages, warning opens a ticket, info is not routed. */
export type AlertSeverity = "critical" | "warning" | "info";

export interface RecordingRule {
  readonly record: string;
  readonly expr: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface AlertingRule {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export type Rule = RecordingRule | AlertingRule;

export interface RuleGroup {
  readonly name: string;
  readonly interval?: string;
  readonly rules: readonly Rule[];
}

/** What every rule generator is given. */
export interface RuleContext {
  /**
   * Every window, `for` and look-back duration is divided by this (1 in production). The
   * end-to-end test uses 60 so that an hour's window lasts a minute; thresholds are unchanged.
   */
  readonly timeScale: number;
  /** Absolute URL where docs/runbooks.md is served; each alert links to `<base>#<alert name in lower case>`. */
  readonly runbookBaseUrl: string;
  /** The Prometheus job that scrapes the agents (for `up`). */
  readonly agentJob: string;
}

/** A duration of `ms` milliseconds after the time scale, in Prometheus's notation (`5m`, `500ms`). */
export function scaled(context: RuleContext, ms: number): string {
  return formatDurationMs(Math.max(1, Math.round(ms / context.timeScale)));
}

/**
 * Why a runbook base URL cannot be used, or undefined when it can: Alertmanager and Grafana show
 * `runbook_url` as a link with no page to resolve it against, so it must be an absolute http(s) URL,
 * and the alert's anchor is appended, so it must not carry one.
 */
export function runbookBaseUrlProblem(base: string): string | undefined {
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    return `the runbook base URL must be absolute (https://…/docs/runbooks.md), got ${JSON.stringify(base)}`;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    return `the runbook base URL must be http or https, got ${JSON.stringify(base)}`;
  if (url.hash !== "" || base.includes("#"))
    return `the runbook base URL must not carry an anchor (each alert adds its own), got ${JSON.stringify(base)}`;
  return undefined;
}

/** The runbook section of an alert (GitHub's heading anchor of `## <AlertName>`). */
export function runbookUrl(context: RuleContext, alert: string): string {
  return `${context.runbookBaseUrl}#${alert.toLowerCase()}`;
}

/** What an alert says; `description` is a Go template (`{{ $labels.node }}`, `{{ $value }}`). */
export interface AlertSpec {
  readonly name: string;
  readonly expr: string;
  readonly severity: AlertSeverity;
  /** Milliseconds, before the time scale; omitted: fires at the first evaluation that matches. */
  readonly forMs?: number;
  readonly labels?: Readonly<Record<string, string>>;
  /** A static sentence: starts with a capital letter, ends with a period (mixtool `alert-summary-style`). */
  readonly summary: string;
  readonly description: string;
}

/** An alerting rule with the severity label and the summary, description and runbook_url annotations. */
export function alertRule(context: RuleContext, spec: AlertSpec): AlertingRule {
  return {
    alert: spec.name,
    expr: spec.expr,
    ...(spec.forMs === undefined ? {} : { for: scaled(context, spec.forMs) }),
    labels: { ...spec.labels, [ALERT_LABELS.severity]: spec.severity },
    annotations: { summary: spec.summary, description: spec.description, runbook_url: runbookUrl(context, spec.name) },
  };
}

/** Whether a rule is an alerting rule. */
export function isAlertingRule(rule: Rule): rule is AlertingRule {
  return "alert" in rule;
}
