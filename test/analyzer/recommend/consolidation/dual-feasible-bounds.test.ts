import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { consolidationBounds } from "../../../../analyzer/recommend/consolidation/index.js";
import { parseConsolidationConfig } from "../../../../analyzer/recommend/constraints.js";
import {
  dualFeasibleBound,
  roundingDff,
  thresholdDff,
  toShares,
  type DffItems,
} from "../../../../analyzer/recommend/consolidation/dual-feasible-bounds.js";
import { GIB, fleet, node, replica } from "../../../fixtures/fleets.js";

/** Items on GPUs: [gpu, memory share, compute share] triples (shares of the limits, not shrunk). */
function items(gpuCount: number, triples: readonly (readonly [number, number, number])[]): DffItems {
  return {
    gpuOf: Int32Array.from(triples, (t) => t[0]),
    memory: toShares(
      triples.map((t) => t[1]),
      1,
    ),
    compute: toShares(
      triples.map((t) => t[2]),
      1,
    ),
    gpuCount,
  };
}

/**
 * The fewest GPUs after any plan, by exhaustive search over partitions of the items into GPUs:
 * a GPU's final content is either within both limits (it may have received items) or a subset of
 * what one GPU holds now (it received nothing and may stay over a limit), each GPU used once.
 */
function optimumWithKeptGpus(triples: readonly (readonly [number, number, number])[]): number {
  const n = triples.length;
  const original = new Map<number, Set<number>>();
  triples.forEach(([g], i) => original.set(g, (original.get(g) ?? new Set()).add(i)));
  const fits = (block: readonly number[]): boolean => {
    let m = 0;
    let c = 0;
    for (const i of block) {
      m += (triples[i] as readonly [number, number, number])[1];
      c += (triples[i] as readonly [number, number, number])[2];
    }
    return m <= 1 + 1e-12 && c <= 1 + 1e-12;
  };
  /** GPUs a block can stay on unchanged: those holding every item of it now. */
  const keepers = (block: readonly number[]): number[] =>
    [...original.entries()].filter(([, held]) => block.every((i) => held.has(i))).map(([g]) => g);
  let best = n;
  const blocks: number[][] = [];
  const search = (i: number): void => {
    if (blocks.length >= best) return;
    if (i === n) {
      // Blocks over a limit need distinct GPUs that hold them now (a matching; tiny, so brute force).
      const over = blocks.filter((b) => !fits(b));
      const assign = (k: number, used: Set<number>): boolean =>
        k === over.length ||
        keepers(over[k] as number[]).some((g) => !used.has(g) && assign(k + 1, new Set(used).add(g)));
      if (assign(0, new Set())) best = blocks.length;
      return;
    }
    for (const block of blocks) {
      block.push(i);
      search(i + 1);
      block.pop();
    }
    blocks.push([i]);
    search(i + 1);
    blocks.pop();
  };
  search(0);
  return best;
}

describe("dual feasible functions (Fekete & Schepers 2001)", () => {
  const functions = [
    ...Array.from({ length: 24 }, (_, i) => ({ name: `u^(${i + 1})`, f: roundingDff(i + 1) })),
    ...[0, 0.1, 0.25, 0.37, 0.5].map((e) => ({ name: `U^(${e})`, f: thresholdDff(e) })),
    { name: "u^(3)∘U^(0.3)", f: (x: number) => roundingDff(3)(thresholdDff(0.3)(x)) },
  ];

  it.each(functions)("$name maps any set of items that fits one bin to values summing to at most 1", ({ f }) => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 8 }), (raw) => {
        const total = raw.reduce((a, b) => a + b, 0);
        const xs = total > 1 - 1e-9 ? raw.map((x) => (x / total) * (1 - 2e-9)) : raw;
        // Only sets that surely fit: a float sum of 1 may stand for a real sum a hair over 1 (0.5 and
        // the next double above it), which the functions may rightly value above 1; the bounds never
        // meet such sets, as every share is shrunk by 1e-6 first.
        fc.pre(xs.reduce((a, b) => a + b, 0) <= 1 - 1e-9);
        expect(xs.reduce((a, x) => a + f(x), 0)).toBeLessThanOrEqual(1 + 1e-9);
      }),
      { numRuns: 300 },
    );
  });

  it("u^(k) at a step is the item itself, never the rounded-up value: three items of exactly 1/3 fit and sum to 1", () => {
    const third = 1 / 3;
    expect(3 * roundingDff(2)(third)).toBeLessThanOrEqual(1 + 1e-12);
  });

  it("u^(k) a hair below a step takes the value below the step, not the item: 0.25 − ε twice and 0.5 + 2ε fit one bin", () => {
    const u3 = roundingDff(3);
    const items = [0.249999999775, 0.249999999775, 0.500000000375];
    expect(items.reduce((a, x) => a + x, 0)).toBeLessThanOrEqual(1);
    expect(u3(0.249999999775)).toBe(0);
    expect(items.reduce((a, x) => a + u3(x), 0)).toBeLessThanOrEqual(1);
  });

  it.each([
    [2, 1 / 3 - 1e-12],
    [2, 1 / 3 + 1e-12],
    [3, 0.5 - 3e-10],
    [3, 0.5 + 3e-10],
    [5, 2 / 6 - 1e-11],
  ])("u^(%i)(%f) never exceeds the exact ⌊(k+1)x⌋/k, nor x at an exact step", (k, x) => {
    const y = (k + 1) * x;
    const exact = Number.isInteger(y) ? x : Math.floor(y) / k;
    expect(roundingDff(k)(x)).toBeLessThanOrEqual(exact + 1e-15);
  });
});

describe("the dual-feasible-function bound of one class", () => {
  it("sees what L1 and L2 miss: 14 GiB and 8 GiB replicas on L4s (21.6 GiB usable) never share with a 14, three 8s never fit", () => {
    const n = 10;
    const snapshot = fleet({
      nodes: [node({ name: "l", type: "l4", gpus: 3 * n })],
      replicas: [
        ...Array.from({ length: n }, (_, i) =>
          replica({ id: `big-${i}`, node: "l", gpus: [`GPU-l-${i}`], memoryPerGpuBytes: 14 * GIB, tier: "batch" }),
        ),
        ...Array.from({ length: 2 * n }, (_, i) =>
          replica({ id: `small-${i}`, node: "l", gpus: [`GPU-l-${n + i}`], memoryPerGpuBytes: 8 * GIB, tier: "batch" }),
        ),
      ],
    });
    const [l4] = consolidationBounds(snapshot, parseConsolidationConfig({}));
    // The optimum: each 14 alone (14 + 8 = 22 > 21.6), the 8s in pairs (8 + 8 + 8 = 24 > 21.6): 2n.
    expect(l4).toMatchObject({ memoryL1: Math.ceil((14 * n + 16 * n) / 21.6), dualFeasible: 2 * n, bound: 2 * n });
    expect(l4?.memoryL2).toBeLessThan(2 * n);
  });

  it("a GPU over its memory headroom that can stay as it is counts once, not by the space its items would need elsewhere", () => {
    // Three 8 GiB replicas on one L4 (24 GiB > 21.6 usable): elsewhere they would need two GPUs.
    const snapshot = fleet({
      nodes: [node({ name: "l", type: "l4", gpus: 2 })],
      replicas: Array.from({ length: 3 }, (_, i) =>
        replica({ id: `r-${i}`, node: "l", gpus: ["GPU-l-0"], memoryPerGpuBytes: 8 * GIB, tier: "batch" }),
      ),
    });
    const [l4] = consolidationBounds(snapshot, parseConsolidationConfig({}));
    expect(l4).toMatchObject({ gpusOverMemory: 1, dualFeasible: 1, bound: 1 });
  });

  it("mixes memory and compute when both bind: a GPU full of memory and one full of compute cannot help each other", () => {
    // GPU 0 holds 1.4 limits of memory and no compute, GPU 1 the reverse; both may stay as they are.
    // Four more items fill half of both limits each. Memory alone or compute alone: ⌈1.4 − 0.4 + 1.8⌉
    // = 3 (the excess of the full GPU is subtracted). Memory and compute at ½ each: the full GPUs sum
    // to 0.7 each, no excess, ⌈3.2⌉ = 4 — the optimum (keep both, pair the rest; or pair a memory item
    // with a compute item, which leaves no room for the rest).
    const triples: [number, number, number][] = [
      [0, 0.7, 0],
      [0, 0.7, 0],
      [1, 0, 0.7],
      [1, 0, 0.7],
      [2, 0.45, 0.45],
      [3, 0.45, 0.45],
      [4, 0.45, 0.45],
      [5, 0.45, 0.45],
    ];
    const result = dualFeasibleBound(items(6, triples));
    expect(result.bound).toBe(4);
    expect(result.witness).toMatch(/memory .* \+ .*compute/);
    expect(optimumWithKeptGpus(triples)).toBe(4);
  });

  it("never exceeds the optimum on random GPUs, some over a limit (exhaustive search over ≤ 7 items)", () => {
    const triple = fc.tuple(
      fc.integer({ min: 0, max: 3 }),
      fc.double({ min: 0.02, max: 0.9, noNaN: true }),
      fc.double({ min: 0, max: 0.9, noNaN: true }),
    );
    fc.assert(
      fc.property(fc.array(triple, { minLength: 1, maxLength: 7 }), (raw) => {
        const triples = raw.map(([g, m, c]) => [g, m, c] as const);
        expect(dualFeasibleBound(items(4, triples)).bound).toBeLessThanOrEqual(optimumWithKeptGpus(triples));
      }),
      { numRuns: 150 },
    );
  });
});
