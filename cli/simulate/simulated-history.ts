import { MIN_STEP_MS } from "../../analyzer/report/time-grid.js";
import { sloThresholds } from "../../common/slo/thresholds.js";
import { MemoryStore } from "../../analyzer/stores/memory-store.js";
import type { AnalyzerConfig, Config } from "../../common/config/schema.js";
import { METRICS } from "../../common/conventions.js";
import { compileFleet } from "./fleet-model.js";
import { HOUR_MS, DAY_MS } from "../../common/units.js";
import { writeHistory, type MetricSink } from "./history.js";
import { DEFAULT_SCENARIO, type Scenario } from "./scenario.js";
import { storeSink } from "./store-sink.js";

/** A store holding the simulated fleet's history, and the analyzer settings that go with it. */
export interface SimulatedHistory {
  readonly store: MemoryStore;
  readonly endMs: number;
  readonly analyzer: AnalyzerConfig;
  readonly samples: number;
}

/** The last hours of the simulated history keep every series (the analyzer's evaluation at the end reads phases and energy over 1 h). */
const RECENT_MS = 2 * HOUR_MS;

/**
 * The series the report reads over its whole window: requests, tokens, the SLO histograms
 * (end-to-end, and time to first token when an SLO uses it), GPU identity, holders, utilization and
 * memory, and the last request's time. The rest (phase histograms, power, temperature, energy) is
 * kept for the last hours only, and so are the latency buckets other than the SLO thresholds: the
 * month's samples shrink about sevenfold.
 */
function reportSeriesNames(config: Config): Set<string> {
  const latency = METRICS.llmRequestDuration.name;
  const ttft = METRICS.llmTimeToFirstToken.name;
  const hasTtft = config.slo.classes.some((c) => c.ttft !== undefined);
  return new Set([
    `${latency}_bucket`,
    `${latency}_count`,
    ...(hasTtft ? [`${ttft}_bucket`, `${ttft}_count`] : []),
    METRICS.llmRequests.name,
    METRICS.llmTokens.name,
    METRICS.llmLastRequest.name,
    METRICS.gpuInfo.name,
    METRICS.gpuPodInfo.name,
    METRICS.utilization.name,
    METRICS.memoryUsed.name,
    METRICS.memoryTotal.name,
  ]);
}

/**
 * The simulated fleet's history fast-forwarded into an embedded store: `sinceMs` of it at 5-minute
 * steps ending at `endMs` (aligned down to the step), the store holding one 5-minute tier for the
 * whole window, and the fleet's nodes as the analyzer's pools. What `inferwatch report` reads when
 * no source is given, so that it works on a machine with no servers.
 */
export function simulatedHistory(
  config: Config,
  sinceMs: number,
  endMs: number,
  scenario: Scenario = DEFAULT_SCENARIO,
): SimulatedHistory {
  const alignedEnd = Math.floor(endMs / MIN_STEP_MS) * MIN_STEP_MS;
  const store = new MemoryStore({ tiers: [{ stepMs: MIN_STEP_MS, retentionMs: sinceMs + DAY_MS }] });
  const append = storeSink(store);
  const kept = reportSeriesNames(config);
  // SLO attainment reads the bucket at each threshold and the count; the other bounds are for quantiles.
  const keptBounds = new Set([...sloThresholds(config.slo).map(String), "+Inf"]);
  const recentFromMs = alignedEnd - RECENT_MS;
  const sink: MetricSink = (name, labels, value, atMs) => {
    if (atMs < recentFromMs && (!kept.has(name) || (name.endsWith("_bucket") && !keptBounds.has(labels["le"] ?? ""))))
      return;
    append(name, labels, value, atMs);
  };
  const stats = writeHistory(
    scenario,
    { endMs: alignedEnd, originMs: alignedEnd, days: sinceMs / DAY_MS, stepMs: MIN_STEP_MS, spans: config.agent.spans },
    sink,
  );
  const fleet = compileFleet(scenario, { originMs: alignedEnd });
  const pools = fleet.nodes.map((node) => ({
    name: node.pool,
    nodes: `^${node.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`,
  }));
  return { store, endMs: alignedEnd, analyzer: { ...config.analyzer, pools }, samples: stats.samples };
}
