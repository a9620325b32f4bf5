/**
 * The idle history fetched window by window (analyzer/evaluation/idle-history-windows.ts) answers
 * the idle decisions as the week-long range did (analyzer/recommend/idle-history.ts loadIdleHistory),
 * in the windows they read, from answers per model: a steady model's requests per bucket equal the
 * full history's, a model with one request a day (each in a counter series born with it, which
 * Prometheus's increase() does not count) is still seen on each of those days, and buckets outside
 * the windows are null.
 */
import { describe, expect, it } from "vitest";
import {
  historyWindows,
  loadIdleHistoryWindows,
  longestTtlMs,
} from "../../../analyzer/evaluation/idle-history-windows.js";
import { idleEvictionConfigSchema } from "../../../common/config/idle-eviction-config.js";
import { historyRequestsBetween, loadIdleHistory } from "../../../analyzer/recommend/idle-history.js";
import { MemoryStore } from "../../../analyzer/stores/memory-store.js";
import { METRICS } from "../../../common/conventions.js";
import { MINUTE_MS, DAY_MS } from "../../../common/units.js";

const AT_MS = Date.UTC(2026, 2, 9, 9, 0);
const CONFIG = idleEvictionConfigSchema.parse({});

/** A week of a steady model (a request a minute) and a sporadic one (one request at 09:05 on five days, each in a new series that lives an hour). */
function store(): MemoryStore {
  const memory = new MemoryStore({ tiers: [{ stepMs: MINUTE_MS, retentionMs: 8 * DAY_MS }] });
  const steady = { model: "steady-7b", namespace: "llm", pod: "steady-0", status: "ok" };
  for (let t = AT_MS - 7 * DAY_MS - 10 * MINUTE_MS, n = 0; t <= AT_MS; t += MINUTE_MS, n++)
    memory.ingest(METRICS.llmRequests.name, steady, n, t);
  for (const daysAgo of [1, 2, 4, 5, 6]) {
    const requestMs = AT_MS - daysAgo * DAY_MS + 5 * MINUTE_MS;
    const series = { model: "sporadic-7b", namespace: "llm", pod: `sporadic-${daysAgo}`, status: "ok" };
    for (let t = requestMs + 30_000; t <= requestMs + 60 * MINUTE_MS; t += MINUTE_MS) {
      memory.ingest(METRICS.llmRequests.name, series, 1, t);
      memory.ingest(
        METRICS.llmLastRequest.name,
        { model: "sporadic-7b", namespace: "llm", pod: series.pod },
        requestMs / 1000,
        t,
      );
    }
  }
  return memory;
}

describe("idle history, window by window", () => {
  it("reads the windows the decisions read: the last TTL and the TTL after this time of day on each of the last days", () => {
    const bucketMs = 5 * MINUTE_MS;
    const buckets = (7 * DAY_MS) / bucketMs;
    const startMs = AT_MS - buckets * bucketMs;
    const windows = historyWindows(AT_MS, CONFIG, startMs, bucketMs, buckets);
    expect(longestTtlMs(CONFIG)).toBe(30 * MINUTE_MS);
    expect(windows).toHaveLength(1 + 7);
    expect(windows[0]).toEqual({ first: buckets - 6, last: buckets - 1 });
    for (const [k, window] of windows.slice(1).entries()) expect(window.first).toBe(buckets - (k + 1) * 288);
  });

  it("gives the week-long history's answers in those windows, catches requests in series born with them, and nothing elsewhere", async () => {
    const memory = store();
    const before = memory.queryCount;
    const windows = await loadIdleHistoryWindows(memory, AT_MS, CONFIG);
    expect(memory.queryCount - before).toBe(2 * 8);
    const full = await loadIdleHistory(memory, AT_MS, 7, 5 * MINUTE_MS);
    for (let k = 0; k <= 7; k++) {
      const fromMs = AT_MS - k * DAY_MS + (k === 0 ? -30 * MINUTE_MS : 0);
      const steady = historyRequestsBetween(windows, "steady-7b", fromMs, fromMs + 30 * MINUTE_MS);
      expect(steady, `day ${k}`).toBe(historyRequestsBetween(full, "steady-7b", fromMs, fromMs + 30 * MINUTE_MS));
      expect(steady).toBe(30);
      const sporadic = historyRequestsBetween(windows, "sporadic-7b", fromMs, fromMs + 30 * MINUTE_MS) ?? 0;
      expect(sporadic > 0, `sporadic on day ${k}`).toBe([1, 2, 4, 5, 6].includes(k));
      expect(sporadic > 0).toBe(
        (historyRequestsBetween(full, "sporadic-7b", fromMs, fromMs + 30 * MINUTE_MS) ?? 0) > 0,
      );
    }
    // Noon of three days ago is in no window: no evidence either way.
    expect(
      historyRequestsBetween(
        windows,
        "steady-7b",
        AT_MS - 3 * DAY_MS + 3 * 3_600_000,
        AT_MS - 3 * DAY_MS + 4 * 3_600_000,
      ),
    ).toBeNull();
  });
});
