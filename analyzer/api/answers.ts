/**
 * The JSON answers of the analyzer's API, built from its state once per evaluation and served as
 * the same bytes until the next one: a request never serialises a 10,000-GPU snapshot again, so
 * /healthz, /metrics and the API answer in the time it takes to write a buffer.
 *
 * Every answer says how fresh it is: `evaluatedAt` (the instant its data describes), `stale` (the
 * part's last run failed and this is an older answer), `error` (why, with causes) and `partial`
 * (the store flagged an answer behind it as partial: Thanos/Mimir warnings).
 */
import type { PartStatus } from "../evaluation/part.js";
import { stringifyInSlices } from "./json-slices.js";

/** Freshness of an answer built from one or more evaluation parts. */
export interface Freshness {
  readonly evaluatedAt: string | null;
  readonly stale: boolean;
  readonly error: string | null;
  readonly partial: boolean;
}

/**
 * Freshness of the parts named, the first being the answer's own: its time is the first part's,
 * it is stale when any of them is, its error the first one found.
 */
export function freshnessOf(parts: readonly PartStatus[], names: readonly string[]): Freshness {
  const selected = names
    .map((name) => parts.find((part) => part.name === name))
    .filter((part): part is PartStatus => part !== undefined);
  const own = selected[0];
  return {
    evaluatedAt: own?.atMs === null || own?.atMs === undefined ? null : new Date(own.atMs).toISOString(),
    stale: selected.some((part) => part.isStale),
    error: selected.find((part) => part.error !== null)?.error ?? null,
    partial: selected.some((part) => part.isPartial),
  };
}

/** JSON bodies kept per key until the state they were built from changes. */
export class AnswerCache {
  private version: unknown;
  private readonly bodies = new Map<string, Buffer>();

  /** The body for `key` built from the state `version` (compared by identity), built by `build` at most once per version. */
  get(key: string, version: unknown, build: () => unknown): Buffer {
    this.switchTo(version);
    let body = this.bodies.get(key);
    if (body === undefined) {
      body = Buffer.from(JSON.stringify(build()) ?? "null");
      this.bodies.set(key, body);
    }
    return body;
  }

  /**
   * Builds the bodies of a new state ahead of the requests, in slices that yield to the event loop
   * (json-slices.ts), so that no request pays for serialising a large answer. A body a request
   * built meanwhile is kept; a newer state arriving meanwhile wins.
   */
  async prepare(version: unknown, builders: Readonly<Record<string, () => unknown>>): Promise<void> {
    this.switchTo(version);
    for (const [key, build] of Object.entries(builders)) {
      if (this.bodies.has(key)) continue;
      const text = await stringifyInSlices(build());
      if (this.version !== version) return;
      if (!this.bodies.has(key)) this.bodies.set(key, Buffer.from(text));
    }
  }

  private switchTo(version: unknown): void {
    if (version === this.version) return;
    this.bodies.clear();
    this.version = version;
  }
}
