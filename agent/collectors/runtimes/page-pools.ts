import { createPageAgents, type PageAgents } from "./fetch-page.js";

/**
 * One keep-alive socket pool per runtime target. A pool holds one socket at a time, so a target
 * never has two scrapes in flight, and targets never share one: a target that hangs holds only its
 * own socket until its deadline, and the other targets on the same host:port (several pages of one
 * pod, or one runtime's metrics port behind several paths) go on being scraped. A shared per-origin
 * pool of one socket would queue them behind the hung one.
 */
export class PagePools {
  private readonly pools = new Map<string, PageAgents>();
  private isClosed = false;

  /** The pool of `url`, created on first use; undefined once destroyed. */
  forTarget(url: string): PageAgents | undefined {
    if (this.isClosed) return undefined;
    let pool = this.pools.get(url);
    if (pool === undefined) this.pools.set(url, (pool = createPageAgents()));
    return pool;
  }

  /** Closes the pools of targets not in `urls` (pods that went away). */
  retain(urls: ReadonlySet<string>): void {
    for (const [url, pool] of this.pools) {
      if (urls.has(url)) continue;
      pool.destroy();
      this.pools.delete(url);
    }
  }

  /** Number of pools held (one per current target). */
  get size(): number {
    return this.pools.size;
  }

  /** Closes every pool; later forTarget() calls return undefined. Idempotent. */
  destroy(): void {
    this.isClosed = true;
    for (const pool of this.pools.values()) pool.destroy();
    this.pools.clear();
  }
}
