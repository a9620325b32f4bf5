/**
 * SLO evaluation from the stores.
 *
 * Memory store: 500 latency SLOs (one model each, half in the 7b class at 1.2 s, half in the 13b
 * class at 2 s), the bucket at the SLO threshold and the `_count` of each model held over 30 days
 * at the tier resolutions (5-minute samples for the oldest 27 days, 1-minute ones until the last
 * 6 hours, 10-second ones since), so every tier is full. One evaluation counts good and total
 * events over every burn window and the 30-day period and derives every burn status and budget;
 * target < 1 s. The wall time of each evaluation is taken after a warm-up; the median is reported.
 *
 * Prometheus: the store contract's scenario backfilled into a real Prometheus; one evaluation of
 * its 2 SLOs, then of 500 SLOs (498 of them without series), to show that the number of queries
 * per evaluation is a constant per window, independent of the number of SLOs.
 *
 * Run: `npx tsc -p tsconfig.json && node dist/test/bench/slo-store-bench.js`.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { MemoryStore, type SeriesAppender } from "../../analyzer/stores/memory-store.js";
import { createPrometheusStore } from "../../analyzer/stores/prometheus-store.js";
import { METRICS } from "../../common/conventions.js";
import { evaluateSlos } from "../../analyzer/slo/evaluate.js";
import { sloConfigSchema } from "../../common/slo/spec.js";
import { createBlocksFromOpenMetrics, startPrometheus } from "../fixtures/prometheus-server.js";
import { DAY_MS, HOUR_MS, INCIDENT, MODELS, sloScenario, toOpenMetrics } from "../fixtures/slo-scenario.js";
import { evaluationWindowsMs, type LatencySlo } from "../fixtures/store-slo-eval.js";
import { median, renderTable, type BenchRow } from "./table.js";

const SLO_COUNT = 500;
const TARGET_MS = 1000;
const BUCKET = `${METRICS.llmRequestDuration.name}_bucket`;
const COUNT = `${METRICS.llmRequestDuration.name}_count`;

export interface SloStoreBenchOptions {
  readonly slos?: number;
  /** Timed evaluations; the median is reported. */
  readonly runs?: number;
}

const fmtMs = (ms: number): string => `${ms.toFixed(1)} ms`;
const fmtInt = (n: number): string => Math.round(n).toLocaleString("en-US");

function benchSlos(count: number): LatencySlo[] {
  return Array.from({ length: count }, (_, i) => {
    const is7b = i % 2 === 0;
    return { id: `model-${i}-latency`, model: `model-${i}`, thresholdLe: is7b ? "1.2" : "2", objective: 0.95 };
  });
}

/** Sample times: 5 min for the oldest 27 days, 1 min until 6 h before the end, 10 s since. */
function sampleTimes(endMs: number): number[] {
  const times: number[] = [];
  for (let t = endMs - 30 * DAY_MS; t < endMs - 3 * DAY_MS; t += 300_000) times.push(t);
  for (let t = endMs - 3 * DAY_MS; t < endMs - 6 * HOUR_MS; t += 60_000) times.push(t);
  for (let t = endMs - 6 * HOUR_MS; t <= endMs; t += 10_000) times.push(t);
  return times;
}

/** 500 models' threshold buckets and counts in a memory store; returns it with the ingest figures. */
function filledMemoryStore(
  slos: readonly LatencySlo[],
  endMs: number,
): { store: MemoryStore; samples: number; ms: number } {
  const started = performance.now();
  const store = new MemoryStore({ maxSeries: 2 * slos.length });
  const series = slos.map((slo, i) => ({
    rate: 0.5 + (i % 10) / 10,
    good: store.seriesAppender(BUCKET, {
      model: slo.model,
      le: slo.thresholdLe,
      node: `node-${i % 50}`,
    }) as SeriesAppender,
    total: store.seriesAppender(COUNT, { model: slo.model, node: `node-${i % 50}` }) as SeriesAppender,
    goodValue: 0,
    totalValue: 0,
    lastMs: 0,
  }));
  let samples = 0;
  for (const atMs of sampleTimes(endMs)) {
    for (const s of series) {
      if (s.lastMs > 0) {
        const requests = Math.round(((atMs - s.lastMs) / 1000) * s.rate);
        s.totalValue += requests;
        s.goodValue += requests - Math.floor(requests / 40);
      }
      s.lastMs = atMs;
      s.good.append(s.goodValue, atMs);
      s.total.append(s.totalValue, atMs);
      samples += 2;
    }
  }
  return { store, samples, ms: performance.now() - started };
}

async function benchMemory(slosCount: number, runs: number): Promise<BenchRow[]> {
  const slos = benchSlos(slosCount);
  const endMs = Date.UTC(2024, 3, 1);
  const heapBefore = process.memoryUsage().arrayBuffers;
  const { store, samples, ms: ingestMs } = filledMemoryStore(slos, endMs);
  const arrayBytes = process.memoryUsage().arrayBuffers - heapBefore;
  // The analyzer's own evaluation (analyzer/slo/evaluate.ts), one model class per model.
  const config = sloConfigSchema.parse({
    classes: slos.map((slo) => ({
      name: slo.model,
      match: [{ model: `^${slo.model}$` }],
      latency: { threshold: `${slo.thresholdLe}s`, objective: slo.objective },
    })),
  });
  const times: number[] = [];
  let evaluation = await evaluateSlos(store, config, endMs);
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    evaluation = await evaluateSlos(store, config, endMs);
    times.push(performance.now() - started);
  }
  const latency = evaluation.slos.filter((slo) => slo.kind === "latency");
  const firing = latency.filter((slo) => slo.burn.state === "firing").length;
  const withData = latency.filter((slo) => slo.budget.state === "measured").length;
  const evalMedian = median(times);
  return [
    {
      name: `memory store: ${fmtInt(slosCount)} latency SLOs (and as many availability SLOs) × ${evaluationWindowsMs().length} windows (7 burn-window lengths + 30 d), one analyzer evaluation incl. the dominant-phase queries (median of ${runs})`,
      value: `${fmtMs(evalMedian)} (slowest ${fmtMs(Math.max(...times))}); ${evaluation.queries} queries; ${withData} SLOs measured, ${firing} firing`,
      target: `< ${TARGET_MS} ms`,
      isMet: evalMedian < TARGET_MS,
    },
    {
      name: `memory store: holding ${fmtInt(store.stats().series)} series over 30 days at 10 s / 1 min / 5 min`,
      value: `${fmtInt(samples)} samples ingested in ${fmtMs(ingestMs)}; ring buffers ${fmtInt(arrayBytes / 2 ** 20)} MiB`,
    },
  ];
}

async function benchPrometheus(slosCount: number): Promise<BenchRow[]> {
  const dataDir = await mkdtemp(join(tmpdir(), "inferwatch-bench-prom-"));
  try {
    await createBlocksFromOpenMetrics(toOpenMetrics(sloScenario()), dataDir);
    const prometheus = await startPrometheus({ dataDir });
    try {
      const store = createPrometheusStore({ url: prometheus.url, timeoutMs: 30_000 });
      const scenarioSlos = MODELS.map((m) => ({
        id: `${m.sloClass}-latency`,
        model: m.model,
        thresholdLe: m.thresholdLe,
        objective: m.objective,
      }));
      const atMs = INCIDENT.fromMs + 6 * HOUR_MS;
      const rows: BenchRow[] = [];
      for (const slos of [scenarioSlos, [...scenarioSlos, ...benchSlos(slosCount - scenarioSlos.length)]]) {
        const config = sloConfigSchema.parse({
          classes: slos.map((slo) => ({
            name: slo.model,
            match: [{ model: `^${slo.model}$` }],
            latency: { threshold: `${slo.thresholdLe}s`, objective: slo.objective },
          })),
        });
        const started = performance.now();
        const evaluation = await evaluateSlos(store, config, atMs);
        const ms = performance.now() - started;
        const measured = evaluation.slos.filter(
          (slo) => slo.kind === "latency" && slo.budget.state === "measured",
        ).length;
        rows.push({
          name: `Prometheus 2.42 (contract scenario): ${fmtInt(slos.length)} latency + ${fmtInt(slos.length)} availability SLOs × ${evaluationWindowsMs().length} windows, one analyzer evaluation`,
          value: `${evaluation.queries} queries per evaluation (3 per window, 3 for the dominant phase, 2 for queue depth, 1 to detect recordings), ${fmtMs(ms)}; ${measured} latency SLOs with series`,
        });
      }
      return rows;
    } finally {
      await prometheus.stop();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** The SLO-evaluation benchmark rows: memory store against its target, Prometheus queries per evaluation. */
export async function benchSloStores(options: SloStoreBenchOptions = {}): Promise<BenchRow[]> {
  const slos = options.slos ?? SLO_COUNT;
  return [...(await benchMemory(slos, options.runs ?? 5)), ...(await benchPrometheus(slos))];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.stdout.write(renderTable("SLO evaluation from the stores", await benchSloStores()));
}
