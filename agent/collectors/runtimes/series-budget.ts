/**
 * A sticky cardinality budget, in the manner of the span metrics' series limit: the first
 * `limit − 1` keys seen are admitted and stay admitted while they keep appearing; a key past that
 * is refused (its row folds into an overflow row, the one slot kept back). A key that no longer
 * appears in a round frees its slot at the round's end, so a model that went away makes room for
 * a new one without the admitted set churning from scrape to scrape. It holds admitted keys only
 * (a refused key leaves nothing behind), so it costs at most `limit` keys whatever it is asked.
 */
export class SeriesBudget {
  private readonly admitted = new Set<string>();
  /** Admitted keys asked about this round. */
  private seen = new Set<string>();
  /** Keys first admitted this round (withdraw() frees their slots again). */
  private fresh = new Set<string>();

  /** @param limit rows the budget may yield, its overflow row included (at least 2). */
  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 2)
      throw new Error(`series budget: limit must be an integer ≥ 2, got ${limit}`);
  }

  /** Whether `key` keeps its own row this round. */
  admit(key: string): boolean {
    if (this.admitted.has(key)) {
      this.seen.add(key);
      return true;
    }
    if (this.admitted.size >= this.limit - 1) return false;
    this.admitted.add(key);
    this.fresh.add(key);
    this.seen.add(key);
    return true;
  }

  /**
   * Takes back this round's admit() of `key`, as if it had not been asked (a page that failed
   * halfway): a key first admitted this round frees its slot; an older one is no longer seen, so
   * the round's end frees it unless it is asked again.
   */
  withdraw(key: string): void {
    this.seen.delete(key);
    if (this.fresh.delete(key)) this.admitted.delete(key);
  }

  /** Ends a round: keys not asked about since the last end free their slots. */
  endRound(): void {
    for (const key of this.admitted) if (!this.seen.has(key)) this.admitted.delete(key);
    this.seen = new Set();
    this.fresh = new Set();
  }

  /** Keys admitted now. */
  get size(): number {
    return this.admitted.size;
  }
}
