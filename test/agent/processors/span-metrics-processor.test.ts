import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { PodAttribution } from "../../../agent/collectors/pods/pod-attribution.js";
import { registerLlmMetrics } from "../../../agent/exporters/llm-metrics.js";
import { SpanMetricsProcessor } from "../../../agent/processors/span-metrics-processor.js";
import type { DecodedSpan, DecodedTraces } from "../../../agent/receivers/otlp-model.js";
import { spansConfigSchema } from "../../../common/config/schema.js";
import { parseExposition, valueOf } from "../../fixtures/exposition.js";
import {
  decodedResource,
  genaiSpan,
  tgiSpan,
  tritonComputeSpan,
  tritonMergedSpan,
  tritonSpan,
  vllmSpan,
} from "../../fixtures/spans.js";

const NO_PODS: PodAttribution = { byDevice: new Map(), refreshedAtMs: 0, isUp: true };

function processor(config: Record<string, unknown> = {}, attribution: PodAttribution = NO_PODS, now = () => 1_000_000) {
  return new SpanMetricsProcessor({ config: spansConfigSchema.parse(config), attribution: () => attribution, now });
}

function traces(
  runtime: "vllm" | "tgi" | "triton" | "genai",
  spans: DecodedSpan[],
  resource = decodedResource(runtime),
): DecodedTraces {
  return { resourceSpans: [{ resource, spans }], rejectedSpans: 0 };
}

async function scrape(p: SpanMetricsProcessor, openMetrics = false) {
  const registry = new Registry();
  if (openMetrics) registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
  registerLlmMetrics(
    registry,
    "n1",
    p.store,
    () => p.outcomes,
    (metric, err) => {
      throw new Error(`${metric}: ${String(err)}`);
    },
  );
  const text = await registry.metrics();
  return { text, series: parseExposition(text.replace(/ # \{.*$/gm, "")) };
}

describe("span metrics", () => {
  it("counts vLLM requests per model with sums and buckets in seconds", async () => {
    const p = processor();
    const e2es = [0.5, 1.1, 1.2, 1.9, 2.5];
    p.consume(
      traces(
        "vllm",
        e2es.map((e2e, i) =>
          vllmSpan({
            spanId: `00000000000000${String(i).padStart(2, "0")}`,
            attributes: { "gen_ai.latency.e2e": e2e, "gen_ai.response.model": "llama-3-8b" },
          }),
        ),
      ),
    );
    const { series } = await scrape(p);
    const labels = { model: "llama-3-8b", runtime: "vllm", node: "n1" };
    expect(valueOf(series, "inferwatch_llm_request_duration_seconds_count", labels)).toBe(5);
    expect(valueOf(series, "inferwatch_llm_request_duration_seconds_sum", labels)).toBeCloseTo(7.2, 9);
    // 1.2 s and 2 s are bucket bounds exactly, so "under the SLO" is a plain counter ratio.
    expect(valueOf(series, "inferwatch_llm_request_duration_seconds_bucket", { ...labels, le: "1.2" })).toBe(3);
    expect(valueOf(series, "inferwatch_llm_request_duration_seconds_bucket", { ...labels, le: "2" })).toBe(4);
    expect(valueOf(series, "inferwatch_llm_request_duration_seconds_bucket", { ...labels, le: "+Inf" })).toBe(5);
    expect(valueOf(series, "inferwatch_llm_queue_duration_seconds_sum", labels)).toBeCloseTo(5 * 0.0123, 9);
    expect(valueOf(series, "inferwatch_llm_prefill_duration_seconds_count", labels)).toBe(5);
    expect(valueOf(series, "inferwatch_llm_decode_duration_seconds_sum", labels)).toBeCloseTo(5 * 2.3495, 9);
    expect(valueOf(series, "inferwatch_llm_time_to_first_token_seconds_sum", labels)).toBeCloseTo(5 * 0.1124, 9);
    expect(valueOf(series, "inferwatch_llm_time_per_output_token_seconds_sum", labels)).toBeCloseTo(
      5 * (2.3495 / 127),
      9,
    );
    expect(valueOf(series, "inferwatch_llm_requests_total", { ...labels, status: "ok" })).toBe(5);
    expect(valueOf(series, "inferwatch_llm_tokens_total", { ...labels, type: "prompt" })).toBe(5 * 512);
    expect(valueOf(series, "inferwatch_llm_tokens_total", { ...labels, type: "completion" })).toBe(5 * 128);
    expect(valueOf(series, "inferwatch_llm_last_request_timestamp_seconds", labels)).toBeCloseTo(
      (1_749_988_800_000 + 2481.3) / 1000,
      3,
    );
    expect(valueOf(series, "inferwatch_otlp_spans_total", { outcome: "recorded" })).toBe(5);
  });

  it("labels each runtime's requests with its runtime, namespace, pod and tier", async () => {
    const p = processor({ tiers: [{ model: "^mistral", tier: "latency" }] });
    p.consume(traces("tgi", [tgiSpan()]));
    p.consume(traces("triton", [tritonMergedSpan()]));
    p.consume(traces("genai", [genaiSpan()]));
    const { series } = await scrape(p);
    const counts = series.filter((s) => s.name === "inferwatch_llm_requests_total" && s.labels["status"] === "ok");
    expect(
      counts
        .map((s) => [
          s.labels["runtime"],
          s.labels["model"],
          s.labels["namespace"],
          s.labels["pod"],
          s.labels["tier"],
          s.value,
        ])
        .sort(),
    ).toEqual(
      [
        ["genai", expect.any(String), "", "", "default", 1],
        // TGI's default service.name names the router, not a model: with no pod to name it, the model is unknown.
        ["tgi", "unknown", "inference", "mistral-7b-tgi-0", "default", 1],
        ["triton", expect.any(String), "inference", "trtllm-triton-5f7b9c-abcde", "default", 1],
      ].sort(),
    );
  });

  it("takes the model from the pod the resource names when the span has none", async () => {
    const attribution: PodAttribution = {
      byDevice: new Map([
        [
          "GPU-a",
          [
            {
              namespace: "inference",
              pod: "llama-8b-vllm-7c9d8f6b5-x2kqp",
              container: "vllm",
              model: "llama-3.1-8b-instruct",
            },
          ],
        ],
      ]),
      refreshedAtMs: 0,
      isUp: true,
    };
    const p = processor({ tiers: [{ model: "8b", tier: "latency" }] }, attribution);
    p.consume(traces("vllm", [vllmSpan()]));
    const { series } = await scrape(p);
    expect(
      valueOf(series, "inferwatch_llm_requests_total", {
        status: "ok",
        model: "llama-3.1-8b-instruct",
        tier: "latency",
        pod: "llama-8b-vllm-7c9d8f6b5-x2kqp",
      }),
    ).toBe(1);
  });

  it("joins Triton's compute span with its model span to get queue time, in either order within a request", async () => {
    const p = processor();
    p.consume(traces("triton", [tritonComputeSpan()]));
    p.consume(traces("triton", [tritonSpan()]));
    const { series } = await scrape(p);
    // QUEUE_START at 0.4 ms, COMPUTE_START at 35.4 ms in the fixture's timeline.
    expect(valueOf(series, "inferwatch_llm_queue_duration_seconds_sum", { runtime: "triton" })).toBeCloseTo(0.035, 6);
    expect(valueOf(series, "inferwatch_llm_request_duration_seconds_sum", { runtime: "triton" })).toBeCloseTo(0.85, 6);
    const alone = processor();
    alone.consume(traces("triton", [tritonSpan()]));
    expect(
      valueOf((await scrape(alone)).series, "inferwatch_llm_queue_duration_seconds_count", { runtime: "triton" }),
    ).toBeUndefined();
  });

  it("counts failed requests as errors", async () => {
    const p = processor();
    p.consume(
      traces("vllm", [
        vllmSpan({ statusCode: 2 }),
        vllmSpan({ attributes: { "gen_ai.response.finish_reasons": '["abort"]' } }),
        vllmSpan(),
      ]),
    );
    const { series } = await scrape(p);
    expect(valueOf(series, "inferwatch_llm_requests_total", { status: "error" })).toBe(2);
    expect(valueOf(series, "inferwatch_llm_requests_total", { status: "ok" })).toBe(1);
  });

  it("ignores spans that are not LLM requests and reports unusable ones as rejected", async () => {
    const p = processor();
    const http = { ...vllmSpan(), name: "GET /health", attributes: new Map() };
    const broken = vllmSpan({
      startTimeMs: 2_000_000_000_000,
      endTimeMs: 1_000_000_000_000,
      attributes: { "gen_ai.latency.e2e": undefined },
    });
    const result = p.consume(traces("vllm", [http, broken, vllmSpan()]));
    expect(result.rejectedSpans).toBe(1);
    expect(p.outcomes).toEqual({ recorded: 1, ignored: 1, rejected: 1 });
  });

  it("links histogram buckets to traces with exemplars in OpenMetrics", async () => {
    const p = processor();
    p.consume(
      traces("vllm", [
        vllmSpan({ traceId: "0af7651916cd43dd8448eb211c80319c", attributes: { "gen_ai.latency.e2e": 1.7 } }),
      ]),
    );
    const { text } = await scrape(p, true);
    expect(text).toMatch(
      /inferwatch_llm_request_duration_seconds_bucket\{[^}]*le="2"\} 1 # \{trace_id="0af7651916cd43dd8448eb211c80319c"\} 1\.7 \d+/,
    );
    expect((await scrape(p)).text).not.toContain("trace_id");
  });

  it("folds label sets past the cardinality limit into one overflow series and counts them", async () => {
    const p = processor({ maxSeriesPerMetric: 3 });
    p.consume(
      traces(
        "vllm",
        Array.from({ length: 10 }, (_, i) => vllmSpan({ attributes: { "gen_ai.response.model": `model-${i}` } })),
      ),
    );
    const { series } = await scrape(p);
    const models = series.filter((s) => s.name === "inferwatch_llm_requests_total" && s.labels["status"] === "ok");
    expect(models.map((s) => [s.labels["model"], s.value]).sort()).toEqual([
      ["__overflow__", 8],
      ["model-0", 1],
      ["model-1", 1],
    ]);
    expect(valueOf(series, "inferwatch_llm_series_overflow_total")).toBe(8);
    expect(valueOf(series, "inferwatch_llm_series")).toBe(3);
  });

  it("expires the series of a model not seen for the TTL", async () => {
    let now = 0;
    const p = processor({ seriesTtl: "10m" }, NO_PODS, () => now);
    p.consume(traces("vllm", [vllmSpan({ attributes: { "gen_ai.response.model": "old" } })]));
    now = 9 * 60_000;
    p.consume(traces("vllm", [vllmSpan({ attributes: { "gen_ai.response.model": "new" } })]));
    now = 11 * 60_000;
    const { series } = await scrape(p);
    expect(
      series
        .filter((s) => s.name === "inferwatch_llm_requests_total" && s.labels["status"] === "ok")
        .map((s) => s.labels["model"]),
    ).toEqual(["new"]);
    expect(valueOf(series, "inferwatch_llm_series_expired_total")).toBe(1);
  });

  it("adds configured SLO thresholds to the buckets exactly", () => {
    const p = processor({ buckets: [0.5, 1, 5], sloThresholds: [1.2, 4] });
    expect(p.store.bounds("e2e")).toEqual([0.5, 1, 1.2, 4, 5]);
  });
});
