/**
 * The generated SLO rules under `promtool test rules`: the page pairs fire within the SRE
 * workbook's detection time for a 100%-error incident and a 10× burn and stop as the workbook says
 * (expectations derived from common/slo/windows.ts, not written down); nothing fires, and no NaN
 * is recorded, for a model without traffic; a total outage of an availability SLO pages and
 * exhausts the budget.
 */
import { describe, expect, it } from "vitest";
import { promNumber } from "../../common/promql.js";
import { goodRatioRule, PAIR_SEVERITY } from "../../alerts/slo-rules.js";
import { classOf, DEFAULT_SLO_CONFIG } from "../../common/slo/spec.js";
import { BURN_WINDOWS, detectionTimeMs, resetTimeMs, type BurnWindow } from "../../common/slo/windows.js";
import { ALERTS, METRICS } from "../../common/conventions.js";
import { expectedAlert, minutes, runPromtoolTests, seriesOf, type ExprTest, type TestGroup } from "./promtool.js";
import { MINUTE_MS } from "../../common/units.js";

const PERIOD_MS = DEFAULT_SLO_CONFIG.periodMs;
const MODEL = "llama-3-8b";
const SEVEN_B = classOf(DEFAULT_SLO_CONFIG, MODEL);
if (!SEVEN_B) throw new Error(`${MODEL} should be a 7b model`);
const LATENCY = SEVEN_B.latency;
const PAGE_WINDOWS = BURN_WINDOWS.filter((w) => w.severity === "page");
/** Clean history before an incident: the longest page window, so its ratio starts from good traffic only. */
const HISTORY_MIN = Math.max(...PAGE_WINDOWS.map((w) => w.longMs)) / MINUTE_MS;
const REQUESTS_PER_MINUTE = 60;
/** The incidents need only the 7b latency SLO's group; the other tests load every group. */
const SEVEN_B_LATENCY_GROUP = /^inferwatch-slo-7b-latency$/;

/** A counter's values, one a minute from 0, growing by each increment in turn. */
function counter(increments: readonly number[]): string {
  let value = 0;
  return ["0", ...increments.map((increment) => promNumber((value += increment)))].join(" ");
}

/** Latency bucket and count series of the 7b model, given the share of slow requests in each minute. */
function latencySeries(badShare: readonly number[]): TestGroup["input_series"] {
  const labels = { model: MODEL, runtime: "vllm", namespace: "llm", pod: "llama-0", node: "gpu-1", tier: "latency" };
  return [
    {
      series: seriesOf(`${LATENCY.metric}_bucket`, { ...labels, le: String(LATENCY.thresholdSeconds) }),
      values: counter(badShare.map((bad) => REQUESTS_PER_MINUTE * (1 - bad))),
    },
    { series: seriesOf(`${LATENCY.metric}_count`, labels), values: counter(badShare.map(() => REQUESTS_PER_MINUTE)) },
  ];
}

function alertsOf(window: BurnWindow, atMin: number, isFiring: boolean): ExprTest {
  const labels = {
    alertname: ALERTS.sloBurn,
    alertstate: "firing",
    slo: LATENCY.id,
    model_class: LATENCY.className,
    window: window.id,
  };
  const all = {
    ...labels,
    long_window: window.id.split("-")[1] as string,
    short_window: window.id.split("-")[2] as string,
    severity: PAIR_SEVERITY[window.severity],
  };
  return {
    expr: seriesOf("ALERTS", labels),
    eval_time: minutes(atMin),
    exp_samples: isFiring ? [{ labels: seriesOf("ALERTS", all), value: 1 }] : [],
  };
}

/** The minute checks around a crossing at `atMin` (fractional): not yet one minute before, done one minute after. */
function around(atMin: number): { before: number; after: number } {
  const at = Number(atMin.toPrecision(9));
  return { before: Math.ceil(at) - 1, after: Math.floor(at) + 1 };
}

/** A steady burn at `burnRate` × the budget starting after clean history, lasting `incidentMin`, then good traffic again. */
function incident(burnRate: number, incidentMin: number, afterMin: number): readonly number[] {
  const bad = burnRate * (1 - LATENCY.objective);
  return [
    ...Array<number>(HISTORY_MIN).fill(0),
    ...Array<number>(incidentMin).fill(bad),
    ...Array<number>(afterMin).fill(0),
  ];
}

describe("SLO burn alerts under promtool", { timeout: 180_000 }, () => {
  it("page within the workbook's detection time for a 100%-error incident and stop within its reset time", async () => {
    const burnRate = 1 / (1 - LATENCY.objective);
    const detections = PAGE_WINDOWS.map((window) => ({
      window,
      minutes: (detectionTimeMs(window, PERIOD_MS, burnRate) as number) / MINUTE_MS,
    }));
    const incidentMin = Math.ceil(Math.max(...detections.map((d) => d.minutes))) + 10;
    const tests: ExprTest[] = [];
    for (const { window, minutes: detection } of detections) {
      const start = around(HISTORY_MIN + detection);
      tests.push(alertsOf(window, start.before, false), alertsOf(window, start.after, true));
      const reset = around(
        HISTORY_MIN + incidentMin + (resetTimeMs(window, PERIOD_MS, burnRate) as number) / MINUTE_MS,
      );
      tests.push(alertsOf(window, reset.before, true), alertsOf(window, reset.after, false));
    }
    expect(detections[0]?.minutes).toBeCloseTo(43.2, 9);
    expect(detections[1]?.minutes).toBeCloseTo(108, 9);
    const result = await runPromtoolTests(
      [
        {
          name: "100% errors",
          interval: "1m",
          input_series: latencySeries(incident(burnRate, incidentMin, 40)),
          promql_expr_test: tests,
        },
      ],
      SEVEN_B_LATENCY_GROUP,
    );
    expect(result.output).toContain("SUCCESS");
    expect(result.code, result.output).toBe(0);
  });

  it("page on the 6 h pair only for a 10× burn: the 1 h pair's 14.4× is never reached", async () => {
    const burnRate = 10;
    const [fast, slow] = PAGE_WINDOWS as [BurnWindow, BurnWindow];
    expect(detectionTimeMs(fast, PERIOD_MS, burnRate)).toBeUndefined();
    const detection = (detectionTimeMs(slow, PERIOD_MS, burnRate) as number) / MINUTE_MS;
    const incidentMin = Math.ceil(detection) + 10;
    const start = around(HISTORY_MIN + detection);
    const tests = [
      alertsOf(slow, start.before, false),
      alertsOf(slow, start.after, true),
      ...[60, Math.floor(detection), incidentMin].map((at) => alertsOf(fast, HISTORY_MIN + at, false)),
    ];
    const result = await runPromtoolTests(
      [
        {
          name: "10x burn",
          interval: "1m",
          input_series: latencySeries(incident(burnRate, incidentMin, 5)),
          promql_expr_test: tests,
        },
      ],
      SEVEN_B_LATENCY_GROUP,
    );
    expect(result.code, result.output).toBe(0);
  });

  it("record no ratio and fire nothing for a class without traffic, nor once a model's traffic stops", async () => {
    const labels = {
      model: "llama-2-13b",
      runtime: "vllm",
      namespace: "llm",
      pod: "llama13-0",
      node: "gpu-2",
      tier: "latency",
    };
    const thirteen = DEFAULT_SLO_CONFIG.classes[1]?.latency;
    if (!thirteen) throw new Error("default 13b class missing");
    // 99% fast for 30 minutes, then no request at all: counters stay flat.
    const increments = [...Array<number>(30).fill(100), ...Array<number>(30).fill(0)];
    const good = [...Array<number>(30).fill(99), ...Array<number>(30).fill(0)];
    const ratio = (slo: string, windowMs: number, at: number, value?: number): ExprTest => ({
      expr: `${goodRatioRule(windowMs)}{slo="${slo}"}`,
      eval_time: minutes(at),
      exp_samples:
        value === undefined
          ? []
          : [{ labels: seriesOf(goodRatioRule(windowMs), { slo, model_class: slo.split("-")[0] as string }), value }],
    });
    const none = (slo: string, at: number): ExprTest => ({
      expr: `ALERTS{slo="${slo}"}`,
      eval_time: minutes(at),
      exp_samples: [],
    });
    const tests = [
      ratio(thirteen.id, 5 * MINUTE_MS, 30, 0.99),
      ratio(thirteen.id, 5 * MINUTE_MS, 45),
      ratio(thirteen.id, 60 * MINUTE_MS, 45, 0.99),
      none(thirteen.id, 30),
      none(thirteen.id, 45),
      ratio("70b-latency", 5 * MINUTE_MS, 30),
      ratio("70b-availability", 60 * MINUTE_MS, 30),
      none("70b-latency", 30),
      none("70b-availability", 30),
    ];
    const result = await runPromtoolTests([
      {
        name: "no traffic",
        interval: "1m",
        input_series: [
          {
            series: seriesOf(`${thirteen.metric}_bucket`, { ...labels, le: String(thirteen.thresholdSeconds) }),
            values: counter(good),
          },
          { series: seriesOf(`${thirteen.metric}_count`, labels), values: counter(increments) },
        ],
        promql_expr_test: tests,
      },
    ]);
    expect(result.code, result.output).toBe(0);
  });

  it("count the 1 d, 3 d and 30 d windows from the recorded 5-minute increases: the same ratio and budget as the requests counted by hand", async () => {
    // A day of 60 requests a minute, 5% slow for the first 12 hours, none after: 97.5% good over the day.
    const badShare = [...Array<number>(720).fill(0.05), ...Array<number>(720).fill(0)];
    const expected = 1 - (0.05 * 720) / 1440;
    const near = (expr: string, value: number): ExprTest => ({
      expr: `abs(${expr} - ${value}) < bool 0.002`,
      eval_time: minutes(1440),
      exp_samples: [{ labels: "{}", value: 1 }],
    });
    const ratio = (windowMs: number) => `sum(${goodRatioRule(windowMs)}{slo="${LATENCY.id}"})`;
    const result = await runPromtoolTests(
      [
        {
          name: "long windows from recorded increases",
          interval: "1m",
          input_series: latencySeries(badShare),
          promql_expr_test: [
            near(ratio(86_400_000), expected),
            near(ratio(3 * 86_400_000), expected),
            near(ratio(PERIOD_MS), expected),
            near(
              `sum(slo:inferwatch_slo_error_budget_remaining:ratio{slo="${LATENCY.id}"})`,
              1 - (1 - expected) / (1 - LATENCY.objective),
            ),
            // The recording keeps the threshold bucket only, per model.
            {
              expr: `count(model_le:${LATENCY.metric}_bucket:increase5m)`,
              eval_time: minutes(1440),
              exp_samples: [{ labels: "{}", value: 1 }],
            },
          ],
        },
      ],
      /^inferwatch-(recorded-increases|slo-7b-latency(-budget)?)$/,
    );
    expect(result.code, result.output).toBe(0);
  });

  it("page and exhaust the budget when every request of an availability SLO fails (no success series at all)", async () => {
    const availability = SEVEN_B.availability;
    const labels = {
      model: "mistral-7b-instruct",
      runtime: "tgi",
      namespace: "llm",
      pod: "mistral-0",
      node: "gpu-3",
      tier: "latency",
      status: "error",
    };
    const fast = BURN_WINDOWS[0] as BurnWindow;
    const sloLabels = { slo: availability.id, model_class: availability.className };
    const result = await runPromtoolTests([
      {
        name: "total outage",
        interval: "1m",
        input_series: [
          { series: seriesOf(METRICS.llmRequests.name, labels), values: counter(Array<number>(20).fill(30)) },
        ],
        promql_expr_test: [
          {
            expr: `ALERTS{alertname="${ALERTS.sloBurn}", slo="${availability.id}", window="${fast.id}", alertstate="firing"}`,
            eval_time: "10m",
            exp_samples: [
              {
                labels: seriesOf("ALERTS", {
                  alertname: ALERTS.sloBurn,
                  alertstate: "firing",
                  ...sloLabels,
                  window: fast.id,
                  long_window: "1h",
                  short_window: "5m",
                  severity: "critical",
                }),
                value: 1,
              },
            ],
          },
        ],
        alert_rule_test: [
          // 1 − 1 ÷ (1 − 0.99) = −99: rendered by humanizePercentage.
          {
            eval_time: "10m",
            alertname: ALERTS.sloBudgetExhausted,
            exp_alerts: [expectedAlert(ALERTS.sloBudgetExhausted, sloLabels, "-9900%")],
          },
          { eval_time: "3m", alertname: ALERTS.sloBudgetExhausted, exp_alerts: [] },
        ],
      },
    ]);
    expect(result.code, result.output).toBe(0);
  });
});
