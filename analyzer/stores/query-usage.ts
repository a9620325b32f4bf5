/**
 * What a set of store queries cost (one evaluation part, or a whole evaluation): queries, bytes
 * received, retries, the largest answer, and the warnings the server sent with its answers
 * (Thanos and Mimir say so when an answer is partial because a store or ingester did not answer).
 * A byte budget, when set, is enforced as answers arrive: the query that would pass it fails with
 * {@link QueryBudgetError}, so an evaluation reading a store larger than expected degrades to a
 * partial answer instead of growing without bound.
 */

/** Raised when an answer would take the usage past its byte budget. */
export class QueryBudgetError extends Error {
  override readonly name = "QueryBudgetError";
}

/** A server warning, with the query it came with. */
export interface QueryWarning {
  readonly query: string;
  readonly warning: string;
}

/** The counters of a QueryUsage, as plain data. */
export interface QueryUsageSummary {
  readonly queries: number;
  /** Decoded answer bytes (JSON). */
  readonly bytes: number;
  /** Bytes on the wire (compressed when the server compressed). */
  readonly wireBytes: number;
  readonly largestAnswerBytes: number;
  readonly retries: number;
  readonly shardedQueries: number;
  /** Warnings received (every one counted; the first distinct ones kept in `warnings`). */
  readonly warningCount: number;
  readonly warnings: readonly QueryWarning[];
}

/** Warnings kept per usage; more are counted, not kept. */
const MAX_WARNINGS = 20;

/** Mutable counters shared by the queries of one unit of work; `parent` receives the same charges. */
export class QueryUsage {
  queries = 0;
  bytes = 0;
  wireBytes = 0;
  largestAnswerBytes = 0;
  retries = 0;
  shardedQueries = 0;
  warningCount = 0;
  private readonly kept: QueryWarning[] = [];

  /** `budgetBytes`: decoded bytes this usage (and its children) may receive; unlimited when undefined. */
  constructor(
    readonly budgetBytes?: number,
    private readonly parent?: QueryUsage,
  ) {}

  /** A child whose charges also count here (an evaluation part inside an evaluation). */
  child(budgetBytes?: number): QueryUsage {
    return new QueryUsage(budgetBytes, this);
  }

  countQuery(): void {
    this.queries++;
    this.parent?.countQuery();
  }

  countRetry(): void {
    this.retries++;
    this.parent?.countRetry();
  }

  countSharded(): void {
    this.shardedQueries++;
    this.parent?.countSharded();
  }

  /** Adds received bytes; throws QueryBudgetError when this usage or a parent passes its budget. */
  chargeBytes(bytes: number, wireBytes: number): void {
    this.bytes += bytes;
    this.wireBytes += wireBytes;
    this.parent?.chargeBytes(bytes, wireBytes);
    if (this.budgetBytes !== undefined && this.bytes > this.budgetBytes) {
      throw new QueryBudgetError(`evaluation byte budget of ${this.budgetBytes} bytes spent (${this.bytes} received)`);
    }
  }

  /** Records the size of one whole answer. */
  noteAnswer(bytes: number): void {
    this.largestAnswerBytes = Math.max(this.largestAnswerBytes, bytes);
    this.parent?.noteAnswer(bytes);
  }

  warn(warning: QueryWarning): void {
    this.warningCount++;
    if (
      this.kept.length < MAX_WARNINGS &&
      !this.kept.some((w) => w.warning === warning.warning && w.query === warning.query)
    )
      this.kept.push(warning);
    this.parent?.warn(warning);
  }

  summary(): QueryUsageSummary {
    return {
      queries: this.queries,
      bytes: this.bytes,
      wireBytes: this.wireBytes,
      largestAnswerBytes: this.largestAnswerBytes,
      retries: this.retries,
      shardedQueries: this.shardedQueries,
      warningCount: this.warningCount,
      warnings: [...this.kept],
    };
  }
}
