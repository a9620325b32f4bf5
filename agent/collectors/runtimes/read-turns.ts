/**
 * Turns of the event loop shared by the page reads of one scraper. A read works for a short slice,
 * then waits for its next turn; turns are handed out one per event-loop iteration (setImmediate),
 * first come first served. So however many pages are read at once, the agent's own listeners and
 * timers run between any two slices: with per-read yields alone, eight reads each running their
 * slice in the same iteration would block the loop eight times as long.
 */
export class ReadTurns {
  private readonly waiting: (() => void)[] = [];
  private isPumping = false;

  /** Resolves at the caller's next turn: after the event loop has gone round once more. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (this.isPumping) return;
      this.isPumping = true;
      setImmediate(this.pump);
    });
  }

  /** Reads waiting for a turn. */
  get waitingCount(): number {
    return this.waiting.length;
  }

  /** Gives the head its turn; its slice runs once this returns (as microtasks), and the next turn comes an iteration later. */
  private readonly pump = (): void => {
    this.waiting.shift()?.();
    if (this.waiting.length > 0) setImmediate(this.pump);
    else this.isPumping = false;
  };
}
