/**
 * The `highs` solver (a test and benchmark oracle, never used by the product), loaded once per call.
 * Its typings describe a CommonJS module while Node's ESM import resolves its .mjs build, so the
 * loader function sits at the namespace, at `default`, or at `default.default`: accept any.
 */
import * as highsModule from "highs";
import type { Highs, InitOptions } from "highs";

type LoadHighs = (options?: InitOptions) => Promise<Highs>;

/** Loads a fresh HiGHS instance. */
export async function loadHighs(options?: InitOptions): Promise<Highs> {
  const candidates: unknown[] = [highsModule, (highsModule as { default?: unknown }).default, ((highsModule as { default?: { default?: unknown } }).default ?? {}).default];
  const loader = candidates.find((c): c is LoadHighs => typeof c === "function");
  if (loader === undefined) throw new Error("highs: no loader function exported");
  return loader(options);
}
