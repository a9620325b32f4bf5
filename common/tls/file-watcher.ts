import { stat } from "node:fs/promises";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";

/**
 * Polls a set of files and calls `onChange` when any of them changed (modification time, size or
 * inode). Polling rather than fs.watch: Kubernetes updates a mounted Secret by swapping a `..data`
 * symlink, which inotify on the file's own path does not report, and polling works the same on
 * every filesystem. stat() follows the symlink, so the swap is seen at the next poll.
 */
export class FileWatcher {
  private timer: NodeJS.Timeout | undefined;
  private signature = "";
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly paths: readonly string[],
    private readonly intervalMs: number,
    private readonly onChange: () => void | Promise<void>,
    private readonly log: Logger,
  ) {}

  /** Records the files' current state and starts polling. Idempotent. */
  async start(): Promise<void> {
    if (this.timer !== undefined) return;
    this.signature = await this.currentSignature();
    this.timer = setInterval(() => void this.poll(), this.intervalMs).unref();
  }

  /** Stops polling; idempotent and safe without start(). */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * One poll: calls onChange when the signature moved. Polls run one after another (a call during a
   * poll waits for it, then polls again). Its own errors are logged, never thrown.
   */
  poll(): Promise<void> {
    this.tail = this.tail.then(() => this.pollOnce());
    return this.tail;
  }

  private async pollOnce(): Promise<void> {
    try {
      const next = await this.currentSignature();
      if (next === this.signature) return;
      this.signature = next;
      await this.onChange();
    } catch (err) {
      this.log.warn(
        { files: this.paths, err: errorMessage(err) },
        "reloading changed files failed; keeping the previous ones",
      );
    }
  }

  private async currentSignature(): Promise<string> {
    const parts = await Promise.all(
      this.paths.map(async (path) => {
        try {
          const info = await stat(path);
          return `${info.mtimeMs}:${info.size}:${info.ino}`;
        } catch {
          return "missing";
        }
      }),
    );
    return parts.join("|");
  }
}
