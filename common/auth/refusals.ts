/**
 * Requests a listener refused before doing their work, counted for
 * `inferwatch_http_requests_refused_total{listener,reason}` and logged — the first refusal of each
 * (listener, reason) at once, then at most one line a minute carrying how many were not logged
 * since, so a flood of bad tokens costs a few log lines, not one per request.
 */
import type { Registry } from "prom-client";
import { METRICS } from "../conventions.js";
import type { Logger } from "../log.js";
import { defineScrapeMetric, type FillErrorHandler } from "../metric-factory.js";

/**
 * Why a request was refused: `unauthenticated` (no, a malformed or an unknown token, or no client
 * certificate where one is required per request), `forbidden` (a valid token of too low a role),
 * `too_large` (a body past the limit), `busy` (the in-flight budget is full: 429 /
 * RESOURCE_EXHAUSTED), `connection_limit` (a connection past the listener's cap, closed at once).
 */
export const REFUSAL_REASONS = ["unauthenticated", "forbidden", "too_large", "busy", "connection_limit"] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** How often a (listener, reason) may log a line after its first. */
const LOG_EVERY_MS = 60_000;

interface Tally {
  count: number;
  lastLoggedMs: number | undefined;
  /** Refusals since the last line logged. */
  unlogged: number;
}

/** The refusal counts of one process's listeners. One instance per component tree (agent, analyzer). */
export class Refusals {
  private readonly tallies = new Map<string, Tally>();

  constructor(
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one refusal and logs it when its (listener, reason) has not logged within the last minute. */
  record(listener: string, reason: RefusalReason, remote = ""): void {
    const key = `${listener}\u0000${reason}`;
    const tally = this.tallies.get(key) ?? { count: 0, lastLoggedMs: undefined, unlogged: 0 };
    this.tallies.set(key, tally);
    tally.count++;
    const nowMs = this.now();
    if (tally.lastLoggedMs !== undefined && nowMs - tally.lastLoggedMs < LOG_EVERY_MS) {
      tally.unlogged++;
      return;
    }
    this.log.warn(
      { listener, reason, remote, suppressed: tally.unlogged },
      tally.unlogged > 0 ? `request refused (${tally.unlogged} more since the last line)` : "request refused",
    );
    tally.lastLoggedMs = nowMs;
    tally.unlogged = 0;
  }

  /** The count of one (listener, reason); 0 when none. */
  count(listener: string, reason: RefusalReason): number {
    return this.tallies.get(`${listener}\u0000${reason}`)?.count ?? 0;
  }

  /** Every (listener, reason) refused at least once, with its count. */
  entries(): { readonly listener: string; readonly reason: string; readonly count: number }[] {
    return [...this.tallies.entries()].map(([key, tally]) => {
      const [listener = "", reason = ""] = key.split("\u0000");
      return { listener, reason, count: tally.count };
    });
  }
}

/** Exposes `inferwatch_http_requests_refused_total` from `refusals` in `registry`, read at scrape time. */
export function registerRefusalMetric(registry: Registry, refusals: Refusals, onError: FillErrorHandler): void {
  defineScrapeMetric(
    registry,
    METRICS.httpRequestsRefused,
    (emit) => {
      for (const { listener, reason, count } of refusals.entries()) emit({ listener, reason }, count);
    },
    onError,
  );
}
