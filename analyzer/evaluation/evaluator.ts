/**
 * One evaluation of the analyzer, in parts (part.ts) that succeed or fail alone:
 *
 * - `sources` (slow): which recorded increases the store holds (one query);
 * - `sloLongWindows` (slow): the 1 d, 3 d and period windows of every SLO, from the recordings when present;
 * - `slos` (every evaluation): the short windows, burn rates, budgets, dominant phase, with the long windows' last counts;
 * - `nvlink` (slow): which GPUs have an active NVLink link (every link's series is read: the costliest "now" query);
 * - `snapshot` (every evaluation): GPUs, replicas and their state now;
 * - `idleHistory` (slow): request history in the windows idle eviction reads;
 * - `fleetDay` (slow) and `fleet` (every evaluation): utilization, pool-hours, efficiency, fragmentation;
 * - `recommendations` (every evaluation): the consolidation plan and idle evictions.
 *
 * Each part keeps its last good answer; one that fails is marked stale with its error. The whole
 * evaluation has a time budget and a byte budget: queries still running when either is spent are
 * cut, and their parts keep their last answer, marked stale with the reason.
 */
import { setMaxListeners } from "node:events";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import type { AnalyzerConfig } from "../../common/config/schema.js";
import type { Logger } from "../../common/log.js";
import { assembleFleetSnapshot, loadNvlinkGpus, poolResolver, type PoolOf } from "../fleet/assemble.js";
import { evaluateFleet, evaluateFleetDay, type FleetDayFigures, type FleetEvaluation } from "../fleet/evaluate.js";
import type { FleetSnapshot, ModelSloState } from "../fleet/snapshot.js";
import { rollUpUtilization } from "../fleet/utilization-rollup.js";
import type { IdleHistory } from "../recommend/idle-history.js";
import type { ConsolidationPlanner } from "../recommend/consolidation/index.js";
import { recommend, recommendWith, type Recommendations } from "../recommend/recommendations.js";
import { countLongWindows, evaluateSlos, type LongWindowCounts, type SloEvaluation } from "../slo/evaluate.js";
import { detectSources, type CountSource, type SloFamily } from "../slo/slo-counts.js";
import { gpuUtilizationObjective, type SloConfig } from "../../common/slo/spec.js";
import type { MetricStore } from "../stores/metric-store.js";
import { QueryUsage, type QueryUsageSummary } from "../stores/query-usage.js";
import { loadIdleHistoryWindows } from "./idle-history-windows.js";
import { Part, type PartStatus } from "./part.js";

/** What an evaluator reads and how. */
export interface EvaluatorOptions {
  readonly store: MetricStore;
  readonly config: AnalyzerConfig;
  readonly slo: SloConfig;
  readonly log: Logger;
  /**
   * Where the consolidation plan is made (the analyzer's planning thread, up to its time budget);
   * absent: here, by the heuristic alone (recommendations.ts).
   */
  readonly planner?: ConsolidationPlanner;
  /** Called when this evaluation's SLOs and fleet figures are in their parts, before the plan is made. */
  readonly onFigures?: () => void | Promise<void>;
}

/** What one evaluation did. */
export interface EvaluationOutcome {
  readonly atMs: number;
  readonly durationMs: number;
  /** Queries, bytes, retries and warnings of the whole evaluation. */
  readonly usage: QueryUsageSummary;
  /** Parts that ran this time. */
  readonly ran: readonly string[];
  /** True when every part that ran succeeded. */
  readonly isComplete: boolean;
}

/** SLO state per model: the lowest budget left among its SLOs, and whether any burns. */
export function sloStateOf(slos: SloEvaluation | undefined): Record<string, ModelSloState> {
  const state: Record<string, ModelSloState> = {};
  for (const status of slos?.slos ?? []) {
    for (const model of status.models) {
      const previous = state[model];
      // An SLO without data keeps what another measured.
      const remaining =
        status.budget.state === "measured"
          ? Math.min(status.budget.remaining, previous?.errorBudgetRemainingRatio ?? Infinity)
          : previous?.errorBudgetRemainingRatio;
      state[model] = {
        isBurningPage: (previous?.isBurningPage ?? false) || status.burn.severity === "page",
        isBurningTicket: (previous?.isBurningTicket ?? false) || status.burn.severity === "ticket",
        ...(remaining === undefined ? {} : { errorBudgetRemainingRatio: remaining }),
      };
    }
  }
  return state;
}

/** The evaluation's parts and their schedule; see the module comment. */
export class Evaluator {
  readonly sources: Part<Partial<Record<SloFamily, CountSource>>>;
  readonly sloLongWindows: Part<LongWindowCounts>;
  readonly slos: Part<SloEvaluation>;
  readonly nvlink: Part<ReadonlySet<string>>;
  readonly snapshot: Part<FleetSnapshot>;
  readonly idleHistory: Part<IdleHistory>;
  readonly fleetDay: Part<FleetDayFigures>;
  readonly fleet: Part<FleetEvaluation>;
  readonly recommendations: Part<Recommendations>;
  private readonly poolOf: PoolOf;
  private lastUsage: QueryUsageSummary | undefined;

  constructor(private readonly options: EvaluatorOptions) {
    const { config, log } = options;
    const part = <T>(name: string, refreshMs: number) => new Part<T>(name, refreshMs, log);
    this.sources = part("sources", config.slowInterval);
    this.sloLongWindows = part("sloLongWindows", config.slowInterval);
    this.slos = part("slos", 0);
    this.nvlink = part("nvlink", config.slowInterval);
    this.snapshot = part("snapshot", 0);
    this.idleHistory = part("idleHistory", config.slowInterval);
    this.fleetDay = part("fleetDay", config.slowInterval);
    this.fleet = part("fleet", 0);
    this.recommendations = part("recommendations", 0);
    this.poolOf = poolResolver(config.pools);
  }

  /** Every part's status, in evaluation order. */
  parts(): PartStatus[] {
    return [
      this.sources,
      this.sloLongWindows,
      this.slos,
      this.nvlink,
      this.snapshot,
      this.idleHistory,
      this.fleetDay,
      this.fleet,
      this.recommendations,
    ].map((p) => p.status());
  }

  /** The last evaluation's usage; undefined before the first. */
  usage(): QueryUsageSummary | undefined {
    return this.lastUsage;
  }

  /** The snapshot with each model's SLO state, as the recommender and the API see it. */
  currentSnapshot(): FleetSnapshot | undefined {
    const raw = this.snapshot.current;
    return raw === undefined ? undefined : { ...raw, slo: sloStateOf(this.slos.current) };
  }

  /** Runs the parts that are due for the instant `atMs`; never throws (failures stay in the parts). */
  async evaluate(atMs: number): Promise<EvaluationOutcome> {
    const { store, config, slo } = this.options;
    const started = performance.now();
    const usage = new QueryUsage(config.evaluationMaxBytes);
    const controller = new AbortController();
    // Every query in flight or waiting for a slot listens for the budget's end: dozens at once are expected.
    setMaxListeners(0, controller.signal);
    const timer = setTimeout(
      () => controller.abort(new Error(`evaluation time budget of ${config.evaluationTimeout / 1000} s spent`)),
      config.evaluationTimeout,
    );
    timer.unref();
    const context = { signal: controller.signal, usage };
    const ran: string[] = [];
    const due = (part: Part<unknown>): boolean => {
      const isDue = part.isDue(atMs);
      if (isDue) ran.push(part.name);
      return isDue;
    };
    try {
      if (config.recordingRules === "off") this.sources.setSource({ recordingRules: "off" });
      else if (due(this.sources)) {
        await this.sources.run(atMs, context, (c) => detectSources(store, slo, atMs, c));
        this.sources.setSource(this.sources.current ?? null);
      }
      const sources = config.recordingRules === "off" ? {} : (this.sources.current ?? {});
      await Promise.all([
        (async () => {
          if (due(this.sloLongWindows)) {
            await this.sloLongWindows.run(atMs, context, (c) => countLongWindows(store, slo, atMs, sources, c));
            this.sloLongWindows.setSource(sources);
          }
          const long = this.sloLongWindows.current ?? { atMs, windows: new Map() };
          ran.push(this.slos.name);
          await this.slos.run(atMs, context, (c) => evaluateSlos(store, slo, atMs, { long, sources, context: c }));
        })(),
        (async () => {
          if (due(this.nvlink)) await this.nvlink.run(atMs, context, (c) => loadNvlinkGpus(store, atMs, c));
          ran.push(this.snapshot.name);
          const nvlinkGpus = this.nvlink.current;
          await this.snapshot.run(atMs, context, (c) =>
            assembleFleetSnapshot(
              store,
              atMs,
              this.poolOf,
              {},
              { context: c, basis: config.utilizationBasis, ...(nvlinkGpus === undefined ? {} : { nvlinkGpus }) },
            ),
          );
        })(),
        due(this.idleHistory)
          ? this.idleHistory.run(atMs, context, (c) => loadIdleHistoryWindows(store, atMs, config.recommend.idle, c))
          : undefined,
      ]);
      // Each step below is synchronous work on a fleet-sized answer: let requests in between.
      await yieldToLoop();
      const snapshot = this.currentSnapshot();
      if (snapshot !== undefined) {
        const fleetOptions = {
          atMs,
          targetRatio: gpuUtilizationObjective(slo, "default").minRatio,
          poolOf: this.poolOf,
          basis: config.utilizationBasis,
        };
        if (due(this.fleetDay))
          await this.fleetDay.run(atMs, context, (c) =>
            evaluateFleetDay(store, snapshot, { ...fleetOptions, context: c }),
          );
        const day = this.fleetDay.current ?? { atMs, utilization: rollUpUtilization([]), poolHours: [] };
        ran.push(this.fleet.name, this.recommendations.name);
        await this.fleet.run(atMs, context, (c) =>
          evaluateFleet(store, snapshot, { ...fleetOptions, prices: config.gpuHourPrices, day, context: c }),
        );
        await yieldToLoop();
        await this.options.onFigures?.();
        // The plan itself is computed by analyzer/recommend; this part only keeps its last good answer.
        const history = this.idleHistory.current ?? null;
        const { planner } = this.options;
        await this.recommendations.run(atMs, context, () =>
          planner === undefined
            ? recommend(snapshot, history, config.recommend, atMs)
            : recommendWith(planner, snapshot, history, config.recommend, atMs),
        );
      }
    } finally {
      clearTimeout(timer);
    }
    this.lastUsage = usage.summary();
    const statuses = this.parts().filter((p) => ran.includes(p.name));
    return {
      atMs,
      durationMs: performance.now() - started,
      usage: this.lastUsage,
      ran,
      isComplete: statuses.every((p) => !p.isStale),
    };
  }
}
