/**
 * Pulls each agent's `/metrics` at an interval into the embedded MemoryStore, as Prometheus would
 * scrape them: every sample gets the target's `instance` label (`host:port`), the scrape's start
 * time as its timestamp (unless the line carries its own), and an `up` series per target (1 when
 * the scrape and its parse succeeded, else 0). Targets are pulled concurrently, each with its own
 * timeout, so a target that is down or hangs never delays or stops the others.
 */
import { errorChain } from "../../common/errors.js";
import type { Component } from "../../common/component.js";
import type { Logger } from "../../common/log.js";
import type { MemoryStore } from "./memory-store.js";

/** Options of an AgentPuller. */
export interface AgentPullerOptions {
  /** The agents' metrics URLs; a URL without a path gets `/metrics`. */
  readonly targets: readonly string[];
  readonly store: MemoryStore;
  readonly intervalMs: number;
  /** Per-target limit on one scrape, milliseconds; defaults to the interval. */
  readonly timeoutMs?: number;
  readonly log?: Logger;
  readonly fetch?: typeof fetch;
  /** Clock, milliseconds since the epoch (tests). */
  readonly now?: () => number;
}

/** The state of one target after its latest pull. */
export interface TargetState {
  readonly url: string;
  readonly instance: string;
  readonly isUp: boolean;
  /** Start of the latest pull, ms since the epoch; null before the first. */
  readonly lastPullMs: number | null;
  readonly lastDurationMs: number | null;
  /** Samples stored by the latest pull. */
  readonly samples: number;
  /** Why the latest pull failed; null when it succeeded. */
  readonly lastError: string | null;
}

/** The Prometheus name of the per-target health series. */
export const UP_METRIC = "up";

const ACCEPT = "text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1";

function targetUrl(raw: string): URL {
  const url = new URL(raw);
  if (url.pathname === "" || url.pathname === "/") url.pathname = "/metrics";
  return url;
}

interface Target {
  readonly url: URL;
  readonly instance: string;
  readonly shown: string;
  state: TargetState;
}

/** A Component pulling agents into a MemoryStore; see the module comment. */
export class AgentPuller implements Component {
  readonly name = "agent-puller";
  private readonly targets: Target[];
  private readonly doFetch: typeof fetch;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<unknown> = Promise.resolve();
  private isRunning = false;

  constructor(private readonly options: AgentPullerOptions) {
    if (!(options.intervalMs > 0))
      throw new RangeError(`agent puller: interval must be positive, got ${options.intervalMs}`);
    this.targets = options.targets.map((raw) => {
      const url = targetUrl(raw);
      const instance = url.host;
      // The state and the log name the target without any credentials its URL carries.
      const shown = `${url.protocol}//${url.host}${url.pathname}`;
      return {
        url,
        instance,
        shown,
        state: {
          url: shown,
          instance,
          isUp: false,
          lastPullMs: null,
          lastDurationMs: null,
          samples: 0,
          lastError: null,
        },
      };
    });
    this.doFetch = options.fetch ?? fetch;
    this.now = options.now ?? Date.now;
  }

  /** Each target's latest state, in the order given. */
  states(): readonly TargetState[] {
    return this.targets.map((target) => target.state);
  }

  /** Starts pulling: once now, then every interval. Idempotent. */
  async start(): Promise<void> {
    if (this.isRunning) return;
    this.isRunning = true;
    const tick = (): void => {
      if (!this.isRunning) return;
      this.inFlight = this.pullOnce().finally(() => {
        if (!this.isRunning) return;
        this.timer = setTimeout(tick, this.options.intervalMs);
        this.timer.unref();
      });
    };
    tick();
  }

  /** Stops pulling and waits for a pull in progress. Idempotent, safe without start(). */
  async shutdown(): Promise<void> {
    this.isRunning = false;
    clearTimeout(this.timer);
    await this.inFlight;
  }

  /** Pulls every target once, concurrently; never throws (failures are in the states). */
  async pullOnce(): Promise<readonly TargetState[]> {
    await Promise.all(this.targets.map((target) => this.pullTarget(target)));
    return this.states();
  }

  private async pullTarget(target: Target): Promise<void> {
    const startedMs = this.now();
    const timeoutMs = this.options.timeoutMs ?? this.options.intervalMs;
    let samples = 0;
    let lastError: string | null = null;
    try {
      const response = await this.doFetch(target.url, {
        headers: { accept: ACCEPT },
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      samples = this.options.store.ingestExposition(text, startedMs, { instance: target.instance });
    } catch (err) {
      const isTimeout = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
      lastError = isTimeout ? `no answer within ${timeoutMs} ms` : errorChain(err);
      this.options.log?.warn({ target: target.shown, err: lastError }, "agent pull failed");
    }
    const isUp = lastError === null;
    this.options.store.ingest(UP_METRIC, { instance: target.instance }, isUp ? 1 : 0, startedMs);
    target.state = {
      url: target.shown,
      instance: target.instance,
      isUp,
      lastPullMs: startedMs,
      lastDurationMs: this.now() - startedMs,
      samples,
      lastError,
    };
  }
}
