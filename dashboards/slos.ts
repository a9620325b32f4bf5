/**
 * SLOs: error budget remaining, burn rate per window against the page factors, which window pairs
 * fire, the good-event ratios the generated recording rules keep, and the bad events behind them.
 */
import { AnnotationQueryBuilder, type Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { DataqueryBuilder } from "@grafana/grafana-foundation-sdk/prometheus";
import { windowDurationsMs } from "../common/slo/windows.js";
import { formatDurationMs } from "../common/config/duration.js";
import { ALERTS, METRICS, RECORDING_RULES } from "../common/conventions.js";
import { buildDashboard, labelVariable } from "./layout.js";
import type { DashboardOptions } from "./options.js";
import { DATASOURCE, statPanel, timeseriesPanel } from "./panels.js";
import { leMatcher, matcher, selector } from "../common/promql.js";
import { MODEL, RATE } from "./promql.js";

/** Stable identity of the SLO dashboard. */
export const SLOS = { uid: "inferwatch-slos", title: "inferwatch / SLOs" } as const;

const M = METRICS;
const SLO = 'slo=~"$slo"';

/** The SLO dashboard. */
export function slos(options: DashboardOptions): Dashboard {
  const budgetSteps = [
    { value: null, color: "red" },
    { value: 0, color: "orange" },
    { value: 0.25, color: "green" },
  ];
  const factors = [...options.pageBurnFactors].sort((a, b) => a - b);
  const burnSteps = [
    { value: null, color: "green" },
    ...factors.map((value, i) => ({ value, color: i === factors.length - 1 ? "red" : "orange" })),
  ];
  const dashboard = buildDashboard(
    {
      ...SLOS,
      description:
        "Error budgets and multiwindow multi-burn-rate state of every SLO (analyzer and generated recording rules), with the bad events behind them.",
      tags: ["slo"],
    },
    [
      labelVariable("model_class", "Model class", M.sloObjective.name, "SLO model class."),
      labelVariable("slo", "SLO", `${M.sloObjective.name}{model_class=~"$model_class"}`, "SLO id (<class>-<kind>)."),
      labelVariable("model", "Model", M.llmRequests.name, "Served model, for the event panels."),
    ],
    [
      {
        title: "Error budget",
        panels: [
          statPanel({
            title: "Error budget remaining",
            description:
              "Share of the period's error budget left per SLO (below 0 when overspent; 1 without traffic), from the analyzer.",
            unit: "percentunit",
            width: 12,
            height: 6,
            steps: budgetSteps,
            queries: [{ expr: selector(M.sloBudgetRemaining.name, [SLO]), legend: "{{slo}}", instant: true }],
          }),
          statPanel({
            title: "Objectives",
            description: "Each SLO's objective (share of good events).",
            unit: "percentunit",
            width: 12,
            height: 6,
            queries: [{ expr: selector(M.sloObjective.name, [SLO]), legend: "{{slo}}", instant: true }],
          }),
          timeseriesPanel({
            title: "Error budget remaining over time",
            description:
              "Budget left per SLO; the analyzer's figure and the generated recording rule's (dashed when both exist) should agree.",
            unit: "percentunit",
            queries: [
              { expr: selector(M.sloBudgetRemaining.name, [SLO]), legend: "{{slo}}" },
              { expr: selector(RECORDING_RULES.sloBudgetRemaining, [SLO]), legend: "{{slo}} (rule)" },
            ],
          }),
        ],
      },
      {
        title: "Burn rate",
        panels: [
          timeseriesPanel({
            title: "Burn rate per window",
            description: `Error-budget burn rate over each window (1 spends the budget exactly over the period). Page pairs fire at ${factors.join("× and ")}× over both their long and short window; absent when a window had no traffic.`,
            unit: "short",
            min: 0,
            steps: burnSteps,
            queries: [{ expr: selector(M.sloBurnRate.name, [SLO]), legend: "{{slo}} {{window}}" }],
          }),
          timeseriesPanel({
            title: "Window pairs firing",
            description: "1 while a window pair's multiwindow burn-rate condition holds, by severity (page, ticket).",
            unit: "short",
            min: 0,
            max: 1,
            queries: [
              {
                expr: `max by (slo, window, severity) (${selector(M.sloFiring.name, [SLO])})`,
                legend: "{{slo}} {{window}} ({{severity}})",
              },
            ],
          }),
          timeseriesPanel({
            title: "Good-event ratio per window (recording rules)",
            description:
              "Good ÷ total events per SLO and window as the generated recording rules keep them (slo:…:ratio_rate<window>); absent when the window had no events.",
            unit: "percentunit",
            max: 1,
            queries: windowDurationsMs().map((ms) => ({
              expr: selector(`${RECORDING_RULES.sloGoodRatio}${formatDurationMs(ms)}`, [SLO]),
              legend: `{{slo}} ${formatDurationMs(ms)}`,
            })),
          }),
        ],
      },
      {
        title: "Events",
        panels: [
          timeseriesPanel({
            title: "Failed requests",
            description: "Requests per second that ended in error, per model (the availability SLOs' bad events).",
            unit: "reqps",
            min: 0,
            queries: [
              {
                expr: `sum by (model) (rate(${selector(M.llmRequests.name, [MODEL, matcher("status", "=", "error")])}[${RATE}]))`,
                legend: "{{model}}",
              },
            ],
          }),
          timeseriesPanel({
            title: "Requests slower than each SLO threshold",
            description:
              "Requests per second slower than each latency SLO threshold of the configuration, per model (the latency SLOs' bad events: count minus the bucket at the threshold).",
            unit: "reqps",
            min: 0,
            queries: options.latencyThresholdsSeconds.map((t) => ({
              expr: `sum by (model) (rate(${selector(`${M.llmRequestDuration.name}_count`, [MODEL])}[${RATE}])) - sum by (model) (rate(${selector(`${M.llmRequestDuration.name}_bucket`, [MODEL, leMatcher(t)])}[${RATE}]))`,
              legend: `{{model}} > ${t}s`,
            })),
          }),
        ],
      },
    ],
  );
  dashboard.annotations = {
    list: [
      new AnnotationQueryBuilder()
        .name("SLO alerts")
        .datasource(DATASOURCE)
        .enable(true)
        .iconColor("red")
        .target(
          new DataqueryBuilder()
            .expr(`ALERTS{alertname=~"${ALERTS.sloBurn}|${ALERTS.sloBudgetExhausted}", alertstate="firing", ${SLO}}`)
            .refId("Anno"),
        )
        .titleFormat("{{alertname}} {{slo}}")
        .textFormat("{{window}} ({{severity}})")
        .step("60s")
        .build(),
    ],
  };
  return dashboard;
}
