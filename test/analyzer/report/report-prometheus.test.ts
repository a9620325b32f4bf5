/**
 * The report read from a real Prometheus (the Debian package, backfilled with promtool from the known
 * month) gives the same figures as the report read from the embedded store holding the same samples:
 * the report depends only on the MetricStore contract, whichever store answers.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { poolResolver } from "../../../analyzer/fleet/assemble.js";
import { buildReport } from "../../../analyzer/report/build-report.js";
import type { CapacityReport } from "../../../analyzer/report/report-model.js";
import { evaluateOnce } from "../../../analyzer/service.js";
import { DEFAULT_SLO_CONFIG } from "../../../common/slo/spec.js";
import { MemoryStore } from "../../../analyzer/stores/memory-store.js";
import type { MetricStore } from "../../../analyzer/stores/metric-store.js";
import { createPrometheusStore } from "../../../analyzer/stores/prometheus-store.js";
import { analyzerConfigSchema } from "../../../common/config/schema.js";
import { METRICS } from "../../../common/conventions.js";
import {
  createBlocksFromOpenMetrics,
  startPrometheus,
  type PrometheusServer,
} from "../../fixtures/prometheus-server.js";
import { AT, DAY, DAYS, KNOWN_POOLS, STEP, writeKnownHistory } from "./known-history.js";

const analyzer = analyzerConfigSchema.parse({ pools: KNOWN_POOLS });
let prometheus: PrometheusServer | undefined;
let workDir: string | undefined;
let fromPrometheus: CapacityReport;
let fromMemory: CapacityReport;

/** The family and OpenMetrics type of a sample name. */
function familyOf(name: string): { family: string; type: string } {
  if (name === METRICS.llmRequests.name || name === METRICS.llmTokens.name)
    return { family: name.replace(/_total$/, ""), type: "counter" };
  if (name.startsWith(METRICS.llmRequestDuration.name))
    return { family: METRICS.llmRequestDuration.name, type: "histogram" };
  return { family: name, type: "gauge" };
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** The known month as OpenMetrics text for promtool: families together, each series' samples in time order. */
function knownOpenMetrics(): string {
  const families = new Map<string, { type: string; series: Map<string, string[]> }>();
  writeKnownHistory((name, labels, value, atMs) => {
    const { family, type } = familyOf(name);
    let entry = families.get(family);
    if (!entry) families.set(family, (entry = { type, series: new Map() }));
    const head = `${name}{${Object.entries(labels)
      .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
      .join(",")}}`;
    let lines = entry.series.get(head);
    if (!lines) entry.series.set(head, (lines = []));
    lines.push(`${head} ${value} ${atMs / 1000}`);
  });
  const out: string[] = [];
  for (const [family, { type, series }] of families) {
    out.push(`# TYPE ${family} ${type}`);
    for (const lines of series.values()) out.push(...lines);
  }
  out.push("# EOF");
  return `${out.join("\n")}\n`;
}

async function reportOf(store: MetricStore): Promise<CapacityReport> {
  const current = await evaluateOnce(store, analyzer, DEFAULT_SLO_CONFIG, AT);
  return buildReport(store, {
    atMs: AT,
    sinceMs: DAYS * DAY,
    poolOf: poolResolver(KNOWN_POOLS),
    slo: DEFAULT_SLO_CONFIG,
    source: store.kind,
    current: {
      snapshot: current.snapshot as NonNullable<typeof current.snapshot>,
      recommendations: current.recommendations as NonNullable<typeof current.recommendations>,
    },
  });
}

beforeAll(async () => {
  const memory = new MemoryStore({ tiers: [{ stepMs: STEP, retentionMs: 40 * DAY }] });
  writeKnownHistory((name, labels, value, atMs) => void memory.ingest(name, labels, value, atMs));
  fromMemory = await reportOf(memory);
  workDir = await mkdtemp(join(tmpdir(), "inferwatch-report-prom-"));
  const dataDir = join(workDir, "data");
  await createBlocksFromOpenMetrics(knownOpenMetrics(), dataDir);
  prometheus = await startPrometheus({ dataDir });
  fromPrometheus = await reportOf(createPrometheusStore({ url: prometheus.url, timeoutMs: 30_000 }));
}, 240_000);

afterAll(async () => {
  await prometheus?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

it("gives the same demand, utilization, SLO, runtime cache, fragmentation, forecast and plan as the embedded store", () => {
  const close = (a: number, b: number) => expect(a).toBeCloseTo(b, 6);
  expect(fromPrometheus.demand.map((d) => d.modelClass)).toEqual(fromMemory.demand.map((d) => d.modelClass));
  fromPrometheus.demand.forEach((d, i) => {
    const m = fromMemory.demand[i] as CapacityReport["demand"][number];
    close(d.requests, m.requests);
    close(d.promptTokens, m.promptTokens);
    close(d.peakTokensPerSecond, m.peakTokensPerSecond);
    expect(d.peakAt).toBe(m.peakAt);
    expect(d.dailyRequests).toEqual(m.dailyRequests);
  });
  expect(fromPrometheus.supply).toEqual(fromMemory.supply);
  expect(fromPrometheus.heatmap).toEqual(fromMemory.heatmap);
  expect(fromPrometheus.slos.map((s) => [s.id, s.attainment, s.goodEvents, s.totalEvents])).toEqual(
    fromMemory.slos.map((s) => [s.id, s.attainment, s.goodEvents, s.totalEvents]),
  );
  expect(fromPrometheus.fragmentation).toEqual(fromMemory.fragmentation);
  expect(fromPrometheus.runtimeCache.map((r) => [r.model, r.kvCacheUsagePeak, r.kvCacheUsagePeakAt])).toEqual(
    fromMemory.runtimeCache.map((r) => [r.model, r.kvCacheUsagePeak, r.kvCacheUsagePeakAt]),
  );
  fromPrometheus.runtimeCache.forEach((r, i) => {
    const m = fromMemory.runtimeCache[i] as CapacityReport["runtimeCache"][number];
    close(r.kvCacheUsageMean ?? Number.NaN, m.kvCacheUsageMean ?? 0);
    close(r.prefixCacheHitRatio ?? Number.NaN, m.prefixCacheHitRatio ?? 0);
    close(r.preemptions ?? Number.NaN, m.preemptions ?? 0);
  });
  expect(fromPrometheus.forecast.pools.map((p) => [p.pool, p.state, p.exhaustionDay])).toEqual(
    fromMemory.forecast.pools.map((p) => [p.pool, p.state, p.exhaustionDay]),
  );
  expect(fromPrometheus.plan).toEqual(fromMemory.plan);
  // And those are the known answers, not two stores agreeing on nothing.
  expect(fromPrometheus.plan.actions.find((a) => a.pool === "b")).toMatchObject({ action: "buy", gpus: 1 });
  expect(fromPrometheus.fragmentation).toHaveLength(DAYS * 4 + 1);
});
