/**
 * JSON.stringify in slices: a 10,000-GPU snapshot is 5 MB of JSON, 50–70 ms of one synchronous
 * call, long enough to hold /healthz and /metrics back. Here large arrays are written element by
 * element and the writer yields to the event loop whenever it has run for `sliceMs`, so no request
 * waits longer than a slice. The text is JSON.stringify's for plain data (objects, arrays, strings,
 * numbers, booleans, null; undefined and function members left out of objects and written null in
 * arrays; non-finite numbers null; values with toJSON written as JSON.stringify writes them).
 */
import { setImmediate as yieldToLoop } from "node:timers/promises";

/** Arrays at least this long are written element by element. */
const LARGE_ARRAY = 64;
/** Objects are taken apart this deep at most; below, subtrees go to JSON.stringify whole. */
const MAX_DEPTH = 4;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && typeof (value as { toJSON?: unknown }).toJSON !== "function";
}

/** The JSON text of `value`, built in slices of at most about `sliceMs` of work between yields. */
export async function stringifyInSlices(value: unknown, sliceMs = 8): Promise<string> {
  const parts: string[] = [];
  let sliceStart = performance.now();
  const pause = async (): Promise<void> => {
    if (performance.now() - sliceStart < sliceMs) return;
    await yieldToLoop();
    sliceStart = performance.now();
  };
  const write = async (item: unknown, depth: number): Promise<void> => {
    if (Array.isArray(item) && item.length >= LARGE_ARRAY) {
      parts.push("[");
      for (let i = 0; i < item.length; i++) {
        if (i > 0) parts.push(",");
        await write(item[i], depth + 1);
        if ((i & 15) === 15) await pause();
      }
      parts.push("]");
      return;
    }
    if (isPlainObject(item) && depth < MAX_DEPTH) {
      parts.push("{");
      let isFirst = true;
      for (const key of Object.keys(item)) {
        const member = item[key];
        if (member === undefined || typeof member === "function" || typeof member === "symbol") continue;
        parts.push(`${isFirst ? "" : ","}${JSON.stringify(key)}:`);
        isFirst = false;
        await write(member, depth + 1);
      }
      parts.push("}");
      return;
    }
    // undefined and functions: only in arrays or at the top here (object members were skipped above).
    parts.push(JSON.stringify(item) ?? "null");
  };
  await write(value, 0);
  return parts.join("");
}
