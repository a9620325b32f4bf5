/**
 * Consolidation quality and speed, in parts (RECOMMEND_BENCH_ONLY picks some, comma list):
 *
 * - `small`: small fleets from three independent generators (recommend-small.ts: ours, openb-shaped,
 *   mixed models per pool), each plan beside the proven optimum of an independent MILP — share at
 *   the optimum (target ≥ 98%), moves against the optimum's (≤ 1.1×), plan time (≤ 2 s), reported
 *   per generator. RECOMMEND_BENCH_GENERATORS (comma list of ours, openb, mixed),
 *   RECOMMEND_BENCH_INSTANCES (per generator, default 50), RECOMMEND_BENCH_MILP_SECONDS (the
 *   oracle's limit per instance, default 20).
 * - `large`: 10,000 GPUs and 25,000 replicas (recommend-large.ts): plan time (< 2 s), GPUs in use
 *   against the configuration-LP bound (within 3%). RECOMMEND_BENCH_RUNS (timed runs, default 3).
 * - `mid`: plan time of 100–200-replica fleets.
 * - `responsiveness`: /metrics answer times while the 10,000-GPU plan runs on the planning thread
 *   (≤ 50 ms) and, for comparison, on the event loop.
 * - `alibaba`: the FGD paper's openb experiment (recommend-alibaba.ts) beside the paper's figures.
 *   RECOMMEND_BENCH_OPENB_SEEDS (shuffled arrival orders, default "42,43,44"; empty for trace order
 *   only), RECOMMEND_BENCH_OPENB_POLICIES (default "fgd,fgd-cpu,best-fit"; also fgd-cpu-k8s).
 *
 * One command: `BENCH_ONLY=recommend RECOMMEND_BENCH_ONLY=small npm run bench`.
 */
import { pathToFileURL } from "node:url";
import { openbDirectory, packAlibabaTrace, type AlibabaResult, type PackingPolicy } from "./recommend-alibaba.js";
import { benchLarge, benchMid } from "./recommend-large.js";
import { benchResponsiveness } from "./recommend-responsiveness.js";
import { GENERATORS, runGenerator, smallRows, type GeneratorName } from "./recommend-small.js";
import { renderTable, type BenchRow } from "./table.js";

const env = (name: string, fallback: number): number => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && process.env[name] !== "" && process.env[name] !== undefined ? value : fallback;
};
const pct = (ratio: number): string => `${(ratio * 100).toFixed(1)}%`;
const list = (name: string, fallback: string): string[] =>
  (process.env[name] ?? fallback)
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");

async function benchSmall(): Promise<BenchRow[]> {
  const count = env("RECOMMEND_BENCH_INSTANCES", 50);
  const seconds = env("RECOMMEND_BENCH_MILP_SECONDS", 20);
  const rows: BenchRow[] = [];
  for (const name of list("RECOMMEND_BENCH_GENERATORS", "ours,openb,mixed")) {
    if (!(name in GENERATORS)) throw new Error(`recommend bench: no generator ${name} (ours, openb, mixed)`);
    const generator = name as GeneratorName;
    rows.push(...smallRows(generator, await runGenerator(generator, count, seconds), seconds));
  }
  return rows;
}

const PAPER = "paper (default trace, 130%, mean of 10 shuffled seeds): FGD 95.4%, best-fit 93.1%";
const POLICY_NAMES: Readonly<Record<PackingPolicy, string>> = {
  fgd: "inferwatch packing (FGD core)",
  "fgd-cpu": "FGD core with the paper's CPU rule (Q4) and target workload",
  "fgd-cpu-k8s": "… scored as the simulator's plugin (integer score, random ties)",
  "best-fit": "best-fit baseline",
};

async function benchAlibaba(): Promise<BenchRow[]> {
  const dir = openbDirectory();
  const seeds = list("RECOMMEND_BENCH_OPENB_SEEDS", "42,43,44").map(Number);
  const policies = list("RECOMMEND_BENCH_OPENB_POLICIES", "fgd,fgd-cpu,best-fit").filter(
    (p): p is PackingPolicy => p in POLICY_NAMES,
  );
  const runs: AlibabaResult[] = [];
  for (const policy of policies) {
    if (seeds.length === 0) runs.push(packAlibabaTrace(dir, policy));
    for (const seed of seeds) runs.push(packAlibabaTrace(dir, policy, { seed, shuffle: true }));
  }
  const rows: BenchRow[] = runs.map((run) => ({
    name: `openb default trace, ${run.gpus.toLocaleString("en-US")} GPUs, ${POLICY_NAMES[run.policy]}, ${run.order}`,
    value: `${pct(run.allocatedRatio)} allocated at ${pct(run.arrivedRatio)} arrived (${run.tasksFailed.toLocaleString("en-US")} of ${run.tasksArrived.toLocaleString("en-US")} tasks unplaced; ${run.idleWholeGpus} GPUs wholly idle, ${run.cpuLeftOnIdleNodes.toFixed(1)} cores free on their nodes; ${run.seconds.toFixed(1)} s)`,
  }));
  const mean = (policy: PackingPolicy): number => {
    const xs = runs.filter((r) => r.policy === policy && r.order !== "trace order").map((r) => r.allocatedRatio);
    return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  };
  if (seeds.length > 0) {
    for (const policy of policies) {
      rows.push({
        name: `mean over shuffled seeds (${seeds.join(", ")}): ${POLICY_NAMES[policy]}`,
        value: pct(mean(policy)),
        ...(policy === "fgd" ? { target: `≥ 95.4% (${PAPER})`, isMet: mean(policy) >= 0.954 } : {}),
      });
    }
  }
  return rows;
}

const SECTIONS = {
  small: benchSmall,
  large: benchLarge,
  mid: benchMid,
  responsiveness: benchResponsiveness,
  alibaba: benchAlibaba,
} as const;

/** Every part of the recommendation benchmark, as table rows (RECOMMEND_BENCH_ONLY picks parts). */
export async function benchRecommend(): Promise<BenchRow[]> {
  const only = process.env["RECOMMEND_BENCH_ONLY"]?.split(",").map((s) => s.trim());
  const rows: BenchRow[] = [];
  for (const [key, run] of Object.entries(SECTIONS)) {
    if (only && !only.includes(key)) continue;
    rows.push(...(await run()));
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.stdout.write(renderTable("Consolidation", await benchRecommend()));
}
