/**
 * One part of an evaluation (the SLOs, the long SLO windows, the snapshot, the fleet figures, the
 * idle history, the recommendations): it keeps its last good answer and says how fresh it is, so
 * one slow or failing query degrades one part, never the whole evaluation. A part that failed is
 * retried at the next evaluation; one that succeeded is due again after its refresh interval (the
 * long windows and the day figures refresh less often than the short ones).
 */
import { errorChain } from "../../common/errors.js";
import type { Logger } from "../../common/log.js";
import type { QueryUsage, QueryUsageSummary, QueryWarning } from "../stores/query-usage.js";
import type { QueryContext } from "../stores/metric-store.js";

/** What a part says about itself (served in /api/v1/status). */
export interface PartStatus {
  readonly name: string;
  /** The instant its served answer describes (ms since the epoch); null before its first success. */
  readonly atMs: number | null;
  /** When it last ran, and how long that took. */
  readonly attemptedAtMs: number | null;
  readonly durationMs: number | null;
  /** How often it is refreshed, milliseconds. */
  readonly refreshMs: number;
  /** True when its last run failed: the answer served is from `atMs`, older than the evaluation. */
  readonly isStale: boolean;
  /** Why the last run failed, with its causes; null when it did not. */
  readonly error: string | null;
  /** True when the server flagged the served answer as partial (Thanos/Mimir warnings). */
  readonly isPartial: boolean;
  readonly warnings: readonly QueryWarning[];
  /** What the served answer's queries cost. */
  readonly usage: QueryUsageSummary | null;
  /** Where it read from, when that can differ (recorded rules or raw series, per family). */
  readonly source: Readonly<Record<string, string>> | null;
}

/** A part's answer and state; see the module comment. */
export class Part<T> {
  private value: T | undefined;
  private atMs: number | null = null;
  private attemptedAtMs: number | null = null;
  private durationMs: number | null = null;
  private error: string | null = null;
  private usage: QueryUsageSummary | null = null;
  private source: Readonly<Record<string, string>> | null = null;

  constructor(
    readonly name: string,
    readonly refreshMs: number,
    private readonly log: Logger,
  ) {}

  /** The last good answer (possibly stale), undefined before the first. */
  get current(): T | undefined {
    return this.value;
  }

  /** Whether it should run at `nowMs`: never succeeded, failed last time, or older than its refresh interval. */
  isDue(nowMs: number): boolean {
    return this.atMs === null || this.error !== null || nowMs - this.atMs >= this.refreshMs;
  }

  /**
   * Runs `compute` for the instant `atMs` with a usage of its own (a child of `usage`); keeps the
   * answer on success, keeps the previous answer and the error on failure (logged once per distinct
   * error, with its causes). Never throws; returns the current answer.
   */
  async run(
    atMs: number,
    context: { readonly signal: AbortSignal; readonly usage: QueryUsage },
    compute: (context: QueryContext) => Promise<T> | T,
  ): Promise<T | undefined> {
    const usage = context.usage.child();
    const started = performance.now();
    this.attemptedAtMs = atMs;
    try {
      if (context.signal.aborted)
        throw context.signal.reason instanceof Error ? context.signal.reason : new Error("evaluation aborted");
      const value = await compute({ signal: context.signal, usage });
      this.value = value;
      this.atMs = atMs;
      this.error = null;
      this.usage = usage.summary();
    } catch (err) {
      const message = errorChain(err);
      if (this.error !== message)
        this.log.warn(
          { part: this.name, err: message, servingFrom: this.atMs === null ? null : new Date(this.atMs).toISOString() },
          "evaluation part failed; serving its last answer, marked stale",
        );
      this.error = message;
    } finally {
      this.durationMs = performance.now() - started;
    }
    return this.value;
  }

  /** Records where the answer was read from (shown in the status). */
  setSource(source: Readonly<Record<string, string>> | null): void {
    this.source = source;
  }

  status(): PartStatus {
    const warnings = this.usage?.warnings ?? [];
    return {
      name: this.name,
      atMs: this.atMs,
      attemptedAtMs: this.attemptedAtMs,
      durationMs: this.durationMs,
      refreshMs: this.refreshMs,
      isStale: this.error !== null,
      error: this.error,
      isPartial: warnings.length > 0,
      warnings,
      usage: this.usage,
      source: this.source,
    };
  }
}
