/**
 * Seeded randomness for the simulator: a small, fast PRNG and hash-derived seeds, so every stream
 * (one replica's requests in one 5-minute step, one GPU's jitter in one 5-second slot) is a pure
 * function of the scenario seed and its own key, whatever order the streams are drawn in.
 */

/** A uniform draw in [0, 1). */
export type Random = () => number;

const UINT32 = 0x1_0000_0000;

/**
 * mulberry32: 32-bit state, passes PractRand to 2^32 outputs, a handful of integer operations per
 * draw (https://gist.github.com/tommyettinger/46a874533244883189143505d203312c). Plenty for traffic
 * shapes; not for cryptography.
 */
export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / UINT32;
  };
}

/**
 * A 32-bit seed from any key parts: FNV-1a over the parts' text, then MurmurHash3's fmix32 so that
 * keys differing in one character give unrelated seeds (http://www.isthe.com/chongo/tech/comp/fnv/,
 * https://github.com/aappleby/smhasher/blob/master/src/MurmurHash3.cpp).
 */
export function hashSeed(...parts: readonly (string | number)[]): number {
  let hash = 0x811c9dc5;
  for (const part of parts) {
    const text = `${String(part)}\u0001`;
    for (let i = 0; i < text.length; i++) {
      hash ^= text.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
  }
  return fmix32(hash);
}

/** MurmurHash3's 32-bit finalizer (fmix32). */
function fmix32(value: number): number {
  let hash = value;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** A uniform value in [0, 1) determined by a seed and an integer (a time slot): no strings, no stream. */
export function uniformAt(seed: number, n: number): number {
  return fmix32(seed ^ Math.imul(n >>> 0, 0x9e3779b1) ^ Math.imul(Math.floor(n / UINT32) >>> 0, 0x85ebca77)) / UINT32;
}

/** A standard normal draw (Box–Muller; uses two uniforms). */
export function normal(random: Random): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** An exponential draw with the given mean (inverse transform). */
export function exponential(random: Random, mean: number): number {
  return -Math.log(1 - random()) * mean;
}

/**
 * A log-normal draw with the given arithmetic mean and log-space sigma: μ = ln(mean) − σ²/2 makes
 * E[X] = mean (https://en.wikipedia.org/wiki/Log-normal_distribution#Arithmetic_moments).
 */
export function logNormal(random: Random, mean: number, sigma: number): number {
  return Math.exp(Math.log(mean) - (sigma * sigma) / 2 + sigma * normal(random));
}

/**
 * A Poisson draw: Knuth's multiplication method below a mean of 30, a rounded normal approximation
 * above it (error well under the sampling noise at that size).
 */
export function poisson(random: Random, mean: number): number {
  if (!(mean > 0)) return 0;
  if (mean >= 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal(random)));
  const limit = Math.exp(-mean);
  let count = 0;
  let product = random();
  while (product > limit) {
    count++;
    product *= random();
  }
  return count;
}

/** `digits` lowercase hex characters drawn from `random` (trace and span ids). */
export function hexId(random: Random, digits: number): string {
  let text = "";
  while (text.length < digits)
    text += Math.floor(random() * UINT32)
      .toString(16)
      .padStart(8, "0");
  return text.slice(0, digits);
}
