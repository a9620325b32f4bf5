/**
 * The sliced serialiser writes what JSON.stringify writes, for any JSON value and for the plain-data
 * quirks the API's state has (undefined members, undefined in arrays, Dates, non-finite numbers,
 * large nested arrays), and lets the event loop run while it writes a large answer.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringifyInSlices } from "../../../analyzer/api/json-slices.js";

describe("stringifyInSlices", () => {
  it("writes exactly what JSON.stringify writes for any JSON value", async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        expect(await stringifyInSlices(value)).toBe(JSON.stringify(value));
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    ["undefined and function members are left out", { a: 1, b: undefined, c: () => 1, d: [1, undefined, () => 2] }],
    ["non-finite numbers are null", { a: NaN, b: [Infinity, -Infinity] }],
    [
      "a Date goes through its toJSON",
      { at: new Date(1_700_000_000_000), list: Array.from({ length: 70 }, (_, i) => new Date(i)) },
    ],
    [
      "large arrays nested in objects nested in large arrays",
      {
        nodes: Array.from({ length: 200 }, (_, i) => ({
          name: `n${i}`,
          gpus: Array.from({ length: 80 }, (_, g) => ({ uuid: `GPU-${i}-${g}`, ratio: g / 80, mig: undefined })),
        })),
      },
    ],
    [
      "null, strings with quotes and line breaks, empty containers",
      { a: null, b: 'q"uote\nline', c: [], d: {}, e: [[], [{}]] },
    ],
    ["a top-level array of undefined", Array.from({ length: 100 }, () => undefined)],
  ])("%s", async (_what, value) => {
    expect(await stringifyInSlices(value)).toBe(JSON.stringify(value));
  });

  it("yields to the event loop while it writes a large answer", async () => {
    const value = {
      rows: Array.from({ length: 200_000 }, (_, i) => ({
        id: i,
        labels: { node: `node-${i % 1250}`, uuid: `GPU-${i}` },
        value: i / 7,
      })),
    };
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const text = await stringifyInSlices(value, 2);
    clearInterval(timer);
    expect(text).toBe(JSON.stringify(value));
    expect(ticks).toBeGreaterThan(0);
  });
});
