/**
 * The FGD paper's experiment on the Alibaba trace (openb): tasks arrive one by one onto the 1,213
 * GPU nodes (6,212 GPUs) until the GPU requests that arrived reach 130% of the cluster's GPU
 * capacity; a task that fits nowhere is not scheduled. The result is the share of GPU capacity
 * allocated at the end (GPU-milli allocated ÷ 6,212,000), the paper's "GPU allocation rate".
 *
 * As in the authors' simulator (hkust-adsl/kubernetes-scheduler-simulator, core.go
 * TunePodsByNodeTotalResource/tuneUpPods): the trace's own tasks come first (here in trace order,
 * or shuffled with a seed), then tasks drawn from the trace at random with replacement are appended
 * while the total GPU request stays within 130%. A task needs CPU and memory on its node, its GPU
 * type when `gpu_spec` names some, and `num_gpu` GPUs of one node each with `gpu_milli` free
 * (gpu_milli < 1000: a share of one GPU).
 *
 * Policies: `fgd`, the inferwatch packing: the node and GPUs whose fragmentation (the generic FGD
 * core of analyzer/fleet/fragmentation.ts, shapes = the trace's task mix) grows least; and
 * `best-fit`, the paper's baseline (best_fit_score.go: least Σ w·(free − request)/capacity over CPU
 * and GPU, w = ½), with the fullest GPU that fits for a share.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { prepareNode, shapeDistribution, ShapeIndex, type ShapeSample } from "../../analyzer/fleet/fragmentation.js";
import { seededRandom } from "../fixtures/fleets.js";

interface OpenbNode {
  readonly name: string;
  readonly model: string;
  readonly cpu: number;
  readonly memory: number;
  cpuFree: number;
  memoryFree: number;
  readonly gpuFree: number[];
}

interface OpenbTask {
  readonly cpu: number;
  readonly memory: number;
  readonly gpus: number;
  readonly milli: number;
  readonly models: readonly string[] | undefined;
}

export type PackingPolicy = "fgd" | "best-fit";

export interface AlibabaResult {
  readonly policy: PackingPolicy;
  readonly order: string;
  readonly gpus: number;
  readonly arrivedRatio: number;
  readonly allocatedRatio: number;
  readonly tasksArrived: number;
  readonly tasksFailed: number;
  readonly seconds: number;
}

/** The openb folder: $RECOMMEND_BENCH_OPENB_DIR, else shared/data/alibaba-openb beside or above the repository. */
export function openbDirectory(): string | undefined {
  const override = process.env["RECOMMEND_BENCH_OPENB_DIR"];
  if (override) return override;
  const candidates: string[] = [];
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    candidates.push(join(dir, "shared/data/alibaba-openb"), join(dir, "../shared/data/alibaba-openb"));
    if (dirname(dir) === dir) break;
  }
  candidates.push(resolve(process.cwd(), "../shared/data/alibaba-openb"), "/work/shared/data/alibaba-openb");
  return candidates.find((dir) => existsSync(join(dir, "openb_pod_list_default.csv")));
}

function csvRows(path: string): Record<string, string>[] {
  const [header, ...lines] = readFileSync(path, "utf8").trim().split(/\r?\n/);
  const names = (header ?? "").split(",");
  return lines.map((line) => {
    const cells = line.split(",");
    return Object.fromEntries(names.map((name, i) => [name, cells[i] ?? ""]));
  });
}

function readTrace(dir: string): { nodes: () => OpenbNode[]; tasks: OpenbTask[] } {
  const nodeRows = csvRows(join(dir, "openb_node_list_gpu_node.csv"));
  const tasks = csvRows(join(dir, "openb_pod_list_default.csv")).map((row) => ({
    cpu: Number(row["cpu_milli"]),
    memory: Number(row["memory_mib"]),
    gpus: Number(row["num_gpu"]),
    milli: Number(row["gpu_milli"]),
    models: row["gpu_spec"] ? (row["gpu_spec"] as string).split("|") : undefined,
  }));
  const nodes = (): OpenbNode[] =>
    nodeRows.map((row) => ({
      name: row["sn"] as string,
      model: row["model"] as string,
      cpu: Number(row["cpu_milli"]),
      memory: Number(row["memory_mib"]),
      cpuFree: Number(row["cpu_milli"]),
      memoryFree: Number(row["memory_mib"]),
      gpuFree: Array.from({ length: Number(row["gpu"]) }, () => 1000),
    }));
  return { nodes, tasks };
}

const gpuRequest = (task: OpenbTask): number => task.gpus * task.milli;

/** The arrival sequence: the trace (in order, or shuffled), then random draws up to `load` × capacity. */
function arrivals(tasks: readonly OpenbTask[], capacityMilli: number, load: number, seed: number, shuffle: boolean): OpenbTask[] {
  const random = seededRandom(seed);
  const list = [...tasks];
  if (shuffle) {
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [list[i], list[j]] = [list[j] as OpenbTask, list[i] as OpenbTask];
    }
  }
  let total = list.reduce((sum, task) => sum + gpuRequest(task), 0);
  for (;;) {
    const task = tasks[Math.floor(random() * tasks.length)] as OpenbTask;
    if (total + gpuRequest(task) > load * capacityMilli) break;
    list.push(task);
    total += gpuRequest(task);
  }
  return list;
}

/** GPU indices on `node` for `task`, by policy: the fullest GPUs that fit (best fit). */
function fullestFitting(node: OpenbNode, task: OpenbTask): number[] | undefined {
  const fitting = node.gpuFree.map((free, i) => ({ free, i })).filter((g) => g.free >= task.milli);
  if (fitting.length < task.gpus) return undefined;
  fitting.sort((a, b) => a.free - b.free || a.i - b.i);
  return fitting.slice(0, task.gpus).map((g) => g.i);
}

function canHost(node: OpenbNode, task: OpenbTask): boolean {
  return node.cpuFree >= task.cpu && node.memoryFree >= task.memory && (task.models === undefined || task.models.includes(node.model));
}

/**
 * FGD placement on one node: the GPUs whose use grows the node's fragmentation least, with the
 * growth. A CPU-only task leaves GPU fragmentation alone; it goes where the fewest GPU shares are
 * free (and then where its CPU fits tightest), so it does not take CPU from GPUs still usable.
 */
function fgdOnNode(node: OpenbNode, task: OpenbTask, index: ShapeIndex, cache: Map<string, { delta: number; free: number } | null>): { gpus: number[]; delta: number } | undefined {
  if (task.gpus === 0) return { gpus: [], delta: node.gpuFree.reduce((a, b) => a + b, 0) * 1e-6 - node.cpuFree * 1e-12 };
  const sorted = [...node.gpuFree].sort((a, b) => a - b);
  const key = `${node.model}|${sorted.join(",")}|${task.gpus}|${task.milli}|${task.models?.join("|") ?? ""}`;
  let best = cache.get(key);
  if (best === undefined) {
    best = null;
    const frag = (free: readonly number[]): number => index.nodeFragmentation(prepareNode({ name: "", pool: "", gpuModel: node.model, units: free.map((f) => ({ free: f, domain: "node" })) }));
    const now = frag(sorted);
    const options = task.gpus === 1 ? [...new Set(sorted.filter((f) => f >= task.milli))] : sorted.filter((f) => f >= task.milli).length >= task.gpus ? [task.milli] : [];
    for (const free of options) {
      const after = [...sorted];
      if (task.gpus === 1) after[after.indexOf(free)] = free - task.milli;
      else {
        let left = task.gpus;
        for (let i = after.length - 1; i >= 0 && left > 0; i--) if ((after[i] as number) >= task.milli) { after[i] = (after[i] as number) - task.milli; left--; }
      }
      const delta = frag(after) - now;
      if (best === null || delta < best.delta) best = { delta, free };
    }
    cache.set(key, best);
  }
  if (best === null) return undefined;
  if (task.gpus === 1) return { gpus: [node.gpuFree.indexOf(best.free)], delta: best.delta };
  const gpus: number[] = [];
  node.gpuFree.forEach((free, i) => {
    if (gpus.length < task.gpus && free >= task.milli) gpus.push(i);
  });
  return { gpus, delta: best.delta };
}

function bestFitScore(node: OpenbNode, task: OpenbTask): number {
  const gpuFree = node.gpuFree.reduce((a, b) => a + b, 0);
  return 0.5 * ((node.cpuFree - task.cpu) / node.cpu) + 0.5 * (node.gpuFree.length > 0 ? (gpuFree - gpuRequest(task)) / (node.gpuFree.length * 1000) : 1);
}

/** Runs one policy over one arrival order; pure apart from reading the trace files. */
export function packAlibabaTrace(dir: string, policy: PackingPolicy, options: { readonly seed?: number; readonly shuffle?: boolean; readonly load?: number } = {}): AlibabaResult {
  const started = performance.now();
  const { nodes: freshNodes, tasks } = readTrace(dir);
  const nodes = freshNodes();
  const capacity = nodes.reduce((sum, n) => sum + n.gpuFree.length * 1000, 0);
  const load = options.load ?? 1.3;
  const sequence = arrivals(tasks, capacity, load, options.seed ?? 42, options.shuffle ?? false);
  const samples: ShapeSample[] = tasks.map((t) => (t.models === undefined ? { gpus: t.gpus, request: t.milli } : { gpus: t.gpus, request: t.milli, gpuModels: t.models }));
  const index = new ShapeIndex(shapeDistribution(samples));
  const cache = new Map<string, { delta: number; free: number } | null>();
  let allocated = 0;
  let arrived = 0;
  let failed = 0;
  for (const task of sequence) {
    arrived += gpuRequest(task);
    let chosen: { node: OpenbNode; gpus: number[]; score: number } | undefined;
    for (const node of nodes) {
      if (!canHost(node, task)) continue;
      let placement: { gpus: number[]; score: number } | undefined;
      if (policy === "fgd") {
        const fgd = fgdOnNode(node, task, index, cache);
        if (fgd) placement = { gpus: fgd.gpus, score: fgd.delta };
      } else {
        const gpus = task.gpus === 0 ? [] : fullestFitting(node, task);
        if (gpus) placement = { gpus, score: bestFitScore(node, task) };
      }
      if (placement && (chosen === undefined || placement.score < chosen.score)) chosen = { node, ...placement };
    }
    if (chosen === undefined) {
      failed++;
      continue;
    }
    chosen.node.cpuFree -= task.cpu;
    chosen.node.memoryFree -= task.memory;
    for (const g of chosen.gpus) chosen.node.gpuFree[g] = (chosen.node.gpuFree[g] as number) - task.milli;
    allocated += gpuRequest(task);
  }
  return {
    policy,
    order: options.shuffle ? `shuffled (seed ${options.seed ?? 42})` : "trace order",
    gpus: capacity / 1000,
    arrivedRatio: arrived / capacity,
    allocatedRatio: allocated / capacity,
    tasksArrived: sequence.length,
    tasksFailed: failed,
    seconds: (performance.now() - started) / 1000,
  };
}
