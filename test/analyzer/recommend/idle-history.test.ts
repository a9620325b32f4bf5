import { describe, expect, it } from "vitest";
import { METRICS, OVERFLOW_MODEL } from "../../../common/conventions.js";
import {
  counterBuckets,
  historyRequestsBetween,
  idleHistorySchema,
  loadIdleHistory,
  type IdleHistory,
} from "../../../analyzer/recommend/idle-history.js";
import { MemoryStore } from "../../../analyzer/stores/memory-store.js";

const MINUTE = 60_000;
const BUCKET = 5 * MINUTE;
const DAY_START = Date.UTC(2026, 0, 1);
const AT = DAY_START + 24 * 60 * MINUTE;
const at = (hh: number, mm: number): number => DAY_START + (hh * 60 + mm) * MINUTE;

function labels(model: string, pod: string, status: string): Record<string, string> {
  return { model, runtime: "vllm", namespace: "serving", pod, node: "node-0", tier: "latency", status };
}

/** Ingests one sample a minute from `fromMinute` to `toMinute` (inclusive), valued by `value(minute)`. */
function feed(
  store: MemoryStore,
  seriesLabels: Record<string, string>,
  fromMinute: number,
  toMinute: number,
  value: (minute: number) => number,
): void {
  for (let m = fromMinute; m <= toMinute; m++)
    store.ingest(METRICS.llmRequests.name, seriesLabels, value(m), DAY_START + m * MINUTE);
}

/**
 * One day of request counters scraped every minute:
 * - chat / p-0 / ok: one request a minute 09:00–10:00 (60), a process restart at 10:30 (the counter
 *   drops to 0), then one a minute to 11:00 (30);
 * - chat / p-0 / error: created at 09:32 with 5 errors, flat afterwards;
 * - batch-llm / q-0: one request a minute 03:00–03:10, then expired by the agent (no more samples);
 * - the overflow series, which is not a model.
 */
function dayOfCounters(): MemoryStore {
  const store = new MemoryStore();
  const ok = (m: number): number =>
    m < 9 * 60 ? 0 : m <= 10 * 60 ? m - 9 * 60 : m < 10 * 60 + 30 ? 60 : Math.min(m - (10 * 60 + 30), 30);
  feed(store, labels("chat", "p-0", "ok"), 0, 24 * 60, ok);
  feed(store, labels("chat", "p-0", "error"), 9 * 60 + 32, 24 * 60, () => 5);
  feed(store, labels("batch-llm", "q-0", "ok"), 3 * 60 + 1, 3 * 60 + 10, (m) => m - 3 * 60);
  feed(store, labels(OVERFLOW_MODEL, "x", "ok"), 0, 24 * 60, (m) => m);
  return store;
}

describe("loadIdleHistory against the memory store", () => {
  it("reads every model with one range query, in 5-minute buckets ending at the evaluation time", async () => {
    const store = dayOfCounters();
    const before = store.queryCount;
    const history = await loadIdleHistory(store, AT, 1, BUCKET);
    expect(store.queryCount - before).toBe(1);
    expect(history.startMs).toBe(DAY_START);
    expect(history.bucketMs).toBe(BUCKET);
    expect(Object.keys(history.requestsByModel).sort()).toEqual(["batch-llm", "chat"]);
    expect(history.requestsByModel["chat"]).toHaveLength(288);
  });

  it("counts 5 a bucket from 09:00, adds the error series in the bucket it was born in, reads the 10:30 restart as a reset and counts 30 after it", async () => {
    const chat = (await loadIdleHistory(dayOfCounters(), AT, 1, BUCKET)).requestsByModel["chat"] ?? [];
    // 09:00 is bucket 108; 10:00 is 120; 10:30 is 126.
    expect(chat.slice(108, 132)).toEqual([5, 5, 5, 5, 5, 5, 10, 5, 5, 5, 5, 5, 0, 0, 0, 0, 0, 0, 5, 5, 5, 5, 5, 5]);
    expect(chat.slice(0, 3)).toEqual([0, 0, 0]);
    expect(chat.reduce<number>((sum, v) => sum + (v ?? 0), 0)).toBe(95);
  });

  it("keeps a short-lived series: born in 03:00–03:05, 5 more by 03:10, flat while fresh, then no data once it is gone", async () => {
    const batch = (await loadIdleHistory(dayOfCounters(), AT, 1, BUCKET)).requestsByModel["batch-llm"] ?? [];
    expect(batch.slice(35, 40)).toEqual([null, 5, 5, 0, null]);
  });

  it("answers windows: 65 requests of chat 09:00–10:00, none 10:00–10:30, no data for batch-llm at noon or for an unknown model", async () => {
    const history = await loadIdleHistory(dayOfCounters(), AT, 1, BUCKET);
    expect(historyRequestsBetween(history, "chat", at(9, 0), at(10, 0))).toBe(65);
    expect(historyRequestsBetween(history, "chat", at(10, 0), at(10, 30))).toBe(0);
    expect(historyRequestsBetween(history, "batch-llm", at(12, 0), at(13, 0))).toBeNull();
    expect(historyRequestsBetween(history, "unknown", at(9, 0), at(10, 0))).toBeNull();
  });

  it("refuses a non-positive bucket", async () => {
    await expect(loadIdleHistory(new MemoryStore(), AT, 1, 0)).rejects.toThrow(/bucketMs must be positive/);
  });

  it("wraps a failing store's error with what it was reading", async () => {
    const failing = {
      kind: "prometheus" as const,
      queryCount: 0,
      increase: async () => [],
      latest: async () => [],
      range: async () => Promise.reject(new Error("connection refused")),
      increaseRange: async () => [],
      overTime: async () => [],
      overTimeRange: async () => [],
      hasSeries: async () => new Set<string>(),
    };
    await expect(loadIdleHistory(failing, AT, 7, BUCKET)).rejects.toThrow(
      /idle history: range of inferwatch_llm_requests_total over 7 days/,
    );
  });
});

describe("counterBuckets", () => {
  const points = (...values: (number | null)[]) =>
    values.flatMap((value, i) => (value === null ? [] : [{ atMs: i * 10, value }]));

  it.each([
    ["a steady counter gives the differences", points(3, 5, 9), [2, 4]],
    ["a drop is a reset to zero, so the later value is the increase", points(10, 12, 4), [2, 4]],
    ["a series first seen after the first edge was born in the bucket before it", points(null, 7, 8), [7, 1]],
    [
      "a gap leaves its buckets null and puts the change where the series comes back",
      points(2, null, null, 6),
      [null, null, 4],
    ],
    ["a series seen only at the first edge gives no data", points(4, null), [null]],
  ])("%s", (_name, samples, expected) => {
    expect(counterBuckets(samples, 0, 10, expected.length)).toEqual(expected);
  });
});

describe("idleHistorySchema", () => {
  it("accepts a history with null buckets and refuses a negative count", () => {
    const history: IdleHistory = { startMs: 0, bucketMs: BUCKET, requestsByModel: { chat: [0, null, 3] } };
    expect(idleHistorySchema.parse(history)).toEqual(history);
    expect(idleHistorySchema.safeParse({ ...history, requestsByModel: { chat: [-1] } }).success).toBe(false);
  });
});
