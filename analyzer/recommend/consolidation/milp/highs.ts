/**
 * The `highs` MILP solver (HiGHS, University of Edinburgh, compiled to WebAssembly by
 * lovasoa/highs-js; MIT), loaded once per caller. Its typings describe a CommonJS module while
 * Node's ESM import resolves its .mjs build, so the loader function sits at the namespace, at
 * `default`, or at `default.default`: accept any. Loading compiles ~3.5 MB of WebAssembly (tens of
 * milliseconds); a solve then blocks its thread, which is why the analyzer plans on a worker thread
 * (planner-thread.ts).
 */
import * as highsModule from "highs";
import type { Highs, InitOptions } from "highs";

type LoadHighs = (options?: InitOptions) => Promise<Highs>;

function isLoader(candidate: unknown): candidate is LoadHighs {
  return typeof candidate === "function";
}

function field(value: unknown, name: string): unknown {
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return undefined;
  const found: unknown = Reflect.get(value, name);
  return found;
}

/** Loads a fresh HiGHS instance. Throws when the package exports no loader (a broken install). */
export async function loadHighs(options?: InitOptions): Promise<Highs> {
  const candidates: unknown[] = [
    highsModule,
    field(highsModule, "default"),
    field(field(highsModule, "default"), "default"),
  ];
  const loader = candidates.find(isLoader);
  if (loader === undefined) throw new Error("highs: the package exports no loader function");
  return loader(options);
}
