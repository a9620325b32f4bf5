/**
 * LLM latency: end-to-end p50/p95/p99 per model with exemplars, the queue / prefill / decode
 * breakdown, time to first token, time per output token, traffic, and the runtimes' engine gauges
 * (KV-cache usage, prefix-cache hits, queue depth, batch size, preemptions).
 */
import { selector } from "../common/promql.js";
import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { METRICS } from "../common/conventions.js";
import { buildDashboard, labelVariable } from "./layout.js";
import { heatmapPanel, timeseriesPanel, type QuerySpec } from "./panels.js";
import { mean, MODEL, NODE, quantile, RATE } from "./promql.js";

/** Stable identity of the LLM latency dashboard. */
export const LLM_LATENCY = { uid: "inferwatch-llm-latency", title: "inferwatch / LLM latency" } as const;

const M = METRICS;
const SEL = `${MODEL}, ${NODE}`;
const QUANTILES = [0.5, 0.95, 0.99] as const;
const PHASES = [
  { name: "queue", metric: M.llmQueueDuration.name },
  { name: "prefill", metric: M.llmPrefillDuration.name },
  { name: "decode", metric: M.llmDecodeDuration.name },
] as const;

/** p50, p95 and p99 of a histogram per model, with exemplars (the trace of a slow request). */
function quantiles(histogram: string): QuerySpec[] {
  return QUANTILES.map((q) => ({
    expr: quantile(q, histogram, SEL, ["model"]),
    legend: `{{model}} p${Math.round(q * 100)}`,
    exemplar: true,
  }));
}

/** The LLM latency dashboard. */
export function llmLatency(): Dashboard {
  const requests = (matchers: string): string =>
    `sum by (model) (rate(${selector(M.llmRequests.name, [matchers])}[${RATE}]))`;
  return buildDashboard(
    {
      ...LLM_LATENCY,
      description:
        "Per-model LLM request latency from the runtimes' spans (end to end, phases, TTFT, TPOT), traffic, and the runtimes' engine state.",
      tags: ["llm", "latency"],
    },
    [
      labelVariable("model", "Model", M.llmRequests.name, "Served model."),
      labelVariable("node", "Node", M.llmRequests.name, "Node of the runtime pods."),
    ],
    [
      {
        title: "Latency",
        panels: [
          timeseriesPanel({
            title: "End-to-end latency",
            description:
              "p50, p95 and p99 of request latency (arrival to last token) per model; exemplars link to the traces of slow requests. Quantiles are interpolated within histogram buckets.",
            unit: "s",
            min: 0,
            queries: quantiles(M.llmRequestDuration.name),
          }),
          heatmapPanel({
            title: "End-to-end latency distribution",
            description: "Requests per latency bucket over time, selected models.",
            unit: "s",
            queries: [
              {
                expr: `sum by (le) (increase(${selector(`${M.llmRequestDuration.name}_bucket`, [SEL])}[${RATE}]))`,
                legend: "{{le}}",
                format: "heatmap",
              },
            ],
          }),
          timeseriesPanel({
            title: "Phase breakdown (mean)",
            description:
              "Mean queue, prefill and decode time per request and model: where a request's time goes. Queue-bound: scale out or rebalance; prefill-bound: prefix caching, chunked prefill; decode-bound: speculative decoding, quantization, smaller batches.",
            unit: "s",
            min: 0,
            queries: PHASES.map((p) => ({ expr: mean(p.metric, SEL, ["model"]), legend: `{{model}} ${p.name}` })),
          }),
          timeseriesPanel({
            title: "Phase p95",
            description: "p95 of queue, prefill and decode time per model.",
            unit: "s",
            min: 0,
            queries: PHASES.map((p) => ({
              expr: quantile(0.95, p.metric, SEL, ["model"]),
              legend: `{{model}} ${p.name} p95`,
            })),
          }),
          timeseriesPanel({
            title: "Time to first token",
            description: "p50, p95 and p99 of time to first token per model, with exemplars.",
            unit: "s",
            min: 0,
            queries: quantiles(M.llmTimeToFirstToken.name),
          }),
          timeseriesPanel({
            title: "Time per output token",
            description:
              "p50, p95 and p99 of the mean time per output token after the first, per model, with exemplars.",
            unit: "s",
            min: 0,
            queries: quantiles(M.llmTimePerOutputToken.name),
          }),
        ],
      },
      {
        title: "Traffic",
        panels: [
          timeseriesPanel({
            title: "Requests by status",
            description: "Finished requests per second, by model and status ok|error.",
            unit: "reqps",
            min: 0,
            queries: [
              {
                expr: `sum by (model, status) (rate(${selector(M.llmRequests.name, [SEL])}[${RATE}]))`,
                legend: "{{model}} {{status}}",
              },
            ],
          }),
          timeseriesPanel({
            title: "Error ratio",
            description: "Share of finished requests with status error, per model.",
            unit: "percentunit",
            min: 0,
            queries: [{ expr: `${requests(`${SEL}, status="error"`)} / (${requests(SEL)} > 0)`, legend: "{{model}}" }],
          }),
          timeseriesPanel({
            title: "Tokens",
            description: "Prompt and completion tokens per second, per model.",
            unit: "suffix: tok/s",
            min: 0,
            queries: [
              {
                expr: `sum by (model, type) (rate(${selector(M.llmTokens.name, [SEL])}[${RATE}]))`,
                legend: "{{model}} {{type}}",
              },
            ],
          }),
          timeseriesPanel({
            title: "Time since the last request",
            description:
              "Seconds since the model's last request ended (the idle signal the eviction recommendations use).",
            unit: "s",
            min: 0,
            queries: [
              { expr: `time() - max by (model) (${selector(M.llmLastRequest.name, [SEL])})`, legend: "{{model}}" },
            ],
          }),
        ],
      },
      {
        title: "Runtime engine",
        panels: [
          timeseriesPanel({
            title: "KV-cache usage",
            description:
              "Share of the runtime's KV cache in use, the highest of the model's engines; near 1 the runtime preempts requests.",
            unit: "percentunit",
            min: 0,
            max: 1,
            threshold: { value: 0.9, below: "green", above: "red" },
            queries: [{ expr: `max by (model) (${selector(M.llmKvCacheUsage.name, [SEL])})`, legend: "{{model}}" }],
          }),
          timeseriesPanel({
            title: "Prefix-cache hit ratio",
            description: "Share of prefix-cache queries (tokens) that hit, per model, from the hit and query counters.",
            unit: "percentunit",
            min: 0,
            max: 1,
            queries: [
              {
                expr: `sum by (model) (rate(${selector(M.llmPrefixCacheHits.name, [SEL])}[${RATE}])) / (sum by (model) (rate(${selector(M.llmPrefixCacheQueries.name, [SEL])}[${RATE}])) > 0)`,
                legend: "{{model}}",
              },
            ],
          }),
          timeseriesPanel({
            title: "Queue depth",
            description: "Requests waiting in the runtimes' queues, per model.",
            unit: "short",
            min: 0,
            queries: [{ expr: `sum by (model) (${selector(M.llmQueueDepth.name, [SEL])})`, legend: "{{model}}" }],
          }),
          timeseriesPanel({
            title: "Batch size",
            description: "Requests in the runtimes' running batches, per model.",
            unit: "short",
            min: 0,
            queries: [{ expr: `sum by (model) (${selector(M.llmBatchSize.name, [SEL])})`, legend: "{{model}}" }],
          }),
          timeseriesPanel({
            title: "Preemptions",
            description: "Requests preempted per second (KV cache exhausted), per model.",
            unit: "cps",
            min: 0,
            queries: [
              {
                expr: `sum by (model) (rate(${selector(M.llmPreemptions.name, [SEL])}[${RATE}]))`,
                legend: "{{model}}",
              },
            ],
          }),
        ],
      },
    ],
  );
}
