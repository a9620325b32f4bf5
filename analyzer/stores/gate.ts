/**
 * At most `limit` holders at once, the rest waiting in arrival order: the cap on store queries in
 * flight (prometheus-client.ts).
 */
/** A counting semaphore: at most `limit` holders; waiters leave the queue when their signal aborts. */
export class Gate {
  private active = 0;
  private readonly waiting: { grant: () => void }[] = [];

  constructor(private readonly limit: number) {}

  /** Waits for a slot; rejects with the signal's reason when it aborts first (the slot is then not taken). */
  async enter(signal: AbortSignal | undefined): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = { grant: () => (signal?.removeEventListener("abort", onAbort), resolve()) };
      const onAbort = (): void => {
        const at = this.waiting.indexOf(waiter);
        if (at >= 0) this.waiting.splice(at, 1);
        reject(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  /** Frees a slot, handing it to the longest waiter. */
  leave(): void {
    const next = this.waiting.shift();
    if (next) next.grant();
    else this.active--;
  }
}
