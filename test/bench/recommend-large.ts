/**
 * The 10,000-GPU / 25,000-replica fleet (randomFleet, seed 1, no move limit): plan time on one core
 * (target < 2 s, the whole planConsolidation including the checker, bounds and fragmentation), GPUs
 * in use against the two-dimensional configuration-LP bound (recommend-lp-bound.ts, column
 * generation with HiGHS, outside the timing; target within 3%), against L2 and the bounds the plan
 * reports, and fragmentation before and after. Then mid-size fleets (48–80 GPUs, 100–200 replicas),
 * where every search order runs: plan time.
 */
import { fleetFragmentation } from "../../analyzer/fleet/fragmentation.js";
import type { FleetSnapshot } from "../../analyzer/fleet/snapshot.js";
import {
  applyMoves,
  loadHighs,
  planConsolidation,
  type ConsolidationPlan,
} from "../../analyzer/recommend/consolidation/index.js";
import { fleetLoads, parseConsolidationConfig, usableMemoryBytes } from "../../analyzer/recommend/constraints.js";
import { GIB, randomFleet } from "../fixtures/fleets.js";
import { configurationLpBounds, type LpClassBound } from "./recommend-lp-bound.js";
import { median, type BenchRow } from "./table.js";

const env = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && process.env[name] !== "" && process.env[name] !== undefined ? value : fallback;
};
const pct = (ratio: number): string => `${(ratio * 100).toFixed(1)}%`;

/**
 * The fleet as the planner sees memory: each GPU's total is its usable memory (the headroom left
 * out) and its use is capped there. Fragmentation on this basis does not count the headroom that
 * consolidation deliberately leaves free on every GPU it fills as stranded memory.
 */
function onUsableMemory(snapshot: FleetSnapshot): FleetSnapshot {
  const config = parseConsolidationConfig({});
  return {
    ...snapshot,
    nodes: snapshot.nodes.map((n) => ({
      ...n,
      gpus: n.gpus.map((g) => {
        const usable = usableMemoryBytes(g, config);
        return { ...g, memoryTotalBytes: usable, memoryUsedBytes: Math.min(g.memoryUsedBytes, usable) };
      }),
    })),
  };
}

function largeRows(
  plan: ConsolidationPlan,
  ms: readonly number[],
  cpuMs: readonly number[],
  lp: readonly LpClassBound[],
  usableFragmentation: {
    before: ConsolidationPlan["fragmentation"]["before"];
    after: ConsolidationPlan["fragmentation"]["after"];
  },
): BenchRow[] {
  const used = plan.classes.reduce((s, c) => s + c.gpusInUseAfter, 0);
  const l2 = plan.classes.reduce((s, c) => s + Math.max(c.memoryL2, c.computeL2), 0);
  const bound = plan.lowerBound.bound;
  const classic = plan.classes.reduce((s, c) => s + Math.max(c.memoryL1, c.memoryL2, c.computeL1, c.computeL2), 0);
  const gap = (used - l2) / l2;
  const frag = (f: ConsolidationPlan["fragmentation"]["before"]): string =>
    `FGD ${pct(f.fragmentationRatio)} of ${Math.round(f.freeBytes / GIB).toLocaleString("en-US")} GiB free, stranded ${Math.round(f.strandedBytes / GIB).toLocaleString("en-US")} GiB, ${f.partiallyUsedGpus.toLocaleString("en-US")} GPUs partly used`;
  // The configuration-LP bound (recommend-lp-bound.ts) and whether any plan could meet the 2% target.
  const lpBoundRows = (): BenchRow[] => {
    const lpTotal = lp.reduce((sum, c) => sum + c.bound, 0);
    const seconds = lp.reduce((sum, c) => sum + c.seconds, 0);
    const lpOf = (pool: string, gpuModel: string): number =>
      lp.find((x) => x.pool === pool && x.gpuModel === gpuModel)?.bound ?? 0;
    const combined = plan.classes.reduce((s, c) => s + Math.max(c.bound, lpOf(c.pool, c.gpuModel)), 0);
    const fmt = (n: number): string => n.toLocaleString("en-US");
    const reach = (reference: number, label: string): BenchRow => ({
      name: `could ANY plan be within 2% of the ${label} (${fmt(reference)})? Only if the configuration-LP bound ≤ 1.02 × ${fmt(reference)} = ${(1.02 * reference).toFixed(1)}`,
      value:
        lpTotal > 1.02 * reference
          ? `no: every plan leaves ≥ ${fmt(lpTotal)} GPUs in use, +${pct((lpTotal - reference) / reference)} over the ${label}`
          : `not excluded: ${fmt(lpTotal)} ≤ ${(1.02 * reference).toFixed(1)}`,
    });
    return [
      ...[plan].flatMap((p) =>
        p.classes.map((c) => {
          const b = lp.find((x) => x.pool === c.pool && x.gpuModel === c.gpuModel);
          const detail =
            b === undefined
              ? "not computed"
              : `${fmt(b.bound)} (LP ${b.lpValue.toFixed(2)}; ${b.iterations} iterations, ${b.columns} columns, ${b.seconds.toFixed(1)} s${b.isConverged ? "" : "; NOT converged within its time limit: Farley dual bound, still valid"})`;
          return {
            name: `  ${c.pool} / ${c.gpuModel}: configuration-LP bound (2-D, over-limit GPUs kept); in use after`,
            value: `${detail}; ${c.gpusInUseAfter}`,
          };
        }),
      ),
      {
        name: "configuration-LP bound, Σ classes (memory in GiB, compute in steps of ceiling / 80; outside the timing)",
        value: `${fmt(lpTotal)} (${seconds.toFixed(1)} s${lp.every((c) => c.isConverged) ? ", every class converged" : ", some class NOT converged"})`,
      },
      {
        name: "GPUs in use after vs the configuration-LP bound",
        value: `${fmt(used)} vs ${fmt(lpTotal)}: +${pct((used - lpTotal) / lpTotal)}`,
        target: "within 3%",
        isMet: used <= 1.03 * lpTotal,
      },
      {
        name: "… vs the larger of the configuration-LP bound and the best reported bound, per class (both bound every plan)",
        value: `${fmt(combined)}: +${pct((used - combined) / combined)}`,
      },
      reach(l2, "L2 bound"),
      reach(classic, "classic bounds, max of L1 and L2"),
      reach(bound, "best reported bound"),
    ];
  };
  const msMedian = median(ms);
  const cpuMedian = median(cpuMs);
  return [
    {
      name: `plan time, 10,000 GPUs / 25,000 replicas, one JS thread (median of ${ms.length}; incl. checker, bounds, fragmentation): wall (process CPU incl. GC threads)`,
      value: `${msMedian.toFixed(0)} ms (${cpuMedian.toFixed(0)} ms; slowest wall ${Math.max(...ms).toFixed(0)} ms)`,
      target: "< 2000 ms",
      isMet: msMedian < 2000,
    },
    {
      name: "GPUs in use: before → after (freed); nodes freed; moves",
      value: `${plan.gpusInUseBefore.toLocaleString("en-US")} → ${plan.gpusInUseAfter.toLocaleString("en-US")} (${plan.gpusFreed.toLocaleString("en-US")}); ${plan.nodesFreed}; ${plan.movesCount.toLocaleString("en-US")}`,
    },
    {
      name: "GPUs in use after vs the L2 bound (Σ classes, max of memory and compute L2)",
      value: `${used.toLocaleString("en-US")} vs ${l2.toLocaleString("en-US")}: +${pct(gap)}`,
      target: "(the earlier 2% target; no plan can reach it here: see the configuration-LP rows)",
    },
    {
      name: "… vs the best bound the plan reports (max of L1, L2 and the dual-feasible-function bounds on memory, compute and both)",
      value: `${bound.toLocaleString("en-US")}: +${pct((used - bound) / bound)}`,
    },
    ...[plan].flatMap((p) =>
      p.classes.map((c) => ({
        name: `  ${c.pool} / ${c.gpuModel}: in use after; memory L1/L2; compute L1/L2; dual-feasible; GPUs over headroom / ceiling before`,
        value: `${c.gpusInUseAfter} of ${c.gpus}; ${c.memoryL1}/${c.memoryL2}; ${c.computeL1}/${c.computeL2}; ${c.dualFeasible} (${c.dualFeasibleFunction}); ${c.gpusOverMemory} / ${c.gpusOverCompute}`,
      })),
    ),
    ...lpBoundRows(),
    { name: "fragmentation before", value: frag(plan.fragmentation.before) },
    { name: "fragmentation after", value: frag(plan.fragmentation.after) },
    {
      name: "fragmentation on usable memory (the 10% headroom not counted as free): before",
      value: frag(usableFragmentation.before),
    },
    { name: "fragmentation on usable memory: after", value: frag(usableFragmentation.after) },
  ];
}

export async function benchLarge(): Promise<BenchRow[]> {
  const snapshot = randomFleet({ gpus: 10_000, replicas: 25_000, seed: 1 });
  const config = { disruption: { maxMoves: null } };
  let plan = planConsolidation(snapshot, config);
  const ms: number[] = [];
  const cpuMs: number[] = [];
  for (let i = 0; i < env("RECOMMEND_BENCH_RUNS", 3); i++) {
    const started = performance.now();
    const cpu = process.cpuUsage();
    plan = planConsolidation(snapshot, config);
    const used = process.cpuUsage(cpu);
    ms.push(performance.now() - started);
    cpuMs.push((used.user + used.system) / 1000);
  }
  // Outside the timing: 80 compute steps (0.01 of utilization at the default 0.8 ceiling) converge
  // on every class here in about 20 s; finer steps leave the H100 class short of convergence in 60 s.
  const lp = configurationLpBounds(snapshot, parseConsolidationConfig(config), await loadHighs(), { computeSteps: 80 });
  const after = applyMoves(snapshot, plan.moves, fleetLoads(snapshot).shares);
  const usableFragmentation = {
    before: fleetFragmentation(onUsableMemory(snapshot)).total,
    after: fleetFragmentation(onUsableMemory(after)).total,
  };
  return largeRows(plan, ms, cpuMs, lp, usableFragmentation);
}

/**
 * Mid-size fleets, the largest on which every search order (shuffled restarts, repacks, the exact
 * neighbourhood) still runs: the analyzer plans on its event loop, so these must stay well under the
 * 10,000-GPU budget too. Three seeds per size, default config.
 */
export async function benchMid(): Promise<BenchRow[]> {
  const sizes = [
    [48, 100],
    [64, 150],
    [80, 200],
  ] as const;
  return sizes.map(([gpus, replicas]) => {
    const ms = [1, 2, 3].map((seed) => {
      const snapshot = randomFleet({ gpus, replicas, seed });
      const started = performance.now();
      planConsolidation(snapshot, {});
      return performance.now() - started;
    });
    const slowest = Math.max(...ms);
    return {
      name: `plan time, ${gpus} GPUs / ${replicas} replicas, default config (seeds 1–3): median; slowest`,
      value: `${median(ms).toFixed(0)} ms; ${slowest.toFixed(0)} ms`,
      target: "slowest < 2000 ms",
      isMet: slowest < 2000,
    };
  });
}
