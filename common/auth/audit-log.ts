import { appendFile } from "node:fs/promises";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";

/** One operator action: who did what to which target, when, and how it ended. */
export interface AuditEntry {
  /** ISO 8601 time of the action. */
  readonly time: string;
  /** The token's name (`anonymous` when tokens are off). */
  readonly who: string;
  readonly role: string;
  /** What was done, e.g. `recommendation.acknowledge`; `audit.suppressed` for a summary of refusals not recorded. */
  readonly action: string;
  /** What it was done to, e.g. a recommendation id. */
  readonly target: string;
  /**
   * `unauthenticated` / `forbidden`: refused before the action ran (no or a bad token; a role too
   * low). `suppressed`: the summary of refused attempts left out by the rate limit.
   */
  readonly outcome: "ok" | "not-found" | "invalid" | "unauthenticated" | "forbidden" | "suppressed";
  /** The client's address. */
  readonly remote: string;
  readonly note?: string;
  /** On an `audit.suppressed` record: how many refused attempts it stands for. */
  readonly suppressed?: number;
}

/** How many refused attempts are recorded one by one per window; the rest are summed into one record. */
export interface RefusalRateLimit {
  readonly perWindow: number;
  readonly windowMs: number;
}

/** 20 refused attempts recorded per 10 s: enough to see who tries, not enough for a flood to fill the disk. */
export const DEFAULT_REFUSAL_RATE_LIMIT: RefusalRateLimit = { perWindow: 20, windowMs: 10_000 };

const isRefusal = (entry: AuditEntry): boolean => entry.outcome === "unauthenticated" || entry.outcome === "forbidden";

/**
 * Appends operator actions as JSON lines (one object a line, `O_APPEND`, so lines from one process
 * never interleave) to the configured file, and logs each one too. Writes are chained so the file
 * keeps the order of the actions; a failed write is logged, never thrown at the request.
 *
 * Actions that ran are always recorded. Refused attempts are rate-limited: the first
 * `perWindow` of a window are recorded one by one, the rest are counted and, when the window ends
 * (or at flush()), written as one `audit.suppressed` record saying how many there were, from when
 * to when. A flood of bad tokens costs the file a few lines a window, not one per request.
 */
export class AuditLog {
  private tail: Promise<void> = Promise.resolve();
  private window:
    | { startMs: number; recorded: number; suppressed: number; firstSuppressedMs: number; lastSuppressedMs: number }
    | undefined;
  private summaryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly path: string,
    private readonly log: Logger,
    private readonly limit: RefusalRateLimit = DEFAULT_REFUSAL_RATE_LIMIT,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records an entry (or, for a refusal past the rate limit, counts it); resolves once it is written (or its failure logged). */
  record(entry: AuditEntry): Promise<void> {
    if (isRefusal(entry) && !this.admitRefusal()) return this.tail;
    return this.write(entry);
  }

  /** Writes the summary of refusals suppressed so far, then waits for pending writes. */
  flush(): Promise<void> {
    this.writeSummary();
    return this.tail;
  }

  /** Whether a refused attempt is recorded by itself; counts it as suppressed when not. */
  private admitRefusal(): boolean {
    const nowMs = this.now();
    if (this.window !== undefined && nowMs - this.window.startMs >= this.limit.windowMs) this.writeSummary();
    this.window ??= { startMs: nowMs, recorded: 0, suppressed: 0, firstSuppressedMs: nowMs, lastSuppressedMs: nowMs };
    if (this.window.recorded < this.limit.perWindow) {
      this.window.recorded++;
      return true;
    }
    if (this.window.suppressed === 0) {
      this.window.firstSuppressedMs = nowMs;
      // The summary is due when the window ends, whether or not another attempt comes.
      this.summaryTimer = setTimeout(
        () => this.writeSummary(),
        Math.max(0, this.window.startMs + this.limit.windowMs - nowMs),
      );
      this.summaryTimer.unref();
    }
    this.window.suppressed++;
    this.window.lastSuppressedMs = nowMs;
    return false;
  }

  /** Ends the current window: writes its `audit.suppressed` record when it suppressed anything. */
  private writeSummary(): void {
    clearTimeout(this.summaryTimer);
    this.summaryTimer = undefined;
    const window = this.window;
    this.window = undefined;
    if (window === undefined || window.suppressed === 0) return;
    const from = new Date(window.firstSuppressedMs).toISOString();
    const to = new Date(window.lastSuppressedMs).toISOString();
    void this.write({
      time: to,
      who: "-",
      role: "none",
      action: "audit.suppressed",
      target: "",
      outcome: "suppressed",
      remote: "",
      note: `${window.suppressed} refused attempts not recorded one by one (rate limit ${this.limit.perWindow} per ${this.limit.windowMs / 1000} s), ${from} to ${to}`,
      suppressed: window.suppressed,
    });
  }

  private write(entry: AuditEntry): Promise<void> {
    this.log.info(
      { audit: entry },
      entry.outcome === "suppressed" ? "refused operator actions suppressed" : "operator action",
    );
    if (this.path === "") return this.tail;
    this.tail = this.tail
      .then(() => appendFile(this.path, `${JSON.stringify(entry)}\n`, { encoding: "utf8", mode: 0o600 }))
      .catch((err: unknown) => {
        this.log.error({ file: this.path, err: errorMessage(err) }, "audit log write failed");
      });
    return this.tail;
  }
}
