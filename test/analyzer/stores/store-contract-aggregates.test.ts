/**
 * The store contract for the aggregating queries (`<fn>_over_time` at one and several instants,
 * increases at several instants, reduced `latest`, value sets, series presence): one recorded
 * 4-hour scenario of GPU gauges and request counters, fed to a real Prometheus (backfilled with
 * promtool), the embedded MemoryStore and a real InfluxDB, gives the same answers from all three,
 * and the per-GPU time-weighted totals match a reference computed here sample by sample.
 *
 * The scenario has what makes aggregation in the store non-trivial: a GPU whose series changes with
 * the pod holding it (a rollout), a GPU held by two pods at once (two identical series), a GPU
 * with a 10-minute hole (longer than the 5-minute lookback), and a counter that resets. Samples
 * are 30 s apart and the scenario is shorter than the memory store's finest tier (6 h), so every
 * store holds every sample.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryStore } from "../../../analyzer/stores/memory-store.js";
import type { LabeledSamples, LabeledValue, MetricStore } from "../../../analyzer/stores/metric-store.js";
import { createPrometheusStore, type PrometheusStore } from "../../../analyzer/stores/prometheus-store.js";
import { createInfluxStore } from "../../../analyzer/stores/influx-store.js";
import { startInfluxd, type InfluxdServer } from "../../fixtures/influxd-server.js";
import {
  createBlocksFromOpenMetrics,
  startPrometheus,
  type PrometheusServer,
} from "../../fixtures/prometheus-server.js";
import { MINUTE_MS, HOUR_MS } from "../../../common/units.js";

const START_MS = Date.UTC(2024, 3, 1);
const STEP_MS = 30_000;
const END_MS = START_MS + 4 * HOUR_MS;
const UTIL = "inferwatch_gpu_utilization_ratio";
const REQUESTS = "inferwatch_llm_requests_total";
const LAST = "inferwatch_llm_last_request_timestamp_seconds";

interface Series {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly samples: readonly { readonly atMs: number; readonly value: number }[];
}

function sampled(
  name: string,
  labels: Record<string, string>,
  fromMs: number,
  toMs: number,
  value: (atMs: number, k: number) => number,
): Series {
  const samples = [];
  for (let atMs = fromMs, k = 0; atMs <= toMs; atMs += STEP_MS, k++) samples.push({ atMs, value: value(atMs, k) });
  return { name, labels, samples };
}

/** The scenario; see the module comment. */
function scenario(): Series[] {
  const gpu = (node: string, uuid: string, pod?: string) => ({
    node,
    gpu: uuid.slice(-1),
    uuid,
    gpu_model: "NVIDIA H100 80GB HBM3",
    ...(pod ? { namespace: "llm", pod, model: "llama-8b" } : {}),
  });
  const rollout = START_MS + 2 * HOUR_MS;
  const wave = (atMs: number) => 0.3 + 0.5 * Math.abs(Math.sin(atMs / 1_000_000));
  const requests = (status: string, rate: number, resetAtMs: number) =>
    sampled(REQUESTS, { model: "llama-8b", status, le: status === "ok" ? "1.2" : "2" }, START_MS, END_MS, (atMs) => {
      const since = atMs >= resetAtMs ? resetAtMs : START_MS;
      return Math.floor(((atMs - since) / STEP_MS) * rate);
    });
  return [
    // g1: pod a until the rollout, then (after 3 minutes without a holder) pod b.
    sampled(UTIL, gpu("node-1", "GPU-1", "pod-a"), START_MS, rollout, wave),
    sampled(UTIL, gpu("node-1", "GPU-1", "pod-b"), rollout + 3 * MINUTE_MS, END_MS, (atMs) => 0.9 - wave(atMs) / 2),
    // g2: two holders, the same value in both series.
    sampled(UTIL, gpu("node-1", "GPU-2", "pod-c"), START_MS, END_MS, (_atMs, k) => (k % 10) / 10),
    sampled(UTIL, gpu("node-1", "GPU-2", "pod-d"), START_MS, END_MS, (_atMs, k) => (k % 10) / 10),
    // g3: no samples for 10 minutes.
    sampled(UTIL, gpu("node-2", "GPU-3"), START_MS, START_MS + 90 * MINUTE_MS, () => 0.25),
    sampled(UTIL, gpu("node-2", "GPU-3"), START_MS + 100 * MINUTE_MS, END_MS, () => 0.75),
    requests("ok", 7, START_MS + 150 * MINUTE_MS),
    requests("error", 1, Infinity),
    sampled(
      LAST,
      { model: "llama-8b", namespace: "llm", pod: "pod-a" },
      START_MS,
      END_MS,
      (atMs) => Math.floor((atMs - 45_000) / 60_000) * 60,
    ),
  ];
}

function toOpenMetrics(series: readonly Series[]): string {
  const lines: string[] = [];
  for (const s of series) {
    const labels = Object.entries(s.labels)
      .map(([name, value]) => `${name}="${value}"`)
      .join(",");
    for (const sample of s.samples) lines.push(`${s.name}{${labels}} ${sample.value} ${sample.atMs / 1000}`);
  }
  return `${lines.join("\n")}\n# EOF\n`;
}

/** Sum and count of every sample of the utilization series in [t − w, t] (Prometheus 2.x), by GPU. */
function referenceTotals(
  series: readonly Series[],
  atMs: number,
  windowMs: number,
): Map<string, { sum: number; count: number }> {
  const totals = new Map<string, { sum: number; count: number }>();
  for (const s of series.filter((x) => x.name === UTIL)) {
    const key = `${s.labels["node"]}/${s.labels["uuid"]}`;
    for (const sample of s.samples) {
      if (sample.atMs < atMs - windowMs || sample.atMs > atMs) continue;
      const entry = totals.get(key) ?? { sum: 0, count: 0 };
      entry.sum += sample.value;
      entry.count++;
      totals.set(key, entry);
    }
  }
  return totals;
}

let prometheus: PrometheusServer;
let influxd: InfluxdServer;
let dataDir: string;
const stores: Record<"prometheus" | "memory" | "influx", MetricStore> = {} as Record<
  "prometheus" | "memory" | "influx",
  MetricStore
>;
const SERIES = scenario();

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "inferwatch-contract-agg-"));
  await createBlocksFromOpenMetrics(toOpenMetrics(SERIES), dataDir);
  prometheus = await startPrometheus({ dataDir });
  stores.prometheus = createPrometheusStore({ url: prometheus.url, timeoutMs: 20_000 });
  const memory = new MemoryStore();
  for (const s of SERIES) for (const sample of s.samples) memory.ingest(s.name, s.labels, sample.value, sample.atMs);
  stores.memory = memory;
  influxd = await startInfluxd();
  await influxd.write(
    "inferwatch",
    SERIES.flatMap((s) =>
      s.samples.map((sample) => ({
        measurement: s.name,
        tags: s.labels,
        value: sample.value,
        timestampMs: sample.atMs,
      })),
    ),
  );
  stores.influx = createInfluxStore({ url: `${influxd.url}?db=inferwatch`, timeoutMs: 20_000 });
}, 180_000);

afterAll(async () => {
  (stores.prometheus as PrometheusStore | undefined)?.close();
  await prometheus?.stop();
  await influxd?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function expectSameValues(answers: Record<string, readonly LabeledValue[]>): void {
  const reference = answers["prometheus"] as readonly LabeledValue[];
  expect(reference.length).toBeGreaterThan(0);
  for (const [store, rows] of Object.entries(answers)) {
    expect(
      rows.map((r) => r.labels),
      store,
    ).toEqual(reference.map((r) => r.labels));
    rows.forEach((row, i) =>
      expect(row.value, `${store} ${JSON.stringify(row.labels)}`).toBeCloseTo((reference[i] as LabeledValue).value, 9),
    );
  }
}

function expectSameSamples(answers: Record<string, readonly LabeledSamples[]>): void {
  const reference = answers["prometheus"] as readonly LabeledSamples[];
  expect(reference.length).toBeGreaterThan(0);
  for (const [store, rows] of Object.entries(answers)) {
    expect(
      rows.map((r) => r.labels),
      store,
    ).toEqual(reference.map((r) => r.labels));
    rows.forEach((row, i) => {
      expect(
        row.samples.map((s) => s.atMs),
        store,
      ).toEqual((reference[i] as LabeledSamples).samples.map((s) => s.atMs));
      row.samples.forEach((s, k) =>
        expect(s.value, `${store} ${k}`).toBeCloseTo(
          ((reference[i] as LabeledSamples).samples[k] as { value: number }).value,
          9,
        ),
      );
    });
  }
}

async function fromAll<T>(ask: (store: MetricStore) => Promise<T>): Promise<Record<string, T>> {
  const entries = await Promise.all(
    Object.entries(stores).map(async ([name, store]) => [name, await ask(store)] as const),
  );
  return Object.fromEntries(entries);
}

describe("aggregating queries: three stores, the same answers", () => {
  it.each([
    ["across the rollout", START_MS + 2 * HOUR_MS + 20 * MINUTE_MS, HOUR_MS],
    ["across the hole", START_MS + 2 * HOUR_MS, HOUR_MS],
    ["over the whole scenario", END_MS, 4 * HOUR_MS],
  ])(
    "the sum and count of a GPU's samples %s add up its series, whichever pod they name, and match the samples",
    async (_what, atMs, windowMs) => {
      const ask = (fn: "sum" | "count") =>
        fromAll((store) => store.overTime({ metric: UTIL, fn, windowMs, atMs, by: ["node", "uuid"] }));
      const [sums, counts] = await Promise.all([ask("sum"), ask("count")]);
      expectSameValues(sums);
      expectSameValues(counts);
      const reference = referenceTotals(SERIES, atMs, windowMs);
      for (const store of Object.keys(stores)) {
        expect(
          counts[store]?.map((row) => `${row.labels["node"]}/${row.labels["uuid"]}`),
          store,
        ).toEqual([...reference.keys()].sort());
        for (const row of counts[store] ?? [])
          expect(row.value).toBe(reference.get(`${row.labels["node"]}/${row.labels["uuid"]}`)?.count);
        for (const row of sums[store] ?? [])
          expect(row.value).toBeCloseTo(reference.get(`${row.labels["node"]}/${row.labels["uuid"]}`)?.sum ?? NaN, 9);
      }
    },
  );

  it.each(["sum", "count"] as const)(
    "%s_over_time by node at four hourly instants agrees between the stores",
    async (fn) => {
      const answers = await fromAll((store) =>
        store.overTimeRange({
          metric: UTIL,
          fn,
          windowMs: HOUR_MS,
          startMs: START_MS + HOUR_MS,
          endMs: END_MS,
          stepMs: HOUR_MS,
          by: ["node"],
        }),
      );
      expectSameSamples(answers);
      expect(answers["prometheus"]?.map((row) => row.labels)).toEqual([{ node: "node-1" }, { node: "node-2" }]);
      expect(answers["prometheus"]?.[0]?.samples).toHaveLength(4);
    },
  );

  it.each(["max", "min", "sum", "count"] as const)(
    "latest reduced by uuid with %s agrees, and keeps only the labels asked for",
    async (reduce) => {
      const answers = await fromAll((store) =>
        store.latest({ metric: UTIL, atMs: START_MS + 3 * HOUR_MS, by: ["uuid"], reduce }),
      );
      expectSameValues(answers);
      expect(answers["prometheus"]?.map((row) => row.labels)).toEqual([
        { uuid: "GPU-1" },
        { uuid: "GPU-2" },
        { uuid: "GPU-3" },
      ]);
    },
  );

  it.each(["sum", "count", "max", "min"] as const)("%s_over_time summed by node agrees", async (fn) => {
    expectSameValues(
      await fromAll((store) =>
        store.overTime({
          metric: UTIL,
          fn,
          windowMs: HOUR_MS,
          atMs: START_MS + 2 * HOUR_MS + 10 * MINUTE_MS,
          by: ["node"],
        }),
      ),
    );
  });

  it("max_over_time of the last-request gauge at 5-minute steps agrees", async () => {
    expectSameSamples(
      await fromAll((store) =>
        store.overTimeRange({
          metric: LAST,
          fn: "max",
          windowMs: 5 * MINUTE_MS,
          startMs: START_MS + HOUR_MS,
          endMs: START_MS + 2 * HOUR_MS,
          stepMs: 5 * MINUTE_MS,
          by: ["model"],
        }),
      ),
    );
  });

  it("increase at 5-minute steps across the counter reset agrees, and each point is the increase at its instant", async () => {
    const range = {
      metric: REQUESTS,
      windowMs: 5 * MINUTE_MS,
      startMs: START_MS + 140 * MINUTE_MS,
      endMs: START_MS + 160 * MINUTE_MS,
      stepMs: 5 * MINUTE_MS,
      by: ["status"],
    };
    const answers = await fromAll((store) => store.increaseRange(range));
    expectSameSamples(answers);
    const ok = answers["memory"]?.find((row) => row.labels["status"] === "ok");
    for (const sample of ok?.samples ?? []) {
      const single = await stores.memory.increase({
        metric: REQUESTS,
        windowMs: range.windowMs,
        atMs: sample.atMs,
        by: ["status"],
        match: { status: "ok" },
      });
      expect(single[0]?.value).toBeCloseTo(sample.value, 9);
    }
  });

  it("a value set selects the same series in every store (le 1.2 and 2.0 asked, 1.2 held)", async () => {
    const answers = await fromAll((store) =>
      store.increase({ metric: REQUESTS, windowMs: HOUR_MS, atMs: END_MS, by: ["le"], oneOf: { le: ["1.2", "2.0"] } }),
    );
    expectSameValues(answers);
    expect(answers["prometheus"]?.map((row) => row.labels)).toEqual([{ le: "1.2" }]);
  });

  it("says which metrics have series now, in every store", async () => {
    const answers = await fromAll((store) =>
      store.hasSeries([UTIL, LAST, "model:inferwatch_llm_requests:increase5m"], END_MS),
    );
    for (const present of Object.values(answers)) expect([...present].sort()).toEqual([LAST, UTIL].sort());
    const later = await fromAll((store) => store.hasSeries([UTIL], END_MS + HOUR_MS));
    for (const present of Object.values(later)) expect(present.size).toBe(0);
  });
});
