/**
 * Lower bounds from dual feasible functions (DFFs), for the GPUs one class needs after any plan.
 *
 * A function u: [0, 1] → [0, 1] is dual feasible when Σ x_i ≤ 1 implies Σ u(x_i) ≤ 1; then
 * ⌈Σ u(x_i)⌉ bounds the bins a packing needs (Fekete & Schepers, "New classes of fast lower bounds for
 * bin packing problems", Mathematical Programming 91 (2001) 11–31). Two families from that paper, and
 * their compositions (a DFF of a DFF is a DFF):
 * - u^(k)(x) = x when (k+1)·x is an integer, else ⌊(k+1)·x⌋ / k (k ≥ 1): rounds items up to
 *   multiples of 1/k when no k+1 of them fit, which sees the space that sizes like 14 + 10 GiB on a
 *   21.6 GiB GPU waste and the volume bound L1 does not;
 * - U^(ε)(x) = 1 when x > 1 − ε, x when ε ≤ x ≤ 1 − ε, 0 when x < ε (ε ≤ 1/2): the idea of L2.
 * Two resources: a GPU that receives a replica keeps memory and compute under their limits, so for
 * DFFs u and v and 0 ≤ λ ≤ 1, λ·u(memory share) + (1 − λ)·v(compute share) is dual feasible for it
 * too; this sees GPUs that are full in one resource and idle in the other.
 *
 * GPUs already over a limit may stay over it while nothing arrives (the plan checks destinations
 * only). Any GPU in use after a plan either received something (then it is within both limits: its
 * w-sum ≤ 1 for every w above) or received nothing (it holds a subset of what it holds now: its w-sum
 * is at most W_g, its w-sum today, as w ≥ 0). So Σ_items w ≤ Σ_{in use after} max(1, W_g) ≤
 * GPUs in use after + Σ_g max(0, W_g − 1), i.e. GPUs in use after ≥ ⌈Σ w − Σ_g max(0, W_g − 1)⌉.
 * With w = identity this is the volume bound with the excess subtracted (bounds.ts `resourceBounds`).
 *
 * Items: a replica's memory and compute share on each GPU it holds (a tensor-parallel replica is t
 * items, a relaxation, see bounds.ts) and each GPU's baseline. Shares are divided by the limit the
 * planner enforces on a destination (for compute the ceiling plus its rounding slack, the caller's
 * job) and then shrunk by a relative 1e-6, so that sums of floats a hair over 1 do not make a
 * feasible GPU look infeasible: shrinking items only weakens the bound, never overstates it.
 */

/** One item: its GPU (index into the class's GPUs) and its shares of the memory and compute limits. */
export interface DffItems {
  readonly gpuOf: Int32Array;
  readonly memory: Float64Array;
  readonly compute: Float64Array;
  readonly gpuCount: number;
}

/** The best bound found and the function that gave it (for the plan's explanation). */
export interface DffBound {
  readonly bound: number;
  readonly witness: string;
}

type Dff = (x: number) => number;

/** Relative shrink applied to every share (see the module comment). */
const SHRINK = 1e-6;
/** Largest k of u^(k) tried on memory (few distinct sizes: cheap) and on compute. */
const MAX_K_MEMORY = 24;
const MAX_K_COMPUTE = 12;
/** ε of U^(ε) tried for compute (shares are continuous); memory uses its distinct item sizes. */
const COMPUTE_EPSILONS = [0.1, 0.2, 0.25, 0.3, 0.4, 0.5] as const;
/** Distinct memory sizes used as ε at most (the smallest ones ≤ 1/2, where L2 gains most). */
const MAX_MEMORY_EPSILONS = 12;
/** Mixing weights λ tried for two resources, and the best one-resource functions mixed. */
const LAMBDAS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] as const;
const MIXED_PER_RESOURCE = 2;
/** Resources are mixed when the weaker one-resource bound is at least this share of the stronger. */
const MIX_WHEN_WITHIN = 0.85;

/**
 * Fekete–Schepers u^(k). At a step ((k+1)·x an integer j) the value is x, less than j/k; floating
 * point can put x a hair to either side, so within 1e-9 at or above a step the value is x (at most
 * the true j/k there) and just below it ⌊(k+1)·x⌋/k, the true value: never more than u^(k) itself.
 */
export function roundingDff(k: number): Dff {
  return (x) => {
    const y = (k + 1) * x;
    const nearest = Math.round(y);
    if (y >= nearest && y - nearest < 1e-9) return Math.min(x, nearest / k);
    return Math.floor(y) / k;
  };
}

/** Fekete–Schepers U^(ε), 0 ≤ ε ≤ 1/2. */
export function thresholdDff(epsilon: number): Dff {
  return (x) => (x > 1 - epsilon ? 1 : x < epsilon ? 0 : x);
}

/** Shares of a limit: value ÷ limit, clamped to [0, 1] and shrunk (see the module comment). */
export function toShares(values: readonly number[], limit: number): Float64Array {
  const out = new Float64Array(values.length);
  if (limit > 0)
    for (let i = 0; i < values.length; i++) out[i] = Math.min(1, Math.max(0, (values[i] ?? 0) / limit)) * (1 - SHRINK);
  return out;
}

/**
 * ⌈total − excess⌉ with a slack relative to the total: summing thousands of floats can err by more
 * than an absolute 1e-9, and an exact integer must not round up to the next one.
 */
function ceilBound(total: number, excess: number): number {
  return Math.max(0, Math.ceil(total - excess - 1e-9 * Math.max(1, total)));
}

/** ⌈Σ w − Σ_g max(0, W_g − 1)⌉ for the item values w (see the module comment). */
function evaluate(items: DffItems, w: Float64Array, perGpu: Float64Array): number {
  perGpu.fill(0);
  let total = 0;
  const n = items.gpuOf.length;
  for (let i = 0; i < n; i++) {
    const value = w[i] ?? 0;
    const g = items.gpuOf[i] ?? 0;
    total += value;
    perGpu[g] = (perGpu[g] ?? 0) + value;
  }
  let excess = 0;
  for (let g = 0; g < items.gpuCount; g++) if ((perGpu[g] ?? 0) > 1) excess += (perGpu[g] ?? 0) - 1;
  return ceilBound(total, excess);
}

/** The functions tried on one resource: identity, u^(k), U^(ε), and (when `isComposed`) u^(k) after U^(ε). */
function family(epsilons: readonly number[], maxK: number, isComposed: boolean): { name: string; f: Dff }[] {
  const out: { name: string; f: Dff }[] = [{ name: "identity", f: (x) => x }];
  const roundings = Array.from({ length: maxK }, (_, i) => ({ k: i + 1, f: roundingDff(i + 1) }));
  for (const { k, f } of roundings) out.push({ name: `u^(${k})`, f });
  for (const epsilon of epsilons) {
    const threshold = thresholdDff(epsilon);
    out.push({ name: `U^(${epsilon.toFixed(3)})`, f: threshold });
    if (isComposed)
      for (const { k, f } of roundings)
        out.push({ name: `u^(${k})∘U^(${epsilon.toFixed(3)})`, f: (x) => f(threshold(x)) });
  }
  return out;
}

/** Distinct memory shares ≤ 1/2, smallest first, at most MAX_MEMORY_EPSILONS of them. */
function memoryEpsilons(shares: Float64Array): number[] {
  const distinct = [...new Set(shares)].filter((x) => x > 0 && x <= 0.5).sort((a, b) => a - b);
  return distinct.slice(0, MAX_MEMORY_EPSILONS);
}

/** f of every share (a plain loop: `Float64Array.from` with a map function is slow in V8). */
function mapShares(shares: Float64Array, f: Dff): Float64Array {
  const out = new Float64Array(shares.length);
  for (let i = 0; i < shares.length; i++) out[i] = f(shares[i] ?? 0);
  return out;
}

/**
 * Each memory function's bound, best first. Memory shares take a few values (replica sizes are
 * few), so GPUs are grouped by the multiset of sizes they hold and each function is evaluated once
 * per distinct size and once per group: cheap however many functions are tried.
 */
function scoreMemory(
  items: DffItems,
  fs: readonly { name: string; f: Dff }[],
): { name: string; f: Dff; bound: number }[] {
  const sizeIndex = new Map<number, number>();
  const totals: number[] = [];
  const held: number[][] = Array.from({ length: items.gpuCount }, () => []);
  items.memory.forEach((x, i) => {
    let d = sizeIndex.get(x);
    if (d === undefined) sizeIndex.set(x, (d = sizeIndex.size));
    totals[d] = (totals[d] ?? 0) + 1;
    (held[items.gpuOf[i] ?? 0] ?? []).push(d);
  });
  const groups = new Map<string, { sizes: number[]; count: number }>();
  for (const sizes of held) {
    if (sizes.length < 2) continue; // one item never sums over 1
    sizes.sort((a, b) => a - b);
    const key = sizes.join(",");
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { sizes, count: 1 });
    else group.count++;
  }
  const distinct = [...sizeIndex.keys()];
  return fs
    .map(({ name, f }) => {
      const valueOf = distinct.map(f);
      let total = 0;
      totals.forEach((count, d) => (total += count * (valueOf[d] ?? 0)));
      let excess = 0;
      for (const { sizes, count } of groups.values()) {
        let sum = 0;
        for (const d of sizes) sum += valueOf[d] ?? 0;
        if (sum > 1) excess += count * (sum - 1);
      }
      return { name, f, bound: ceilBound(total, excess) };
    })
    .sort((a, b) => b.bound - a.bound);
}

/**
 * The best dual-feasible-function bound for one class: each function of the families above on
 * memory alone and on compute alone, then the best few of each mixed with weights λ. Sound when
 * GPUs over a limit keep their load (module comment). Pure; O(functions × items).
 */
export function dualFeasibleBound(items: DffItems): DffBound {
  if (items.gpuOf.length === 0) return { bound: 0, witness: "no items" };
  const perGpu = new Float64Array(items.gpuCount);
  const memory = scoreMemory(items, family(memoryEpsilons(items.memory), MAX_K_MEMORY, true));
  const compute = family(COMPUTE_EPSILONS, MAX_K_COMPUTE, false)
    .map(({ name, f }) => {
      const values = mapShares(items.compute, f);
      return { name, values, bound: evaluate(items, values, perGpu) };
    })
    .sort((a, b) => b.bound - a.bound);
  let best: DffBound = { bound: 0, witness: "none" };
  const consider = (bound: number, witness: string): void => {
    if (bound > best.bound) best = { bound, witness };
  };
  if (memory[0] !== undefined) consider(memory[0].bound, `memory ${memory[0].name}`);
  if (compute[0] !== undefined) consider(compute[0].bound, `compute ${compute[0].name}`);
  // Mixing pays only when both resources bind about equally; elsewhere the better one alone decides.
  const isBalanced =
    memory[0] !== undefined &&
    compute[0] !== undefined &&
    Math.min(memory[0].bound, compute[0].bound) >= MIX_WHEN_WITHIN * Math.max(memory[0].bound, compute[0].bound);
  if (!isBalanced) return best;
  const mixed = new Float64Array(items.gpuOf.length);
  for (const m of memory
    .slice(0, MIXED_PER_RESOURCE)
    .map((x) => ({ name: x.name, values: mapShares(items.memory, x.f) }))) {
    for (const c of compute.slice(0, MIXED_PER_RESOURCE)) {
      for (const lambda of LAMBDAS) {
        for (let i = 0; i < mixed.length; i++)
          mixed[i] = lambda * (m.values[i] ?? 0) + (1 - lambda) * (c.values[i] ?? 0);
        consider(
          evaluate(items, mixed, perGpu),
          `${lambda}·memory ${m.name} + ${(1 - lambda).toFixed(1)}·compute ${c.name}`,
        );
      }
    }
  }
  return best;
}
