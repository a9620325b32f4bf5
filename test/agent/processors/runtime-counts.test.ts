/**
 * A runtime's own request and token counters joining the span series: never counted twice when
 * spans report the same requests, never lost when no spans arrive, and never decreasing.
 */
import { describe, expect, it } from "vitest";
import { LlmSeriesStore, type LlmSeries, type LlmSeriesLabels } from "../../../agent/processors/llm-series-store.js";
import type { LlmSpan } from "../../../agent/processors/llm-span.js";

const LABELS: LlmSeriesLabels = {
  model: "llama-3.1-8b",
  runtime: "vllm",
  namespace: "serving",
  pod: "vllm-0",
  tier: "default",
};
const T0 = 1_750_000_000_000;

function store(): LlmSeriesStore {
  return new LlmSeriesStore({
    latencyBuckets: [1.2, 2],
    tpotBuckets: [0.05],
    maxSeries: 100,
    ttlMs: 3_600_000,
    now: () => T0,
  });
}

function span(isError: boolean, promptTokens = 100): LlmSpan {
  return {
    runtime: "vllm",
    model: undefined,
    traceId: "",
    endTimeMs: T0,
    e2eSeconds: 1,
    isError,
    promptTokens,
    completionTokens: 10,
  };
}

function only(s: LlmSeriesStore): LlmSeries {
  const all = [...s.all()];
  expect(all).toHaveLength(1);
  return all[0] as LlmSeries;
}

describe("runtime request counts in the span series", () => {
  it("counts the runtime's requests and failures when no spans arrive (tracing off, vLLM's default)", () => {
    const s = store();
    s.recordRuntimeCounts(LABELS, { requestsOk: 95, requestsFailed: 5, promptTokens: 9_500 }, T0 + 15_000);
    s.recordRuntimeCounts(LABELS, { requestsOk: 10, requestsFailed: 0 }, T0 + 30_000);
    expect(only(s)).toMatchObject({
      ok: 105,
      errors: 5,
      promptTokens: 9_500,
      completionTokens: 0,
      lastRequestSeconds: (T0 + 30_000) / 1000,
    });
  });

  it("counts a request that both a span and the runtime's counter report once", () => {
    const s = store();
    for (let i = 0; i < 8; i++) s.record(LABELS, span(false));
    for (let i = 0; i < 2; i++) s.record(LABELS, span(true));
    s.recordRuntimeCounts(LABELS, { requestsOk: 8, requestsFailed: 2, promptTokens: 1_000 }, T0);
    expect(only(s)).toMatchObject({ ok: 8, errors: 2, promptTokens: 1_000 });
  });

  it("takes the runtime's failures when the spans carry no finish reason, without counting those requests as ok too", () => {
    const s = store();
    s.recordRuntimeCounts(LABELS, { requestsOk: 7, requestsFailed: 3 }, T0);
    for (let i = 0; i < 10; i++) s.record(LABELS, span(false)); // every span reads as ok
    expect(only(s)).toMatchObject({ ok: 7, errors: 3 });
  });

  it("follows whichever source is ahead, and its exported counters never go back", () => {
    const s = store();
    const seen: [number, number][] = [];
    const note = (): void => {
      const series = only(s);
      seen.push([series.ok, series.errors]);
    };
    for (let i = 0; i < 5; i++) s.record(LABELS, span(false));
    note();
    s.recordRuntimeCounts(LABELS, { requestsOk: 4, requestsFailed: 1 }, T0); // runtime saw a failure the spans have not shown yet
    note();
    s.record(LABELS, span(true));
    note();
    s.recordRuntimeCounts(LABELS, { requestsOk: 20 }, T0); // spans sampled out: the runtime runs ahead
    note();
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i]?.[0]).toBeGreaterThanOrEqual(seen[i - 1]?.[0] ?? 0);
      expect(seen[i]?.[1]).toBeGreaterThanOrEqual(seen[i - 1]?.[1] ?? 0);
    }
    expect(seen.at(-1)).toEqual([24, 1]);
  });

  it("ignores what is not a count (negative, NaN) and a runtime that counted nothing marks no request", () => {
    const s = store();
    s.recordRuntimeCounts(LABELS, { requestsOk: -3, requestsFailed: Number.NaN, promptTokens: 50 }, T0 + 5_000);
    expect(only(s)).toMatchObject({ ok: 0, errors: 0, promptTokens: 50, lastRequestSeconds: 0 });
  });

  it("folds runtime counts past the series limit into the overflow series like spans", () => {
    const s = new LlmSeriesStore({ latencyBuckets: [1], tpotBuckets: [1], maxSeries: 2, ttlMs: 1_000, now: () => T0 });
    s.recordRuntimeCounts({ ...LABELS, model: "a" }, { requestsOk: 1 }, T0);
    s.recordRuntimeCounts({ ...LABELS, model: "b" }, { requestsOk: 2 }, T0);
    expect([...s.all()].map((series) => [series.labels.model, series.ok]).sort()).toEqual([
      ["__overflow__", 2],
      ["a", 1],
    ]);
    expect(s.overflowed).toBe(1);
  });
});
