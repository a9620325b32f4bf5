import { describe, expect, it } from "vitest";
import {
  createRandom,
  exponential,
  hashSeed,
  hexId,
  logNormal,
  poisson,
  uniformAt,
} from "../../../cli/simulate/random.js";

function mean(n: number, draw: () => number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += draw();
  return sum / n;
}

describe("seeded randomness", () => {
  it("repeats a stream for a seed and differs for another", () => {
    const take = (seed: number) => Array.from({ length: 5 }, createRandom(seed));
    expect(take(1)).toEqual(take(1));
    expect(take(1)).not.toEqual(take(2));
    expect(take(1).every((value) => value >= 0 && value < 1)).toBe(true);
  });

  it("derives unrelated seeds from keys that differ in one character", () => {
    expect(hashSeed(1, "gpu-a", 0)).toBe(hashSeed(1, "gpu-a", 0));
    expect(hashSeed(1, "gpu-a", 0)).not.toBe(hashSeed(1, "gpu-b", 0));
    expect(hashSeed(1, "ab", "c")).not.toBe(hashSeed(1, "a", "bc"));
  });

  it("gives a stateless uniform per (seed, slot), spread evenly over [0, 1)", () => {
    const slot = 345_000_000;
    expect(uniformAt(9, slot)).toBe(uniformAt(9, slot));
    expect(uniformAt(9, slot)).not.toBe(uniformAt(9, slot + 1));
    expect(uniformAt(9, slot)).not.toBe(uniformAt(10, slot));
    const values = Array.from({ length: 20_000 }, (_, i) => uniformAt(9, slot + i));
    expect(values.every((value) => value >= 0 && value < 1)).toBe(true);
    expect(mean(values.length, () => values.pop() as number)).toBeCloseTo(0.5, 2);
  });

  it.each([
    ["exponential", (r: () => number) => exponential(r, 0.5), 0.5],
    ["log-normal with its arithmetic mean", (r: () => number) => logNormal(r, 40, 0.5), 40],
    ["Poisson below 30 (Knuth)", (r: () => number) => poisson(r, 3.5), 3.5],
    ["Poisson above 30 (normal approximation)", (r: () => number) => poisson(r, 120), 120],
  ] as const)("draws %s around the requested mean", (_name, draw, expected) => {
    const random = createRandom(42);
    expect(mean(50_000, () => draw(random)) / expected).toBeCloseTo(1, 1);
  });

  it("writes ids as lowercase hex of the asked length", () => {
    const random = createRandom(3);
    expect(hexId(random, 32)).toMatch(/^[0-9a-f]{32}$/);
    expect(hexId(random, 16)).toMatch(/^[0-9a-f]{16}$/);
  });
});
