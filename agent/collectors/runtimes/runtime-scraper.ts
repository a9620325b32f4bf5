import type { CollectResult, Component } from "../../../common/component.js";
import type { RuntimesConfig, SpansConfig } from "../../../common/config/schema.js";
import { COLLECTORS, OVERFLOW_MODEL } from "../../../common/conventions.js";
import { errorMessage, wrapError } from "../../../common/errors.js";
import { ExpositionStream } from "../../../common/exposition-stream.js";
import type { Logger } from "../../../common/log.js";
import { deriveFigures, type RequestIncrements, type RowMemo } from "./counter-memo.js";
import { streamPage } from "./fetch-page.js";
import { RuntimePageFold, type FoldedPage } from "./page-fold.js";
import { PagePools } from "./page-pools.js";
import { ReadTurns } from "./read-turns.js";
import type { PodTargetDiscovery } from "./pod-targets.js";
import type { RuntimeTarget } from "./runtime-target.js";
import type { ModelGauges, RuntimeName } from "./runtime-gauges.js";
import { SeriesBudget } from "./series-budget.js";
import { budgetRows, UNKNOWN_MODEL, type FoldCounts, type RuntimeSeriesLabels } from "./target-rows.js";
import { BoundedRegExp } from "../../../common/config/safe-regex.js";
import { createAdmission, type Admission } from "../../receivers/admission.js";

export { UNKNOWN_MODEL, type RuntimeSeriesLabels } from "./target-rows.js";
export type { RuntimeTarget } from "./runtime-target.js";

/** One model's gauges from one target, with the figures derived from its counters between scrapes. */
export interface RuntimeSeries {
  readonly labels: RuntimeSeriesLabels;
  readonly gauges: ModelGauges;
  readonly prefixCacheHitRatio?: number;
  /** Mean seconds queued / computing of the requests finished since the previous scrape (Triton). */
  readonly meanQueueSeconds?: number;
  readonly meanComputeSeconds?: number;
}

/** The latest scrape of one target. Down targets carry no series: nothing stale is exported. */
export interface TargetState {
  readonly url: string;
  /** Configured, else detected from the page; "" when neither says. */
  readonly runtime: RuntimeName | "";
  readonly isUp: boolean;
  readonly durationSeconds: number;
  readonly series: readonly RuntimeSeries[];
}

/** Receives what a runtime counted (finished requests, tokens) for one series since the previous scrape. */
export type RequestCountSink = (labels: RuntimeSeriesLabels, increments: RequestIncrements, atMs: number) => void;

/** Options of {@link RuntimeScraper}; `podModel` names the model of a pod the agent knows. */
export interface RuntimeScraperOptions {
  readonly config: RuntimesConfig;
  readonly tiers: Pick<SpansConfig, "tiers" | "defaultTier">;
  readonly log: Logger;
  readonly podModel?: (namespace: string, pod: string) => string | undefined;
  /** Targets found at run time (this node's pods); refreshed at the start of each round. */
  readonly discovery?: PodTargetDiscovery;
  /** Where the runtimes' own request and token counts go (the span series store). */
  readonly requestCounts?: RequestCountSink;
  readonly now?: () => number;
}

/** What one target's page gave, named and bounded by the target's budget; the agent's budget is applied after the round. */
interface Scraped {
  readonly target: RuntimeTarget;
  readonly state: TargetState;
  readonly page?: FoldedPage;
  readonly error?: Error;
}

/**
 * Keys each profile joins on per page (a Triton model's successes with its duration counters, a
 * KV-block version, an SGLang replica group), per admitted row: exact for every page within the
 * series limit, and bounded by it on the pages past it.
 */
const JOIN_KEYS_PER_ROW = 16;

/**
 * Scrapes the inference runtimes' own /metrics pages and maps them through the runtime gauge
 * profiles. One round scrapes every target at once, each under its own timeout and over its own
 * socket pool, so a round lasts at most the timeout (twice it when the node's pods are listed
 * again first) and one hung or broken target costs only its own up gauge. Rows are bounded per
 * target and per agent (`maxSeriesPerTarget`, `maxSeries`), folding into `__overflow__`. The
 * agent's /metrics reads {@link view} and never waits on a runtime.
 *
 * A page is read as it arrives (page-fold.ts): parsed line by line, only the families a profile
 * reads kept, each model put to the target's budget when first met, so a scrape holds its admitted
 * rows and not its page; reads give the event loop a turn between chunks, and the bytes received
 * and not yet parsed across all reads at once are bounded by `maxInflightBytes`.
 */
export class RuntimeScraper implements Component {
  readonly name = COLLECTORS.runtimes;
  private states = new Map<string, TargetState>();
  private readonly memos = new Map<string, RowMemo & { readonly signature: string }>();
  private readonly warned = new Set<string>();
  private readonly tierRules: readonly { readonly pattern: RegExp; readonly tier: string }[];
  private readonly pools = new PagePools();
  private readonly targetBudgets = new Map<string, SeriesBudget>();
  private readonly agentBudget: SeriesBudget;
  /** Bytes received and not yet parsed, across every read of a round. */
  private readonly readBudget: Admission;
  /** Turns of the event loop the reads of a round share. */
  private readonly readTurns = new ReadTurns();
  private podModels = new Map<string, ReadonlySet<string>>();
  private readonly now: () => number;
  /** Rows folded into `__overflow__` since start, by the limit that folded them. */
  readonly overflowed: FoldCounts = { target: 0, agent: 0 };
  /** Distinct label sets exported after the last round. */
  seriesCount = 0;

  constructor(private readonly options: RuntimeScraperOptions) {
    this.tierRules = options.tiers.tiers.map((rule) => ({ pattern: new BoundedRegExp(rule.model), tier: rule.tier }));
    this.agentBudget = new SeriesBudget(options.config.maxSeries);
    this.readBudget = createAdmission(options.config.maxInflightBytes);
    this.now = options.now ?? Date.now;
  }

  async start(): Promise<void> {}

  /** Closes idle connections; a later collect() reports every target down. Idempotent. */
  async shutdown(): Promise<void> {
    this.pools.destroy();
    this.options.discovery?.shutdown();
  }

  /** The latest state of every current target, in target order. */
  view(): readonly TargetState[] {
    return [...this.states.values()];
  }

  /**
   * The models a pod's runtime pages reported in the last round (named as their series are:
   * configured model, else the page's label, else the pod's), less `unknown` and `__overflow__`.
   */
  modelsOfPod(namespace: string, pod: string): ReadonlySet<string> {
    return this.podModels.get(`${namespace}/${pod}`) ?? new Set();
  }

  /** The targets of this round: configured ones, then discovered ones not already configured. */
  targets(): RuntimeTarget[] {
    const byUrl = new Map<string, RuntimeTarget>();
    for (const target of [...this.options.config.targets, ...(this.options.discovery?.targets() ?? [])]) {
      if (!byUrl.has(target.url)) byUrl.set(target.url, target);
    }
    return [...byUrl.values()];
  }

  /** One round over every target; never throws. Samples are the targets that answered, errors one per target that did not. */
  async collect(): Promise<CollectResult<TargetState>> {
    await this.options.discovery?.refresh();
    const targets = this.targets();
    const urls = new Set(targets.map((target) => target.url));
    this.pools.retain(urls);
    const scraped = await Promise.all(targets.map((target) => this.scrape(target)));
    const atMs = this.now();
    const next = new Map<string, TargetState>();
    const errors: Error[] = [];
    const podModels = new Map<string, Set<string>>();
    const labelSets = new Set<string>();
    const liveMemos = new Set<string>();
    for (const result of scraped) {
      // A target that is down keeps its counters' memory: its first answer after the outage counts what happened during it.
      if (!result.state.isUp)
        for (const key of this.memos.keys()) if (key.startsWith(`${result.state.url}\u0000`)) liveMemos.add(key);
      const series = this.seriesOf(result, atMs, liveMemos);
      for (const s of series) {
        labelSets.add(JSON.stringify(s.labels));
        if (s.labels.pod === "" || s.labels.model === UNKNOWN_MODEL || s.labels.model === OVERFLOW_MODEL) continue;
        const key = `${s.labels.namespace}/${s.labels.pod}`;
        const set = podModels.get(key) ?? new Set<string>();
        set.add(s.labels.model);
        podModels.set(key, set);
      }
      next.set(result.state.url, { ...result.state, series });
      if (result.error) errors.push(result.error);
    }
    this.agentBudget.endRound();
    for (const [url, budget] of this.targetBudgets) {
      if (urls.has(url)) budget.endRound();
      else this.targetBudgets.delete(url);
    }
    for (const key of this.memos.keys()) if (!liveMemos.has(key)) this.memos.delete(key);
    // Forget logged trouble of targets that are gone (pods come and go).
    for (const key of this.warned) if (!urls.has(key.slice(0, key.indexOf("\u0000")))) this.warned.delete(key);
    this.states = next;
    this.podModels = podModels;
    this.seriesCount = labelSets.size;
    return { samples: [...next.values()].filter((state) => state.isUp), errors };
  }

  private async scrape(target: RuntimeTarget): Promise<Scraped> {
    const started = performance.now();
    const seconds = (): number => (performance.now() - started) / 1000;
    const state = (runtime: RuntimeName | "", isUp: boolean): TargetState => ({
      url: target.url,
      runtime,
      isUp,
      durationSeconds: seconds(),
      series: [],
    });
    const pod = target.pod ?? "";
    const podModel = pod === "" ? undefined : this.options.podModel?.(target.namespace ?? "", pod);
    const fold = new RuntimePageFold({
      configured: target.runtime,
      modelOf: (pageModel) => target.model ?? (pageModel !== "" ? pageModel : undefined) ?? podModel ?? UNKNOWN_MODEL,
      budget: this.targetBudget(target.url),
      joinLimit: JOIN_KEYS_PER_ROW * this.options.config.maxSeriesPerTarget,
    });
    try {
      const agents = this.pools.forTarget(target.url);
      if (agents === undefined) throw new Error("the scraper is shut down");
      const stream = new ExpositionStream(fold.add, { wants: fold.wants });
      await streamPage(
        new URL(target.url),
        {
          timeoutMs: this.options.config.timeout,
          maxBytes: this.options.config.maxBodyBytes,
          agents,
          budget: this.readBudget,
          turns: this.readTurns,
        },
        {
          write: (chunk) => stream.write(chunk),
          end: () => stream.end(),
          get heldBytes() {
            return stream.pendingLength;
          },
        },
      );
      const page = fold.finish();
      if (page === undefined) {
        this.warnOnce(
          target.url,
          "unknown",
          new Error("the page carries none of vLLM's, SGLang's, TGI's, Triton's or trtllm-serve's metric names"),
        );
        return { target, state: state("", true) };
      }
      this.recovered(target.url);
      return { target, state: state(page.runtime, true), page };
    } catch (err) {
      fold.abandon();
      const error = wrapError(`runtime ${target.url}`, err);
      this.warnOnce(target.url, "down", error);
      return { target, state: state(target.runtime ?? this.states.get(target.url)?.runtime ?? "", false), error };
    }
  }

  /** The series budget of a target, created on its first scrape. */
  private targetBudget(url: string): SeriesBudget {
    let budget = this.targetBudgets.get(url);
    if (budget === undefined)
      this.targetBudgets.set(url, (budget = new SeriesBudget(this.options.config.maxSeriesPerTarget)));
    return budget;
  }

  /** Labels a target's rows, applies the agent's budget, derives their figures and hands the request counts on. */
  private seriesOf(result: Scraped, atMs: number, liveMemos: Set<string>): RuntimeSeries[] {
    const { page } = result;
    if (!result.state.isUp || result.state.runtime === "" || page === undefined) return [];
    const { target } = result;
    const rows = budgetRows(
      page,
      {
        runtime: result.state.runtime,
        namespace: target.namespace ?? "",
        pod: target.pod ?? "",
        tierOf: (model) =>
          target.tier ??
          this.tierRules.find((rule) => rule.pattern.test(model))?.tier ??
          this.options.tiers.defaultTier,
        overflowTier: target.tier ?? this.options.tiers.defaultTier,
        agentBudget: this.agentBudget,
        targetKey: target.url,
      },
      this.overflowed,
    );
    return rows.map((row) => {
      const key = `${target.url}\u0000${row.overflow ?? "model"}\u0000${row.labels.model}`;
      liveMemos.add(key);
      const previous = this.memos.get(key);
      // An overflow row whose members changed is a new sum, not a counter that went back: start over.
      const { memo, figures } = deriveFigures(previous?.signature === row.signature ? previous : undefined, row.gauges);
      this.memos.set(key, { ...memo, signature: row.signature });
      const counted = figures.increments;
      if (counted !== undefined && Object.values(counted).some((value) => value > 0))
        this.options.requestCounts?.(row.labels, counted, atMs);
      return {
        labels: row.labels,
        gauges: row.gauges,
        ...(figures.prefixCacheHitRatio === undefined ? {} : { prefixCacheHitRatio: figures.prefixCacheHitRatio }),
        ...(figures.meanQueueSeconds === undefined ? {} : { meanQueueSeconds: figures.meanQueueSeconds }),
        ...(figures.meanComputeSeconds === undefined ? {} : { meanComputeSeconds: figures.meanComputeSeconds }),
      };
    });
  }

  /** Forgets a target's logged trouble, saying so when it was down. */
  private recovered(url: string): void {
    if (this.warned.delete(`${url}\u0000down`)) this.options.log.info({ target: url }, "runtime /metrics is back");
    this.warned.delete(`${url}\u0000unknown`);
  }

  /** Logs a target's trouble once until it recovers, not on every round. */
  private warnOnce(url: string, kind: string, err: Error): void {
    const key = `${url}\u0000${kind}`;
    if (this.warned.has(key)) return;
    for (const other of this.warned) if (other.startsWith(`${url}\u0000`)) this.warned.delete(other);
    this.warned.add(key);
    this.options.log.warn(
      { target: url, err: errorMessage(err) },
      kind === "down"
        ? "runtime /metrics unreachable or unreadable; reported down"
        : "runtime /metrics not recognised; set its runtime in agent.runtimes.targets",
    );
  }
}
