/**
 * The store contract: one recorded 30-day scenario (test/fixtures/slo-scenario.ts) fed to a real
 * Prometheus (backfilled with promtool), to the embedded MemoryStore and to a real InfluxDB 1.x
 * (written through the `influx` package in the sink's layout) gives the same counted events, burn
 * rates and budgets within 1e-9, and all match a hand computation from the scenario's per-interval
 * counts. The InfluxDB store reads the window's raw samples and applies the memory store's
 * Prometheus semantics, so the argument below holds for it unchanged.
 *
 * Why the hand computation is exact, extrapolation included. Every sample sits on a 5-minute grid
 * and every evaluation time and window length is a multiple of 5 minutes, so the window [t − w, t]
 * has a sample on each edge. Prometheus 2.x selects range samples in the closed interval [t − w, t]
 * (3.x: (t − w, t]), so both edge samples are in: the distance from the first sample to the
 * window's start and from the last to its end are 0, the extrapolated interval equals the sampled
 * one, and `increase` is exactly v(t) − v(t − w) (promql/functions.go, extrapolatedRate). The
 * MemoryStore selects the same closed interval (windowStart "inclusive"). The increase is then the
 * sum of the counts of the intervals ending in (t − w, t]. Two more cases reach the same sum:
 * - a window starting before the first sample (the 30-day window before day 30): every counter's
 *   first sample is 0, and Prometheus never extrapolates back past the counter's zero point, so the
 *   start adds nothing either;
 * - a window holding the 7b agent's restart: the counter drops to the restart interval's count, and
 *   Prometheus adds the value before the drop back, which is exactly the counts before the restart.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BurnMeasure } from "../../../analyzer/slo/burn.js";
import { BURN_WINDOWS } from "../../../common/slo/windows.js";
import { MemoryStore } from "../../../analyzer/stores/memory-store.js";
import type { MetricStore } from "../../../analyzer/stores/metric-store.js";
import { createPrometheusStore } from "../../../analyzer/stores/prometheus-store.js";
import { createInfluxStore } from "../../../analyzer/stores/influx-store.js";
import { startInfluxd, type InfluxdServer } from "../../fixtures/influxd-server.js";
import {
  createBlocksFromOpenMetrics,
  startPrometheus,
  type PrometheusServer,
} from "../../fixtures/prometheus-server.js";
import {
  COUNT,
  DAY_MS,
  END_MS,
  HOUR_MS,
  INCIDENT,
  INTERVAL_MS,
  MODELS,
  QUIET,
  REQUESTS,
  RESET,
  START_MS,
  feedMemoryStore,
  recordedIncreases,
  recordedOpenMetricsLines,
  sampleMs,
  sloScenario,
  toOpenMetrics,
  type IntervalCounts,
} from "../../fixtures/slo-scenario.js";
import { recordedName } from "../../../analyzer/slo/slo-counts.js";
import { evaluateSlos } from "../../../analyzer/slo/evaluate.js";
import { DEFAULT_SLO_CONFIG } from "../../../common/slo/spec.js";
import {
  evaluateLatencySlos,
  evaluationWindowsMs,
  PERIOD_MS,
  type LatencySlo,
  type SloEvaluation,
} from "../../fixtures/store-slo-eval.js";

const SLOS: readonly LatencySlo[] = MODELS.map((m) => ({
  id: `${m.sloClass}-latency`,
  model: m.model,
  thresholdLe: m.thresholdLe,
  objective: m.objective,
}));
const BUDGET = 0.05;

/** Evaluation times: in the incident, just after the restart, at the end, and in the quiet night. */
const AT = {
  incident: INCIDENT.fromMs + 6 * HOUR_MS,
  afterRestart: RESET.atMs + HOUR_MS,
  end: END_MS,
  quiet: QUIET.fromMs + 6 * HOUR_MS,
} as const;

let prometheus: PrometheusServer;
let dataDir: string;
let promStore: MetricStore;
let memoryStore: MemoryStore;
let influxd: InfluxdServer;
let influxStore: MetricStore;
const STORES = ["prometheus", "memory", "influx"] as const;
type Evaluations = Record<(typeof STORES)[number], SloEvaluation>;
const evaluations = new Map<string, Evaluations>();

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "inferwatch-contract-"));
  const scenario = sloScenario();
  // Every store also holds the recorded 5-minute increases, as a Prometheus running `inferwatch rules` would.
  const recorded = recordedIncreases(scenario, {
    bucket: recordedName("latencyBuckets"),
    count: recordedName("latencyCount"),
    requests: recordedName("requests"),
  });
  await createBlocksFromOpenMetrics(
    toOpenMetrics(scenario).replace(/# EOF\n?$/, `${recordedOpenMetricsLines(recorded)}# EOF\n`),
    dataDir,
  );
  prometheus = await startPrometheus({ dataDir });
  promStore = createPrometheusStore({ url: prometheus.url, timeoutMs: 20_000 });
  memoryStore = new MemoryStore();
  feedMemoryStore(memoryStore, scenario);
  for (const series of recorded)
    series.values.forEach((value, k) => {
      if (!Number.isNaN(value)) memoryStore.ingest(series.name, series.labels, value, sampleMs(k));
    });
  influxd = await startInfluxd();
  await influxd.write("inferwatch", [
    ...scenario.series.flatMap((series) =>
      Array.from(series.values, (value, k) => ({
        measurement: series.name,
        tags: series.labels,
        value,
        timestampMs: sampleMs(k),
      })),
    ),
    ...recorded.flatMap((series) =>
      series.values.flatMap((value, k) =>
        Number.isNaN(value) ? [] : [{ measurement: series.name, tags: series.labels, value, timestampMs: sampleMs(k) }],
      ),
    ),
  ]);
  influxStore = createInfluxStore({ url: `${influxd.url}?db=inferwatch`, timeoutMs: 20_000 });
  for (const [name, atMs] of Object.entries(AT)) {
    evaluations.set(name, {
      prometheus: await evaluateLatencySlos(promStore, SLOS, atMs),
      memory: await evaluateLatencySlos(memoryStore, SLOS, atMs),
      influx: await evaluateLatencySlos(influxStore, SLOS, atMs),
    });
  }
}, 180_000);

afterAll(async () => {
  await prometheus?.stop();
  await influxd?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** Hand computation: the counts of the intervals (sample k − 1, sample k] with t − w < sample k ≤ t. */
function handCount(model: string, atMs: number, windowMs: number, of: (c: IntervalCounts) => number): number {
  const counts = sloScenario().counts.get(model) as readonly IntervalCounts[];
  let sum = 0;
  for (let k = 1; k < counts.length; k++) {
    const t = sampleMs(k);
    if (t > atMs - windowMs && t <= atMs) sum += of(counts[k] as IntervalCounts);
  }
  return sum;
}

function handEvents(slo: LatencySlo, atMs: number, windowMs: number): { good: number; total: number } {
  const of = slo.thresholdLe === "1.2" ? (c: IntervalCounts) => c.le1_2 : (c: IntervalCounts) => c.le2;
  return {
    good: handCount(slo.model, atMs, windowMs, of),
    total: handCount(slo.model, atMs, windowMs, (c) => c.requests),
  };
}

function expectClose(actual: number, expected: number, what: string): void {
  const scale = Math.max(Math.abs(actual), Math.abs(expected));
  expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(scale * 1e-9);
}

function burnOf(measure: BurnMeasure): number | string {
  return measure.state === "measured" ? measure.burnRate : `no-data:${measure.reason}`;
}

function evaluation(name: string): Evaluations {
  return evaluations.get(name) as Evaluations;
}

const cases = Object.entries(AT).flatMap(([name, atMs]) =>
  SLOS.flatMap((slo) => evaluationWindowsMs().map((windowMs) => ({ name, atMs, slo, windowMs }))),
);
const label = (windowMs: number): string =>
  windowMs >= DAY_MS
    ? `${windowMs / DAY_MS}d`
    : windowMs >= HOUR_MS
      ? `${windowMs / HOUR_MS}h`
      : `${windowMs / 60_000}m`;

describe("one recorded scenario, three stores, the same answers", () => {
  it.each(cases.map((c) => [c.name, c.slo.id, label(c.windowMs), c] as const))(
    "at %s, %s over %s: every store counts the hand-computed good and total events",
    (_n, _s, _w, c) => {
      const hand = handEvents(c.slo, c.atMs, c.windowMs);
      for (const store of STORES) {
        const counted = evaluation(c.name)[store].events.get(c.windowMs)?.get(c.slo.id);
        expect(counted, `${store} has the series`).toBeDefined();
        expectClose(counted?.good ?? NaN, hand.good, `${store} good`);
        expectClose(counted?.total ?? NaN, hand.total, `${store} total`);
      }
    },
  );

  it.each(Object.keys(AT).flatMap((name) => SLOS.map((slo) => [name, slo.id, slo] as const)))(
    "at %s, %s: burn rates and budget agree between the stores and with the hand computation",
    (name, _id, slo) => {
      const both = evaluation(name);
      const atMs = AT[name as keyof typeof AT];
      const fromProm = both.prometheus.burn.get(slo.id);
      const fromMemory = both.memory.burn.get(slo.id);
      const fromInflux = both.influx.burn.get(slo.id);
      expect(fromMemory?.state).toBe(fromProm?.state);
      expect(fromMemory?.firingWindowId).toBe(fromProm?.firingWindowId);
      expect(fromInflux?.state).toBe(fromProm?.state);
      expect(fromInflux?.firingWindowId).toBe(fromProm?.firingWindowId);
      BURN_WINDOWS.forEach((window, i) => {
        for (const [side, ms] of [
          ["long", window.longMs],
          ["short", window.shortMs],
        ] as const) {
          const p = fromProm?.windows[i]?.[side] as BurnMeasure;
          const m = fromMemory?.windows[i]?.[side] as BurnMeasure;
          const x = fromInflux?.windows[i]?.[side] as BurnMeasure;
          const hand = handEvents(slo, atMs, ms);
          if (hand.total === 0) {
            expect([burnOf(p), burnOf(m), burnOf(x)]).toEqual([
              "no-data:no-traffic",
              "no-data:no-traffic",
              "no-data:no-traffic",
            ]);
            continue;
          }
          const handBurn = (hand.total - hand.good) / hand.total / BUDGET;
          expectClose(burnOf(p) as number, handBurn, `prometheus ${window.id} ${side}`);
          expectClose(burnOf(m) as number, burnOf(p) as number, `memory vs prometheus ${window.id} ${side}`);
          expectClose(burnOf(x) as number, burnOf(p) as number, `influx vs prometheus ${window.id} ${side}`);
        }
      });
      const hand = handEvents(slo, atMs, PERIOD_MS);
      const handRemaining = 1 - (hand.total - hand.good) / (BUDGET * hand.total);
      for (const store of STORES) {
        const budget = both[store].budget.get(slo.id);
        expect(budget?.state).toBe("measured");
        expectClose(budget?.remaining ?? NaN, handRemaining, `${store} budget remaining`);
      }
    },
  );

  it("during the incident, 30% slow 7b requests burn at 6× over 6 h and page through the 6 h / 30 m pair in every store", () => {
    for (const store of STORES) {
      const burn = evaluation("incident")[store].burn.get("7b-latency");
      const sixHours = burn?.windows.find((w) => w.windowId === "page-6h-30m");
      expect(sixHours?.long.state === "measured" && sixHours.long.errorRatio).toBeCloseTo(0.3, 12);
      expect(burn?.firingWindowId).toBe("page-6h-30m");
      expect(evaluation("incident")[store].burn.get("13b-latency")?.state).toBe("ok");
    }
  });

  it("the quiet night is no data in every store over every window up to 6 h, not a burn", () => {
    for (const store of STORES) {
      for (const slo of SLOS) {
        const events = evaluation("quiet")[store].events;
        for (const windowMs of evaluationWindowsMs().filter((w) => w <= 6 * HOUR_MS))
          expect(events.get(windowMs)?.get(slo.id)).toEqual({ good: 0, total: 0 });
        const burn = evaluation("quiet")[store].burn.get(slo.id);
        expect(burn?.windows.filter((w) => w.severity === "page").map((w) => w.state)).toEqual(["no-data", "no-data"]);
        expect(burn?.firingWindowId).toBeNull();
      }
    }
  });

  it("the restart inside a window is counted once, as Prometheus counts a counter reset", () => {
    const slo = SLOS[0] as LatencySlo;
    const twoHours = 2 * HOUR_MS;
    const hand = handEvents(slo, AT.afterRestart, twoHours);
    for (const store of STORES)
      expect(evaluation("afterRestart")[store].events.get(twoHours)?.get(slo.id)).toEqual(hand);
    // The counter really dropped inside the window: a plain difference of its edge values would be far less.
    const count = sloScenario().series.find((s) => s.name === COUNT && s.labels["model"] === slo.model);
    const k = (RESET.atMs - START_MS) / INTERVAL_MS;
    expect(count?.values[k]).toBeLessThan(count?.values[k - 1] as number);
    expect((count?.values[k + 12] as number) - (count?.values[k - 12] as number)).toBeLessThan(hand.total);
  });

  it.each(Object.keys(AT).flatMap((name) => (["recorded", "raw"] as const).map((source) => [name, source] as const)))(
    "the analyzer's own evaluation (%s, long windows %s) gives every latency SLO the hand-computed burn rates and budget, on every store",
    async (name, source) => {
      const atMs = AT[name as keyof typeof AT];
      for (const store of [promStore, memoryStore, influxStore]) {
        // Detected: the stores hold the recordings, so the long windows are summed from them; forced raw: from the counters.
        const evaluation = await evaluateSlos(store, DEFAULT_SLO_CONFIG, atMs, source === "raw" ? { sources: {} } : {});
        expect(evaluation.sources.latencyBuckets ?? "raw", `${store.kind} source`).toBe(source);
        expect(evaluation.sources.queueBuckets ?? "raw").toBe("raw");
        for (const slo of SLOS) {
          const status = evaluation.slos.find((s) => s.id === slo.id);
          expect(status?.models).toEqual([slo.model]);
          for (const pair of status?.burn.windows ?? []) {
            for (const [windowMs, measure] of [
              [pair.longMs, pair.long],
              [pair.shortMs, pair.short],
            ] as const) {
              const hand = handEvents(slo, atMs, windowMs);
              if (hand.total === 0) {
                expect(measure.state, `${store.kind} ${slo.id} ${windowMs}`).toBe("no-data");
                continue;
              }
              expect(measure.state).toBe("measured");
              expectClose(
                measure.state === "measured" ? measure.burnRate : NaN,
                (1 - hand.good / hand.total) / 0.05,
                `${store.kind} ${slo.id} burn over ${windowMs} ms`,
              );
            }
          }
          const period = handEvents(slo, atMs, PERIOD_MS);
          expectClose(
            status?.budget.remaining ?? NaN,
            1 - (period.total - period.good) / (0.05 * period.total),
            `${store.kind} ${slo.id} budget`,
          );
        }
      }
    },
  );

  it("asks each store two queries per window, whatever the number of SLOs", () => {
    for (const both of evaluations.values()) {
      expect(both.prometheus.queries).toBe(2 * evaluationWindowsMs().length);
      expect(both.memory.queries).toBe(2 * evaluationWindowsMs().length);
      expect(both.influx.queries).toBe(2 * evaluationWindowsMs().length);
    }
  });

  it("latest and range read the same counter values from every store", async () => {
    const match = { model: "llama-7b", status: "ok" };
    const at = RESET.atMs - 1;
    const [p, m] = await Promise.all([
      promStore.latest({ metric: REQUESTS, atMs: at, match }),
      memoryStore.latest({ metric: REQUESTS, atMs: at, match }),
    ]);
    expect(p).toHaveLength(1);
    expect(m).toEqual(p);
    expect(await influxStore.latest({ metric: REQUESTS, atMs: at, match })).toEqual(p);
    const range = {
      metric: REQUESTS,
      startMs: RESET.atMs - HOUR_MS,
      endMs: RESET.atMs + HOUR_MS,
      stepMs: INTERVAL_MS / 2,
      match,
    };
    const [pr, mr] = await Promise.all([promStore.range(range), memoryStore.range(range)]);
    expect(pr[0]?.samples).toHaveLength(1 + (2 * HOUR_MS) / (INTERVAL_MS / 2));
    expect(mr).toEqual(pr);
    expect(await influxStore.range(range)).toEqual(pr);
    // Before the first sample and long after the last, both have nothing.
    expect(await memoryStore.latest({ metric: REQUESTS, atMs: START_MS - 1, match })).toEqual(
      await promStore.latest({ metric: REQUESTS, atMs: START_MS - 1, match }),
    );
    expect(await promStore.latest({ metric: REQUESTS, atMs: END_MS + DAY_MS, match })).toEqual([]);
    expect(await memoryStore.latest({ metric: REQUESTS, atMs: END_MS + DAY_MS, match })).toEqual([]);
    expect(await influxStore.latest({ metric: REQUESTS, atMs: START_MS - 1, match })).toEqual(
      await promStore.latest({ metric: REQUESTS, atMs: START_MS - 1, match }),
    );
    expect(await influxStore.latest({ metric: REQUESTS, atMs: END_MS + DAY_MS, match })).toEqual([]);
  });
});
