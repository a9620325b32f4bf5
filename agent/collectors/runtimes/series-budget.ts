/**
 * A sticky cardinality budget, in the manner of the span metrics' series limit: the first
 * `limit − 1` keys seen are admitted and stay admitted while they keep appearing; a key past that
 * is refused (its row folds into an overflow row, the one slot kept back). A key that no longer
 * appears in a round frees its slot at the round's end, so a model that went away makes room for
 * a new one without the admitted set churning from scrape to scrape.
 */
export class SeriesBudget {
  private readonly admitted = new Set<string>();
  private seen = new Set<string>();

  /** @param limit rows the budget may yield, its overflow row included (at least 2). */
  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 2) throw new Error(`series budget: limit must be an integer ≥ 2, got ${limit}`);
  }

  /** Whether `key` keeps its own row this round. */
  admit(key: string): boolean {
    this.seen.add(key);
    if (this.admitted.has(key)) return true;
    if (this.admitted.size >= this.limit - 1) return false;
    this.admitted.add(key);
    return true;
  }

  /** Ends a round: keys not asked about since the last end free their slots. */
  endRound(): void {
    for (const key of this.admitted) if (!this.seen.has(key)) this.admitted.delete(key);
    this.seen = new Set();
  }

  /** Keys admitted now. */
  get size(): number {
    return this.admitted.size;
  }
}
