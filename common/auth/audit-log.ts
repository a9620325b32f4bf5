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
  /** What was done, e.g. `recommendation.acknowledge`. */
  readonly action: string;
  /** What it was done to, e.g. a recommendation id. */
  readonly target: string;
  /** `unauthenticated` / `forbidden`: refused before the action ran (no or a bad token; a role too low). */
  readonly outcome: "ok" | "not-found" | "invalid" | "unauthenticated" | "forbidden";
  /** The client's address. */
  readonly remote: string;
  readonly note?: string;
}

/**
 * Appends operator actions as JSON lines (one object a line, `O_APPEND`, so lines from one process
 * never interleave) to the configured file, and logs each one too. Writes are chained so the file
 * keeps the order of the actions; a failed write is logged, never thrown at the request.
 */
export class AuditLog {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly path: string, private readonly log: Logger) {}

  /** Records an entry; resolves once it is written (or its failure logged). */
  record(entry: AuditEntry): Promise<void> {
    this.log.info({ audit: entry }, "operator action");
    if (this.path === "") return Promise.resolve();
    this.tail = this.tail.then(() => appendFile(this.path, `${JSON.stringify(entry)}\n`, { encoding: "utf8", mode: 0o600 })).catch((err: unknown) => {
      this.log.error({ file: this.path, err: errorMessage(err) }, "audit log write failed");
    });
    return this.tail;
  }

  /** Waits for pending writes. */
  flush(): Promise<void> {
    return this.tail;
  }
}
