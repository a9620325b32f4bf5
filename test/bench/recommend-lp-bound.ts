/**
 * A stronger lower bound on the GPUs consolidation can leave in use: the LP relaxation of the
 * configuration model (Gilmore & Gomory, "A linear programming approach to the cutting-stock
 * problem", Operations Research 9(6), 1961) in two dimensions, memory and compute, solved by column
 * generation with `highs`. L1/L2 (analyzer/recommend/consolidation/bounds.ts) look at one resource at a time and
 * ignore item granularity; this bound sees both resources together and whole items.
 *
 * Per class, with the classes, items and capacity the plan's own bounds use (consolidation/class-items.ts):
 * - Items: one per replica per GPU it holds, plus each GPU's non-zero baseline. A tensor-parallel
 *   replica of degree t is t independent items and baselines and pinned replicas count as movable:
 *   relaxations, see bounds.ts.
 * - Sizes are rounded DOWN to units (memory: floor(bytes / unit), capacity floor(usable / unit);
 *   compute: floor(share / step + 1e-9) with step = ceiling / steps, capacity = steps). Since
 *   Σ floor(x_i) ≤ floor(Σ x_i), every GPU content within both real limits stays within the unit
 *   capacities (the 1e-9 slack per item stays far below one unit for the few items a GPU holds, and
 *   covers the planner's own COMPUTE_EPSILON), so the model stays a relaxation.
 * - Columns: regular patterns (item counts within both unit capacities, cost 1), and for each GPU
 *   whose load now exceeds usable memory or the compute ceiling (real units, load > limit as in
 *   `resourceBounds`) a keep column = its content now, cost 1, at most once per such GPU.
 *
 * Why this bounds every plan: a GPU in use after a plan either received a replica, and then the
 * planner checked both limits on its whole content at that arrival (later departures only lower
 * it), so its final content is a regular pattern; or it received nothing, so its content is a subset
 * of its content now, which is a regular pattern when that GPU is within its limits and is covered
 * by its keep column otherwise. Every item ends on a GPU of its class (placement `same`), so the
 * final GPUs in use give an integer solution of the covering LP
 *   min Σ_p x_p + Σ_q o_q  s.t.  Σ_p a_ip x_p + Σ_q b_iq o_q ≥ d_i,  0 ≤ o_q ≤ n_q,  x ≥ 0.
 *
 * The bound reported is a dual bound valid at every iteration, so a stopped column generation is
 * still sound (Farley, "A note on bounding a class of linear programming problems, including
 * cutting stock problems", Operations Research 38(5), 1990): with the master's duals π ≥ 0 and
 * P = max(1, max_p π·a_p) from the exact pricing, π/P is feasible for every regular column; keep
 * column q takes w_q = max(0, π·b_q / P − 1); D = Σ_i d_i π_i / P − Σ_q n_q w_q ≤ LP optimum ≤ any
 * plan by weak duality, and bound = ⌈D − 1e-6⌉.
 */
import type { Highs } from "highs";
import type { FleetSnapshot } from "../../analyzer/fleet/snapshot.js";
import { classItems, gpuLoads } from "../../analyzer/recommend/consolidation/index.js";
import { fleetLoads, type ConsolidationConfig } from "../../analyzer/recommend/constraints.js";

/** One item type of the pricing problem: unit sizes, dual value and how many a pattern may hold. */
export interface PricingType {
  readonly memory: number;
  readonly compute: number;
  readonly value: number;
  readonly maxCount: number;
}

/** Best pattern for given capacities: its value and the count of each type. */
export interface PricedPattern {
  readonly value: number;
  readonly counts: readonly number[];
}

/**
 * Bounded two-dimensional integer knapsack, exact: max Σ value_i·a_i with Σ memory_i·a_i ≤
 * memoryCap, Σ compute_i·a_i ≤ computeCap, 0 ≤ a_i ≤ maxCount_i (non-negative integer sizes and
 * capacities). Dynamic programming over (memory × compute) with each multiplicity split into
 * pieces 1, 2, 4, …, rest (Kellerer, Pferschy & Pisinger, "Knapsack Problems", Springer 2004,
 * §7.1.1), so every count 0..maxCount is a sum of distinct pieces. Returns the optimum for the full
 * capacities first, then up to `extra` further distinct patterns, optimal for smaller capacities.
 */
export function priceTwoDimensional(
  types: readonly PricingType[],
  memoryCap: number,
  computeCap: number,
  extra = 0,
): PricedPattern[] {
  const width = computeCap + 1;
  const cells = (memoryCap + 1) * width;
  const pieces: { type: number; count: number; m: number; c: number; v: number }[] = [];
  types.forEach((t, i) => {
    if (!(t.value > 0)) return;
    let bound = t.maxCount;
    if (t.memory > 0) bound = Math.min(bound, Math.floor(memoryCap / t.memory));
    if (t.compute > 0) bound = Math.min(bound, Math.floor(computeCap / t.compute));
    for (let size = 1; bound > 0; size *= 2) {
      const count = Math.min(size, bound);
      bound -= count;
      pieces.push({ type: i, count, m: t.memory * count, c: t.compute * count, v: t.value * count });
    }
  });
  const best = new Float64Array(cells);
  const take = pieces.map(() => new Uint8Array(cells));
  pieces.forEach((piece, p) => {
    const row = take[p] as Uint8Array;
    for (let m = memoryCap; m >= piece.m; m--) {
      for (let c = computeCap; c >= piece.c; c--) {
        const cell = m * width + c;
        const candidate = (best[cell - piece.m * width - piece.c] as number) + piece.v;
        if (candidate > (best[cell] as number)) {
          best[cell] = candidate;
          row[cell] = 1;
        }
      }
    }
  });
  const patternAt = (m0: number, c0: number): PricedPattern => {
    const counts = new Array<number>(types.length).fill(0);
    let m = m0;
    let c = c0;
    for (let p = pieces.length - 1; p >= 0; p--) {
      const piece = pieces[p] as (typeof pieces)[number];
      if ((take[p] as Uint8Array)[m * width + c] === 1) {
        counts[piece.type] = (counts[piece.type] as number) + piece.count;
        m -= piece.m;
        c -= piece.c;
      }
    }
    return { value: counts.reduce((sum, a, i) => sum + a * (types[i] as PricingType).value, 0), counts };
  };
  const out = [patternAt(memoryCap, computeCap)];
  const seen = new Set([out[0]?.counts.join(",")]);
  for (let k = 1; out.length <= extra && (k <= memoryCap || k <= computeCap); k++) {
    for (const [m, c] of [
      [memoryCap - k, computeCap],
      [memoryCap, computeCap - k],
    ] as const) {
      if (m < 0 || c < 0 || out.length > extra) continue;
      const pattern = patternAt(m, c);
      const key = pattern.counts.join(",");
      if (!seen.has(key)) {
        seen.add(key);
        out.push(pattern);
      }
    }
  }
  return out;
}

/** The configuration-LP bound of one class. */
export interface LpClassBound {
  readonly pool: string;
  readonly gpuModel: string;
  /** No plan leaves fewer GPUs of this class in use: ⌈dualBound − 1e-6⌉. */
  readonly bound: number;
  /** The last restricted master's optimum (an upper estimate of the LP optimum until converged). */
  readonly lpValue: number;
  /** The best Farley dual bound over the iterations (≤ the LP optimum). */
  readonly dualBound: number;
  /** True when pricing found no improving column: the LP optimum is reached. */
  readonly isConverged: boolean;
  readonly iterations: number;
  readonly columns: number;
  readonly seconds: number;
}

/** Discretisation and effort; the defaults suit the benchmark fleets. */
export interface LpBoundOptions {
  /** Compute capacity in units (default 40: steps of ceiling / 40). */
  readonly computeSteps?: number;
  /** Memory unit, bytes (default 1 GiB). */
  readonly memoryUnitBytes?: number;
  /** Column generation time per class, seconds (default 60); the bound stays sound when it stops early. */
  readonly maxSecondsPerClass?: number;
}

/** One class reduced to item types with demands, and its GPUs' contents now. */
interface ClassModel {
  readonly pool: string;
  readonly gpuModel: string;
  readonly memoryCap: number;
  readonly computeCap: number;
  readonly types: { readonly memory: number; readonly compute: number; demand: number }[];
  /** Contents of GPUs within both limits (regular columns, deduplicated). */
  readonly regular: Map<string, number[]>;
  /** Contents of GPUs over a limit, with how many GPUs hold each. */
  readonly keep: Map<string, { readonly counts: number[]; n: number }>;
}

const MAX_ITERATIONS = 5000;
const EXTRA_COLUMNS = 4;

/** Builds each class's item types and current contents; see the module comment for the rounding. */
function classModels(
  snapshot: FleetSnapshot,
  config: ConsolidationConfig,
  computeSteps: number,
  unit: number,
): ClassModel[] {
  const step = config.computeCeilingRatio / computeSteps;
  return classItems(snapshot, config, fleetLoads(snapshot)).map((cls) => {
    const typeIndex = new Map<string, number>();
    const types: ClassModel["types"] = [];
    const held: number[][] = cls.gpuUuids.map(() => []);
    cls.itemGpu.forEach((g, i) => {
      const memory = Math.floor((cls.itemMemory[i] as number) / unit);
      const compute = Math.floor((cls.itemCompute[i] as number) / step + 1e-9);
      const key = `${memory},${compute}`;
      let t = typeIndex.get(key);
      if (t === undefined) {
        t = types.length;
        typeIndex.set(key, t);
        types.push({ memory, compute, demand: 0 });
      }
      (types[t] as ClassModel["types"][number]).demand++;
      (held[g] as number[]).push(t);
    });
    const memoryCap = Math.floor(cls.capacityBytes / unit);
    const memoryUsed = gpuLoads(cls, cls.itemMemory);
    const computeUsed = gpuLoads(cls, cls.itemCompute);
    const regular = new Map<string, number[]>();
    const keep = new Map<string, { counts: number[]; n: number }>();
    held.forEach((items, g) => {
      if (items.length === 0) return;
      const counts = new Array<number>(types.length).fill(0);
      let memoryUnits = 0;
      let computeUnits = 0;
      for (const t of items) {
        counts[t] = (counts[t] as number) + 1;
        memoryUnits += types[t]?.memory ?? 0;
        computeUnits += types[t]?.compute ?? 0;
      }
      const key = counts.join(",");
      const isOver =
        (memoryUsed[g] as number) > cls.capacityBytes || (computeUsed[g] as number) > config.computeCeilingRatio;
      // A within-limit content over the unit capacities (rounding cannot cause it) would become a keep column: sound either way.
      if (!isOver && memoryUnits <= memoryCap && computeUnits <= computeSteps) regular.set(key, counts);
      else keep.set(key, { counts, n: (keep.get(key)?.n ?? 0) + 1 });
    });
    return { pool: cls.pool, gpuModel: cls.gpuModel, memoryCap, computeCap: computeSteps, types, regular, keep };
  });
}

/** The master LP in CPLEX LP format: x<p> regular columns, o<q> keep columns with upper bounds. */
function masterLp(
  model: ClassModel,
  patterns: readonly number[][],
  keeps: readonly { counts: number[]; n: number }[],
): string {
  const rows = model.types.map(() => [] as string[]);
  patterns.forEach((counts, p) => counts.forEach((a, i) => a > 0 && rows[i]?.push(`+ ${a} x${p}`)));
  keeps.forEach((k, q) => k.counts.forEach((a, i) => a > 0 && rows[i]?.push(`+ ${a} o${q}`)));
  const wrap = (terms: readonly string[]): string =>
    terms.reduce((text, t, i) => text + (i > 0 && i % 20 === 0 ? "\n " : " ") + t, "");
  const objective = [...patterns.map((_, p) => `+ x${p}`), ...keeps.map((_, q) => `+ o${q}`)];
  return [
    "Minimize",
    ` obj:${wrap(objective)}`,
    "Subject To",
    ...rows.map((terms, i) => ` d${i}:${wrap(terms)} >= ${model.types[i]?.demand}`),
    "Bounds",
    ...keeps.map((k, q) => ` 0 <= o${q} <= ${k.n}`),
    "End",
    "",
  ].join("\n");
}

/**
 * Column generation on one class; every iteration's dual bound is valid, the best is kept. The
 * master lives in one persistent HiGHS instance: new columns are appended and the simplex restarts
 * from the previous basis (re-reading the LP text each iteration was several times slower).
 */
function solveClass(model: ClassModel, highs: Highs, maxSeconds: number): LpClassBound {
  const started = performance.now();
  const patterns = [...model.regular.values()];
  const known = new Set(model.regular.keys());
  const keeps = [...model.keep.values()];
  let dualBound = 0;
  let lpValue = 0;
  let isConverged = false;
  let iterations = 0;
  const master = highs.createModel({ format: "lp", data: masterLp(model, patterns, keeps) });
  try {
    master.options.set("output_flag", false);
    const rowOf = model.types.map((_, i) => master.getRowByName(`d${i}`));
    while (iterations < MAX_ITERATIONS) {
      iterations++;
      master.run();
      const status = master.getModelStatus();
      if (status !== highs.constants.modelStatus.optimal)
        throw new Error(`configuration LP of ${model.pool}/${model.gpuModel}: master status ${status}`);
      lpValue = master.getObjectiveValue();
      const rowDual = master.getSolution().rowDual;
      // HiGHS reports ≥-row duals of a minimisation as non-negative; clamping keeps π ≥ 0 whatever the solver returns.
      const pi = rowOf.map((r) => Math.max(0, rowDual[r] ?? 0));
      const types = model.types.map((t, i) => ({
        memory: t.memory,
        compute: t.compute,
        value: pi[i] as number,
        maxCount: t.demand,
      }));
      const priced = priceTwoDimensional(types, model.memoryCap, model.computeCap, EXTRA_COLUMNS);
      // The DP sums floats: inflate its maximum by a relative 1e-12 so π/P is surely feasible.
      const scale = Math.max(1, (priced[0]?.value ?? 0) * (1 + 1e-12));
      let bound = 0;
      model.types.forEach((t, i) => (bound += (t.demand * (pi[i] as number)) / scale));
      for (const k of keeps)
        bound -= k.n * Math.max(0, k.counts.reduce((s, a, i) => s + a * (pi[i] as number), 0) / scale - 1);
      dualBound = Math.max(dualBound, bound);
      const improving = priced.filter((p) => p.value > 1 + 1e-9 && !known.has(p.counts.join(",")));
      if (improving.length === 0) {
        isConverged = (priced[0]?.value ?? 0) <= 1 + 1e-6;
        break;
      }
      if ((performance.now() - started) / 1000 > maxSeconds) break;
      for (const p of improving) {
        known.add(p.counts.join(","));
        patterns.push([...p.counts]);
        const indices: number[] = [];
        const values: number[] = [];
        p.counts.forEach((a, i) => {
          if (a > 0) {
            indices.push(rowOf[i] as number);
            values.push(a);
          }
        });
        master.addCol(1, 0, highs.infinity, { indices, values });
      }
    }
  } finally {
    master.dispose();
  }
  return {
    pool: model.pool,
    gpuModel: model.gpuModel,
    bound: Math.max(0, Math.ceil(dualBound - 1e-6)),
    lpValue,
    dualBound,
    isConverged,
    iterations,
    columns: patterns.length + keeps.length,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * The configuration-LP lower bound per (pool, GPU model) class, sorted like `consolidationBounds`.
 * Sound only for placement `pool` and `gpuModel` = `same` (it throws otherwise). Pure apart from
 * the solver calls; blocks for up to `maxSecondsPerClass` per class (plus one master solve).
 */
export function configurationLpBounds(
  snapshot: FleetSnapshot,
  config: ConsolidationConfig,
  highs: Highs,
  options: LpBoundOptions = {},
): LpClassBound[] {
  if (config.placement.pool !== "same" || config.placement.gpuModel !== "same")
    throw new Error("configurationLpBounds: classes bound a plan only with placement pool and gpuModel = same");
  const steps = options.computeSteps ?? 40;
  const unit = options.memoryUnitBytes ?? 1024 ** 3;
  // The pricing table has (capacity / unit + 1) × (steps + 1) cells: whole, positive units only.
  if (!Number.isInteger(steps) || steps < 1 || !Number.isInteger(unit) || unit < 1)
    throw new Error(
      `configurationLpBounds: computeSteps (${steps}) and memoryUnitBytes (${unit}) must be positive integers`,
    );
  return classModels(snapshot, config, steps, unit).map((model) =>
    model.types.length === 0
      ? {
          pool: model.pool,
          gpuModel: model.gpuModel,
          bound: 0,
          lpValue: 0,
          dualBound: 0,
          isConverged: true,
          iterations: 0,
          columns: 0,
          seconds: 0,
        }
      : solveClass(model, highs, options.maxSecondsPerClass ?? 60),
  );
}
