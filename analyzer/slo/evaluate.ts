import { METRICS } from "../../common/conventions.js";
import type { LabeledValue, MetricStore } from "../stores/metric-store.js";
import { errorBudget, timeToExhaustionMs, type BudgetStatus } from "./budget.js";
import { evaluateBurn, computeBurnRate, type EventCounts, type SloBurnStatus } from "./burn.js";
import { dominantPhase, type CumulativeBucket, type DominantPhaseResult, type Phase } from "./dominant-phase.js";
import { classOf, listSlos, type Slo, type SloConfig } from "./spec.js";
import { windowDurationsMs } from "./windows.js";

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
}

const HOUR_MS = 3_600_000;
const PHASE_METRICS: Readonly<Record<Phase, string>> = {
  queue: METRICS.llmQueueDuration.name,
  prefill: METRICS.llmPrefillDuration.name,
  decode: METRICS.llmDecodeDuration.name,
};

/** Increases of one metric over one window, keyed by model (and le for buckets). */
interface WindowCounts {
  readonly buckets: ReadonlyMap<string, LabeledValue[]>;
  readonly counts: ReadonlyMap<string, number>;
}

/** Every metric's increases over one window. */
interface WindowAnswers {
  readonly latency: WindowCounts;
  readonly ttft: WindowCounts | undefined;
  readonly requests: ReadonlyMap<string, LabeledValue[]>;
}

function byModel(values: readonly LabeledValue[]): Map<string, LabeledValue[]> {
  const grouped = new Map<string, LabeledValue[]>();
  for (const value of values) {
    const model = value.labels["model"] ?? "";
    const list = grouped.get(model) ?? [];
    list.push(value);
    grouped.set(model, list);
  }
  return grouped;
}

function sumByModel(values: readonly LabeledValue[]): Map<string, number> {
  const sums = new Map<string, number>();
  for (const value of values) sums.set(value.labels["model"] ?? "", (sums.get(value.labels["model"] ?? "") ?? 0) + value.value);
  return sums;
}

/** The increase of the bucket whose `le` equals the threshold exactly (the agent puts every threshold in its buckets). */
function bucketAt(values: readonly LabeledValue[] | undefined, threshold: number): number | undefined {
  const found = values?.find((value) => Number(value.labels["le"]) === threshold);
  return found?.value;
}

/**
 * Evaluates every SLO of the configuration at `atMs` from a store. Queries are batched per window:
 * for each distinct window length (the burn windows and the period) the store is asked once per
 * metric for every model at once, and the answers are grouped by model class here.
 */
export async function evaluateSlos(store: MetricStore, config: SloConfig, atMs: number): Promise<SloEvaluation> {
  const before = store.queryCount;
  const slos = listSlos(config);
  const windows = [...new Set([...windowDurationsMs(), config.periodMs])];
  const hasTtft = slos.some((slo) => slo.kind === "ttft");
  const perWindow = new Map<number, WindowAnswers>();
  await Promise.all(windows.map(async (windowMs) => {
    const ask = (metric: string, by: string[]) => store.increase({ metric, windowMs, atMs, by });
    const [buckets, counts, ttftBuckets, ttftCounts, requests] = await Promise.all([
      ask(`${METRICS.llmRequestDuration.name}_bucket`, ["model", "le"]),
      ask(`${METRICS.llmRequestDuration.name}_count`, ["model"]),
      hasTtft ? ask(`${METRICS.llmTimeToFirstToken.name}_bucket`, ["model", "le"]) : Promise.resolve([]),
      hasTtft ? ask(`${METRICS.llmTimeToFirstToken.name}_count`, ["model"]) : Promise.resolve([]),
      ask(METRICS.llmRequests.name, ["model", "status"]),
    ]);
    perWindow.set(windowMs, {
      latency: { buckets: byModel(buckets), counts: sumByModel(counts) },
      ttft: hasTtft ? { buckets: byModel(ttftBuckets), counts: sumByModel(ttftCounts) } : undefined,
      requests: byModel(requests),
    });
  }));
  const [phases, queueDepths] = await Promise.all([phaseBuckets(store, atMs), store.latest({ metric: METRICS.llmQueueDepth.name, atMs })]);
  const queues = byModel(queueDepths);

  const modelsOf = new Map<string, string[]>();
  for (const model of new Set([...perWindow.values()].flatMap((w) => [...w.latency.counts.keys(), ...w.requests.keys()]))) {
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
      dominantPhase: slo.kind === "latency" ? diagnose(models, lookup(HOUR_MS), phases, meanQueueDepth(models, queues)) : null,
    };
  });
  return { atMs, slos: statuses, queries: store.queryCount - before };
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

type PhaseBuckets = Readonly<Record<Phase, ReadonlyMap<string, LabeledValue[]>>>;

/** The last hour's phase histograms by model, for the dominant-phase diagnosis (three queries). */
async function phaseBuckets(store: MetricStore, atMs: number): Promise<PhaseBuckets> {
  const entries = await Promise.all((Object.entries(PHASE_METRICS) as [Phase, string][]).map(async ([phase, metric]) =>
    [phase, byModel(await store.increase({ metric: `${metric}_bucket`, windowMs: HOUR_MS, atMs, by: ["model", "le"] }))] as const));
  return Object.fromEntries(entries) as unknown as PhaseBuckets;
}

/**
 * Requests waiting per replica now, from the runtimes' own gauges (`inferwatch_llm_queue_depth`,
 * one series per replica of the models); undefined when no runtime of the models is scraped.
 */
function meanQueueDepth(models: readonly string[], queues: ReadonlyMap<string, LabeledValue[]>): number | undefined {
  const values = models.flatMap((model) => queues.get(model) ?? []).map((value) => value.value).filter(Number.isFinite);
  return values.length === 0 ? undefined : values.reduce((sum, value) => sum + value, 0) / values.length;
}

function diagnose(models: readonly string[], hour: EventCounts | undefined, phases: PhaseBuckets, queueDepth: number | undefined): DominantPhaseResult {
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
  return dominantPhase(queueDepth === undefined ? { evidence: evidenceInput } : { evidence: evidenceInput, queueDepth });
}
