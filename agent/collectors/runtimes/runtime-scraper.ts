import type { CollectResult, Component } from "../../../common/component.js";
import type { RuntimesConfig, SpansConfig } from "../../../common/config/schema.js";
import { COLLECTORS } from "../../../common/conventions.js";
import { errorMessage, wrapError } from "../../../common/errors.js";
import { parseExpositionText } from "../../../common/exposition.js";
import type { Logger } from "../../../common/log.js";
import { createPageAgents, fetchPage, type PageAgents } from "./fetch-page.js";
import type { PodTargetDiscovery } from "./pod-targets.js";
import { detectProfile, RUNTIME_GAUGE_PROFILES } from "./profiles/index.js";
import { indexSamples, type ModelGauges, type RuntimeName } from "./runtime-gauges.js";
import { BoundedRegExp } from "../../../common/config/safe-regex.js";

/** The model label when neither the page, the target's configuration nor its pod names one (as span metrics). */
export const UNKNOWN_MODEL = "unknown";

/** A runtime /metrics endpoint and what configuration (or its pod) says it serves. */
export interface RuntimeTarget {
  readonly url: string;
  /** Detected from the page's metric names when absent. */
  readonly runtime?: RuntimeName | undefined;
  /** Wins over the page's model label. */
  readonly model?: string | undefined;
  readonly namespace?: string | undefined;
  readonly pod?: string | undefined;
  /** Wins over the tier rules of agent.spans. */
  readonly tier?: string | undefined;
}

/** Labels of a runtime gauge series, less `node` (the exporter adds it). */
export interface RuntimeSeriesLabels {
  readonly model: string;
  readonly runtime: string;
  readonly namespace: string;
  readonly pod: string;
  readonly tier: string;
}

/** One model's gauges from one target, with the prefix-cache hit ratio derived from its counters. */
export interface RuntimeSeries {
  readonly labels: RuntimeSeriesLabels;
  readonly gauges: ModelGauges;
  readonly prefixCacheHitRatio?: number;
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

/** Options of {@link RuntimeScraper}; `podModel` names the model of a pod the agent knows. */
export interface RuntimeScraperOptions {
  readonly config: RuntimesConfig;
  readonly tiers: Pick<SpansConfig, "tiers" | "defaultTier">;
  readonly log: Logger;
  readonly podModel?: (namespace: string, pod: string) => string | undefined;
  /** Targets found at run time (this node's pods); refreshed at the start of each round. */
  readonly discovery?: PodTargetDiscovery;
}

/** Previous counter values of one (target, model), for the hit ratio between two scrapes. */
interface CounterMemo {
  readonly queries: number;
  readonly hits: number;
  readonly ratio: number | undefined;
}

/**
 * Scrapes the inference runtimes' own /metrics pages and maps them through the runtime gauge
 * profiles. One round scrapes every target at once, each under its own timeout, so a round lasts
 * at most the timeout (twice it when the node's pods are listed again first) and one hung or
 * broken target costs only its own up gauge. The agent's /metrics reads {@link view} and never
 * waits on a runtime.
 */
export class RuntimeScraper implements Component {
  readonly name = COLLECTORS.runtimes;
  private states = new Map<string, TargetState>();
  private readonly memos = new Map<string, CounterMemo>();
  private readonly warned = new Set<string>();
  private readonly tierRules: readonly { readonly pattern: RegExp; readonly tier: string }[];
  private agents: PageAgents | undefined = createPageAgents();

  constructor(private readonly options: RuntimeScraperOptions) {
    this.tierRules = options.tiers.tiers.map((rule) => ({ pattern: new BoundedRegExp(rule.model), tier: rule.tier }));
  }

  async start(): Promise<void> {}

  /** Closes idle connections; a later collect() reports every target down. Idempotent. */
  async shutdown(): Promise<void> {
    this.agents?.destroy();
    this.agents = undefined;
    this.options.discovery?.shutdown();
  }

  /** The latest state of every current target, in target order. */
  view(): readonly TargetState[] {
    return [...this.states.values()];
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
    const results = await Promise.all(targets.map((target) => this.scrape(target)));
    const next = new Map<string, TargetState>();
    const errors: Error[] = [];
    results.forEach((result) => {
      next.set(result.state.url, result.state);
      if (result.error) errors.push(result.error);
    });
    // Forget counters and logged trouble of targets that are gone (pods come and go).
    const isGone = (key: string): boolean => !next.has(key.slice(0, key.indexOf("\u0000")));
    for (const key of this.memos.keys()) if (isGone(key)) this.memos.delete(key);
    for (const key of this.warned) if (isGone(key)) this.warned.delete(key);
    this.states = next;
    return { samples: [...next.values()].filter((state) => state.isUp), errors };
  }

  private async scrape(target: RuntimeTarget): Promise<{ state: TargetState; error?: Error }> {
    const started = performance.now();
    const seconds = (): number => (performance.now() - started) / 1000;
    const down = (err: unknown): { state: TargetState; error: Error } => {
      const error = wrapError(`runtime ${target.url}`, err);
      this.warnOnce(target.url, "down", error);
      return { state: { url: target.url, runtime: target.runtime ?? this.states.get(target.url)?.runtime ?? "", isUp: false, durationSeconds: seconds(), series: [] }, error };
    };
    try {
      if (this.agents === undefined) throw new Error("the scraper is shut down");
      const text = await fetchPage(new URL(target.url), { timeoutMs: this.options.config.timeout, maxBytes: this.options.config.maxBodyBytes, agents: this.agents });
      const page = indexSamples(parseExpositionText(text));
      const profile = target.runtime !== undefined ? RUNTIME_GAUGE_PROFILES[target.runtime] : detectProfile(page);
      if (profile === undefined) {
        this.warnOnce(target.url, "unknown", new Error("the page carries none of vLLM's, TGI's or Triton's metric names"));
        return { state: { url: target.url, runtime: "", isUp: true, durationSeconds: seconds(), series: [] } };
      }
      this.recovered(target.url);
      const series = profile.read(page).map((gauges) => this.toSeries(target, profile.runtime, gauges));
      return { state: { url: target.url, runtime: profile.runtime, isUp: true, durationSeconds: seconds(), series } };
    } catch (err) {
      return down(err);
    }
  }

  private toSeries(target: RuntimeTarget, runtime: RuntimeName, gauges: ModelGauges): RuntimeSeries {
    const namespace = target.namespace ?? "";
    const pod = target.pod ?? "";
    const podModel = pod === "" ? undefined : this.options.podModel?.(namespace, pod);
    const model = target.model ?? (gauges.model !== "" ? gauges.model : undefined) ?? podModel ?? UNKNOWN_MODEL;
    const tier = target.tier ?? this.tierRules.find((rule) => rule.pattern.test(model))?.tier ?? this.options.tiers.defaultTier;
    const labels = { model, runtime, namespace, pod, tier };
    const ratio = this.hitRatio(`${target.url}\u0000${model}`, gauges);
    return ratio === undefined ? { labels, gauges } : { labels, gauges, prefixCacheHitRatio: ratio };
  }

  /**
   * Hits ÷ queries over the queries between this scrape and the previous one; with no new queries
   * the previous ratio stands, and on the first scrape or after a counter reset (the runtime
   * restarted) the ratio since the runtime started.
   */
  private hitRatio(key: string, gauges: ModelGauges): number | undefined {
    const { prefixCacheQueries: queries, prefixCacheHits: hits } = gauges;
    if (queries === undefined || hits === undefined) {
      this.memos.delete(key);
      return undefined;
    }
    const previous = this.memos.get(key);
    const isReset = previous === undefined || queries < previous.queries || hits < previous.hits;
    const dq = isReset ? queries : queries - previous.queries;
    const dh = isReset ? hits : hits - previous.hits;
    const ratio = dq > 0 ? Math.min(1, Math.max(0, dh / dq)) : isReset ? undefined : previous.ratio;
    this.memos.set(key, { queries, hits, ratio });
    return ratio;
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
    this.options.log.warn({ target: url, err: errorMessage(err) }, kind === "down" ? "runtime /metrics unreachable or unreadable; reported down" : "runtime /metrics not recognised; set its runtime in agent.runtimes.targets");
  }
}
