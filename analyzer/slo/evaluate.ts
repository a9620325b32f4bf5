import type { LabeledValue, MetricStore, QueryContext } from "../stores/metric-store.js";
import { errorBudget, timeToExhaustionMs, type BudgetStatus } from "./budget.js";
import { evaluateBurn, computeBurnRate, type EventCounts, type SloBurnStatus } from "./burn.js";
import { dominantPhase, type CumulativeBucket, type DominantPhaseResult, type Phase } from "./dominant-phase.js";
import {
  countPhases,
  countWindows,
  detectSources,
  LONG_WINDOW_MIN_MS,
  PHASE_METRICS,
  type CountSource,
  type PhaseBuckets,
  type SloFamily,
  type WindowAnswers,
} from "./slo-counts.js";
import { classOf, listSlos, type Slo, type SloConfig } from "../../common/slo/spec.js";
import { windowDurationsMs } from "../../common/slo/windows.js";
import { METRICS } from "../../common/conventions.js";
import { HOUR_MS } from "../../common/units.js";

/** One SLO's state at an evaluation time. */
export interface SloStatus {
  readonly id: string;
  readonly className: string;
  readonly kind: Slo["kind"];
  readonly objective: number;
  readonly thresholdSeconds: number | null;
  /** Models of the class that had series in the store. */
  readonly models: readonly string[];
  readonly burn: SloBurnStatus;
  readonly budget: BudgetStatus;
  /** At the 1 h burn rate; null when nothing burns. */
  readonly timeToExhaustionMs: number | null;
  /** Latency SLOs: which phase the slow requests of the last hour spent their time in, and the lever. */
  readonly dominantPhase: DominantPhaseResult | null;
}

/** Every SLO's state, and what it cost to compute. */
export interface SloEvaluation {
  readonly atMs: number;
  readonly slos: readonly SloStatus[];
  /** Store queries this evaluation made: a constant per window, whatever the number of SLOs. */
  readonly queries: number;
  /** Where each counter family was read from: the recorded 5-minute increases or the raw counters. */
  readonly sources: Readonly<Partial<Record<SloFamily, CountSource>>>;
  /** When the long windows (1 d and longer) were counted; they are refreshed less often than the short ones. */
  readonly longWindowsAtMs: number;
}

/** The long windows' counts, kept between evaluations (they move slowly and cost the most). */
export interface LongWindowCounts {
  readonly atMs: number;
  readonly windows: ReadonlyMap<number, WindowAnswers>;
}

/** What an evaluation may reuse or be told. */
export interface SloEvaluationOptions {
  /** Long windows counted earlier; counted now when absent. */
  readonly long?: LongWindowCounts;
  /** Where to read each family; detected (one query) when absent. */
  readonly sources?: Partial<Record<SloFamily, CountSource>>;
  readonly context?: QueryContext;
}

/** The windows an evaluation of `config` counts, split into short (< 1 d) and long (≥ 1 d, the period included). */
export function sloWindowsMs(config: Pick<SloConfig, "periodMs">): {
  readonly short: readonly number[];
  readonly long: readonly number[];
} {
  const all = [...new Set([...windowDurationsMs(), config.periodMs])].sort((a, b) => a - b);
  return { short: all.filter((ms) => ms < LONG_WINDOW_MIN_MS), long: all.filter((ms) => ms >= LONG_WINDOW_MIN_MS) };
}

/** Counts the long windows of `config` at `atMs` (from the recordings where `sources` says so). */
export async function countLongWindows(
  store: MetricStore,
  config: SloConfig,
  atMs: number,
  sources: Partial<Record<SloFamily, CountSource>>,
  context: QueryContext = {},
): Promise<LongWindowCounts> {
  return { atMs, windows: await countWindows(store, config, atMs, sloWindowsMs(config).long, sources, context) };
}

/**
 * Evaluates every SLO of the configuration at `atMs` from a store. Queries are batched per window:
 * for each distinct window length (the burn windows and the period) the store is asked once per
 * metric for every model at once, only for the buckets at the SLO thresholds, and the answers are
 * grouped by model class here. Long windows come from `options.long` when given (counted earlier,
 * see countLongWindows), else are counted now; each family is read from its recording where the
 * store has it (sources, detected when not given).
 */
export async function evaluateSlos(
  store: MetricStore,
  config: SloConfig,
  atMs: number,
  options: SloEvaluationOptions = {},
): Promise<SloEvaluation> {
  const before = store.queryCount;
  const context = options.context ?? {};
  const slos = listSlos(config);
  const sources = options.sources ?? (await detectSources(store, config, atMs, context));
  const [shortWindows, long, phases, queueSums, queueCounts] = await Promise.all([
    countWindows(store, config, atMs, sloWindowsMs(config).short, {}, context),
    options.long ?? countLongWindows(store, config, atMs, sources, context),
    countPhases(store, atMs, sources, context),
    store.latest({ metric: METRICS.llmQueueDepth.name, atMs, by: ["model"], reduce: "sum" }, context),
    store.latest({ metric: METRICS.llmQueueDepth.name, atMs, by: ["model"], reduce: "count" }, context),
  ]);
  const perWindow = new Map<number, WindowAnswers>([...shortWindows, ...long.windows]);
  const queues = queueTotals(queueSums, queueCounts);

  const modelsOf = new Map<string, string[]>();
  for (const model of new Set(
    [...perWindow.values()].flatMap((w) => [...w.latency.counts.keys(), ...w.requests.keys()]),
  )) {
    const modelClass = classOf(config, model);
    if (!modelClass) continue;
    modelsOf.set(modelClass.name, [...(modelsOf.get(modelClass.name) ?? []), model]);
  }

  const statuses = slos.map((slo): SloStatus => {
    const models = (modelsOf.get(slo.className) ?? []).sort();
    const lookup = (windowMs: number): EventCounts | undefined => countsFor(slo, models, perWindow.get(windowMs));
    const burn = evaluateBurn(slo, config.periodMs, lookup);
    const budget = errorBudget(lookup(config.periodMs), slo.objective);
    const hourBurn = computeBurnRate(lookup(HOUR_MS), slo.objective);
    return {
      id: slo.id,
      className: slo.className,
      kind: slo.kind,
      objective: slo.objective,
      thresholdSeconds: "thresholdSeconds" in slo ? slo.thresholdSeconds : null,
      models,
      burn,
      budget,
      timeToExhaustionMs: timeToExhaustionMs(budget, hourBurn, config.periodMs),
      dominantPhase:
        slo.kind === "latency" ? diagnose(models, lookup(HOUR_MS), phases, meanQueueDepth(models, queues)) : null,
    };
  });
  return { atMs, slos: statuses, queries: store.queryCount - before, sources, longWindowsAtMs: long.atMs };
}

/** Requests waiting per model now: the sum of the replicas' gauges and how many replicas report one. */
function queueTotals(
  sums: readonly LabeledValue[],
  counts: readonly LabeledValue[],
): Map<string, { sum: number; count: number }> {
  const totals = new Map<string, { sum: number; count: number }>();
  const countOf = new Map(counts.map((row) => [row.labels["model"] ?? "", row.value]));
  for (const row of sums) {
    const model = row.labels["model"] ?? "";
    const count = countOf.get(model) ?? 0;
    if (Number.isFinite(row.value) && count > 0) totals.set(model, { sum: row.value, count });
  }
  return totals;
}

/**
 * The increase of the bucket whose `le` equals the threshold exactly (the agent puts every threshold
 * in its buckets); `2` and `2.0` (Prometheus 3) are the same bound and add up across an upgrade.
 */
function bucketAt(values: readonly LabeledValue[] | undefined, threshold: number): number | undefined {
  let found: number | undefined;
  for (const value of values ?? []) if (Number(value.labels["le"]) === threshold) found = (found ?? 0) + value.value;
  return found;
}

function countsFor(slo: Slo, models: readonly string[], window: WindowAnswers | undefined): EventCounts | undefined {
  if (!window || models.length === 0) return undefined;
  let good = 0;
  let total = 0;
  let seen = false;
  for (const model of models) {
    if (slo.kind === "availability") {
      for (const value of window.requests.get(model) ?? []) {
        seen = true;
        total += value.value;
        if (value.labels["status"] !== "error") good += value.value;
      }
      continue;
    }
    const source = slo.kind === "ttft" ? window.ttft : window.latency;
    const count = source?.counts.get(model);
    if (count === undefined) continue;
    seen = true;
    total += count;
    good += bucketAt(source?.buckets.get(model), slo.thresholdSeconds) ?? 0;
  }
  return seen ? { good, total } : undefined;
}

/**
 * Requests waiting per replica now, from the runtimes' own gauges (`inferwatch_llm_queue_depth`,
 * one series per replica of the models, summed and counted per model in the store); undefined when
 * no runtime of the models is scraped.
 */
function meanQueueDepth(
  models: readonly string[],
  queues: ReadonlyMap<string, { sum: number; count: number }>,
): number | undefined {
  let sum = 0;
  let count = 0;
  for (const model of models) {
    const total = queues.get(model);
    if (total === undefined) continue;
    sum += total.sum;
    count += total.count;
  }
  return count === 0 ? undefined : sum / count;
}

function diagnose(
  models: readonly string[],
  hour: EventCounts | undefined,
  phases: PhaseBuckets,
  queueDepth: number | undefined,
): DominantPhaseResult {
  if (!hour || hour.total === 0) return { state: "no-data", reason: "no-slow-requests" };
  const slowShare = Math.max(0, hour.total - hour.good) / hour.total;
  const histogram = (phase: Phase): CumulativeBucket[] | undefined => {
    const byLe = new Map<number, number>();
    for (const model of models) {
      for (const value of phases[phase].get(model) ?? []) {
        const le = value.labels["le"] === "+Inf" ? Infinity : Number(value.labels["le"]);
        byLe.set(le, (byLe.get(le) ?? 0) + value.value);
      }
    }
    if (byLe.size === 0) return undefined;
    return [...byLe.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
  };
  const evidence: { -readonly [P in Phase]?: CumulativeBucket[] } = {};
  for (const phase of Object.keys(PHASE_METRICS) as Phase[]) {
    const buckets = histogram(phase);
    if (buckets) evidence[phase] = buckets;
  }
  const evidenceInput = { kind: "histograms", slowShare, phases: evidence } as const;
  return dominantPhase(
    queueDepth === undefined ? { evidence: evidenceInput } : { evidence: evidenceInput, queueDepth },
  );
}
