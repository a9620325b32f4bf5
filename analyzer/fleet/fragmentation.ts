/**
 * GPU fragmentation: how much free GPU capacity the fleet's own replica shapes cannot use.
 *
 * Three figures, per node, per pool and for the fleet:
 * - stranded capacity: free capacity in pieces that no observed shape can use at all;
 * - partially used GPUs: GPUs holding something while still having free capacity;
 * - expected fragmentation, the measure of the FGD paper: Weng et al., "Beware of Fragmentation:
 *   Scheduling GPU-Sharing Workloads with Fragmentation Gradient Descent", USENIX ATC 2023
 *   (https://www.usenix.org/conference/atc23/presentation/weng), as the authors' simulator computes
 *   it (hkust-adsl/kubernetes-scheduler-simulator, pkg/utils/frag.go, NodeGpuShareFragAmount and
 *   GetTypicalPods).
 *
 * The core is generic over a per-unit "free amount" and a per-GPU "request", so the same code scores
 * GPU memory in bytes (the fleet snapshot) and the Alibaba trace's gpu_milli shares (the recommender's
 * reproduction of the paper). For LLM replicas the measure is memory: a replica reserves its weights
 * and KV cache up front (vLLM's gpu_memory_utilization) and cannot start without them, while compute
 * is time-shared and a replica with too little of it only slows down; memory also carries the GPU
 * model's size, so an 80 GB shape simply does not fit a 24 GB card.
 */
import type { FleetGpu, FleetSnapshot } from "./snapshot.js";

/** A unit tasks are placed on (a GPU, or a MIG device) and the amount still free on it. */
export interface FreeUnit {
  readonly free: number;
  /** Units of one node with the same domain can hold one multi-GPU task together; `null`: only alone. */
  readonly domain: string | null;
}

/** A node as the fragmentation measure sees it. */
export interface FragNode {
  readonly name: string;
  readonly pool: string;
  /** GPU type, matched against a shape's `gpuModels` when the shape restricts them. */
  readonly gpuModel?: string;
  readonly units: readonly FreeUnit[];
}

/** A typical task: `gpus` units of one domain, each with at least `request` free; drawn with `popularity`. */
export interface TaskShape {
  readonly gpus: number;
  readonly request: number;
  /** Probability of this shape in the target workload; the shapes' popularities sum to 1. */
  readonly popularity: number;
  /** GPU types the task accepts; absent means any. */
  readonly gpuModels?: readonly string[];
}

/** One observed task, before grouping into shapes. */
export type ShapeSample = Omit<TaskShape, "popularity">;

/**
 * Groups tasks into shapes weighted by how often each occurs (FGD's GetTypicalPods). With
 * `coverage` < 1 only the most popular shapes covering that share of the tasks are kept, then their
 * popularities are renormalised to sum to 1, as the simulator does. Empty input gives no shapes.
 */
export function shapeDistribution(
  tasks: Iterable<ShapeSample>,
  options: { readonly coverage?: number } = {},
): TaskShape[] {
  const counts = new Map<string, { sample: ShapeSample; count: number }>();
  let total = 0;
  for (const task of tasks) {
    const models = task.gpuModels === undefined ? "*" : [...task.gpuModels].sort().join("|");
    const key = `${task.gpus}/${task.request}/${models}`;
    const entry = counts.get(key);
    if (entry) entry.count++;
    else counts.set(key, { sample: task, count: 1 });
    total++;
  }
  const ranked = [...counts.values()].sort(
    (a, b) => b.count - a.count || a.sample.gpus - b.sample.gpus || a.sample.request - b.sample.request,
  );
  const wanted = (options.coverage ?? 1) * total;
  const kept: typeof ranked = [];
  let covered = 0;
  for (const entry of ranked) {
    if (covered >= wanted && kept.length > 0) break;
    kept.push(entry);
    covered += entry.count;
  }
  return kept.map(({ sample, count }) => ({ ...sample, popularity: count / covered }));
}

/** A node prepared for repeated scoring: free amounts sorted once, with prefix sums. */
export interface PreparedNode {
  readonly name: string;
  readonly pool: string;
  readonly gpuModel: string | undefined;
  /** Total free amount. */
  readonly free: number;
  /** Every unit's free amount, ascending, and prefix sums (`allPrefix[k]` = sum of the first k). */
  readonly all: Float64Array;
  readonly allPrefix: Float64Array;
  /** Domains of two or more units: free amounts descending, with prefix sums. */
  readonly domains: readonly { readonly desc: Float64Array; readonly prefix: Float64Array; readonly total: number }[];
  /** Free amount on units that can never join a multi-unit task (no domain, or alone in theirs). */
  readonly soloFree: number;
  /** Those units' free amounts. */
  readonly solo: Float64Array;
}

function prefixSums(values: Float64Array): Float64Array {
  const prefix = new Float64Array(values.length + 1);
  for (let i = 0; i < values.length; i++) prefix[i + 1] = (prefix[i] as number) + (values[i] as number);
  return prefix;
}

/** Index of the first value ≥ x in an ascending array. */
function lowerBound(ascending: Float64Array, x: number): number {
  let lo = 0;
  let hi = ascending.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ascending[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Number of values ≥ x in a descending array. */
function countAtLeast(descending: Float64Array, x: number): number {
  let lo = 0;
  let hi = descending.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((descending[mid] as number) >= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Sorts a node's free amounts once so that each shape then costs a binary search per domain. */
export function prepareNode(node: FragNode): PreparedNode {
  const byDomain = new Map<string, number[]>();
  const solo: number[] = [];
  for (const unit of node.units) {
    if (unit.domain === null) solo.push(unit.free);
    else {
      const list = byDomain.get(unit.domain);
      if (list) list.push(unit.free);
      else byDomain.set(unit.domain, [unit.free]);
    }
  }
  const domains: PreparedNode["domains"][number][] = [];
  for (const list of byDomain.values()) {
    if (list.length === 1) {
      solo.push(list[0] as number);
      continue;
    }
    const desc = Float64Array.from(list).sort().reverse();
    const prefix = prefixSums(desc);
    domains.push({ desc, prefix, total: prefix[desc.length] as number });
  }
  const all = Float64Array.from(node.units, (unit) => unit.free).sort();
  const allPrefix = prefixSums(all);
  const soloSorted = Float64Array.from(solo).sort().reverse();
  return {
    name: node.name,
    pool: node.pool,
    gpuModel: node.gpuModel,
    free: allPrefix[all.length] as number,
    all,
    allPrefix,
    domains,
    soloFree: prefixSums(soloSorted)[soloSorted.length] as number,
    solo: soloSorted,
  };
}

function canAccess(node: PreparedNode, shape: { readonly gpuModels?: readonly string[] }): boolean {
  return shape.gpuModels === undefined || (node.gpuModel !== undefined && shape.gpuModels.includes(node.gpuModel));
}

/**
 * The free amount on `node` that one shape cannot use (FGD's fragment of node n for task m):
 * all of it when the shape cannot be placed there (wrong GPU type, or no domain with `gpus` units
 * each having ≥ `request` free), else the per-unit leftovers smaller than `request`.
 *
 * Extension for NVLink: a multi-GPU shape can only use units of a domain that has enough qualifying
 * units, so qualifying units in a domain that is too small count as fragment too. The node-level
 * rule then splits into an independent rule per domain: a domain whose `gpus`-th largest free amount
 * is ≥ `request` contributes its leftovers < `request`, any other domain all of its free amount.
 * For one-GPU shapes the node's fragment is simply the sum of free amounts < `request` (a node where
 * the shape fits nowhere has every unit below `request`).
 */
export function shapeFragment(node: PreparedNode, shape: Omit<TaskShape, "popularity">): number {
  if (!canAccess(node, shape)) return node.free;
  const request = shape.request;
  if (shape.gpus <= 1) return node.allPrefix[lowerBound(node.all, request)] as number;
  let fragment = node.soloFree;
  for (const domain of node.domains) {
    const qualifying = countAtLeast(domain.desc, request);
    fragment += qualifying >= shape.gpus ? domain.total - (domain.prefix[qualifying] as number) : domain.total;
  }
  return fragment;
}

/** Shapes of one GPU count and one access class: requests ascending, and the popularity above each. */
interface RequestTable {
  readonly gpus: number;
  readonly requests: Float64Array;
  /** `tail[i]` = Σ popularity of requests[i..]; `tail[0]` is the table's whole popularity. */
  readonly tail: Float64Array;
}

/** Shapes that accept the same GPU types. */
interface AccessClass {
  readonly gpuModels: ReadonlySet<string> | undefined;
  readonly popularity: number;
  readonly tables: readonly RequestTable[];
}

/** Popularity of the table's shapes whose request is > x. */
function popularityAbove(table: RequestTable, x: number): number {
  let lo = 0;
  let hi = table.requests.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((table.requests[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  return table.tail[lo] as number;
}

/**
 * A shape distribution indexed for scoring many nodes: shapes grouped by accepted GPU types and GPU
 * count, requests sorted with tail popularities. Scoring a node then costs O(units × GPU counts ×
 * log shapes), whatever the number of distinct shapes.
 */
export class ShapeIndex {
  readonly shapes: readonly TaskShape[];
  private readonly classes: readonly AccessClass[];
  private readonly minsByGpuModel = new Map<string, ReadonlyMap<number, number>>();

  constructor(shapes: readonly TaskShape[]) {
    this.shapes = shapes;
    const grouped = new Map<string, { gpuModels: ReadonlySet<string> | undefined; byGpus: Map<number, TaskShape[]> }>();
    for (const shape of shapes) {
      const key = shape.gpuModels === undefined ? "*" : [...shape.gpuModels].sort().join("|");
      let group = grouped.get(key);
      if (group === undefined)
        grouped.set(key, (group = { gpuModels: shape.gpuModels && new Set(shape.gpuModels), byGpus: new Map() }));
      const gpus = Math.max(1, shape.gpus);
      const list = group.byGpus.get(gpus);
      if (list) list.push(shape);
      else group.byGpus.set(gpus, [shape]);
    }
    this.classes = [...grouped.values()].map(({ gpuModels, byGpus }) => {
      const tables = [...byGpus].map(([gpus, list]) => {
        list.sort((a, b) => a.request - b.request);
        const tail = new Float64Array(list.length + 1);
        for (let i = list.length - 1; i >= 0; i--)
          tail[i] = (tail[i + 1] as number) + (list[i] as TaskShape).popularity;
        return { gpus, requests: Float64Array.from(list, (shape) => shape.request), tail };
      });
      return { gpuModels, popularity: tables.reduce((sum, table) => sum + (table.tail[0] as number), 0), tables };
    });
  }

  /** True when there are no shapes: nothing is fragment and nothing is stranded. */
  get isEmpty(): boolean {
    return this.shapes.length === 0;
  }

  private canAccess(cls: AccessClass, node: PreparedNode): boolean {
    return cls.gpuModels === undefined || (node.gpuModel !== undefined && cls.gpuModels.has(node.gpuModel));
  }

  /**
   * FGD node fragmentation F_n(M) = Σ_m p_m × fragment(n, m) (shapeFragment), regrouped by unit:
   * for one-GPU shapes a unit with free f is fragment for every shape requesting more than f, so it
   * adds f × P(request > f). For n-GPU shapes, with k the domain's n-th largest free amount, shapes
   * requesting more than k cannot use the domain (total × P(request > k)) and the others leave
   * f × (P(request > f) − P(request > k)) on each unit with f < k; units that cannot join a group of
   * n add their free amount × P(n-GPU shapes). Equal to the per-shape sum, in any number of shapes.
   */
  nodeFragmentation(node: PreparedNode): number {
    if (node.free === 0) return 0;
    let fragment = 0;
    for (const cls of this.classes) {
      if (!this.canAccess(cls, node)) {
        fragment += cls.popularity * node.free;
        continue;
      }
      for (const table of cls.tables)
        fragment += table.gpus === 1 ? singleGpuFragment(node, table) : multiGpuFragment(node, table);
    }
    return fragment;
  }

  /** Smallest request per GPU count among the shapes `node` can host. */
  minRequests(node: PreparedNode): ReadonlyMap<number, number> {
    const key = node.gpuModel ?? "";
    let mins = this.minsByGpuModel.get(key);
    if (mins === undefined) {
      const built = new Map<number, number>();
      for (const cls of this.classes) {
        if (!this.canAccess(cls, node)) continue;
        for (const table of cls.tables)
          built.set(table.gpus, Math.min(built.get(table.gpus) ?? Infinity, table.requests[0] as number));
      }
      this.minsByGpuModel.set(key, (mins = built));
    }
    return mins;
  }
}

function singleGpuFragment(node: PreparedNode, table: RequestTable): number {
  let fragment = 0;
  for (const free of node.all) if (free > 0) fragment += free * popularityAbove(table, free);
  return fragment;
}

function multiGpuFragment(node: PreparedNode, table: RequestTable): number {
  const all = table.tail[0] as number;
  let fragment = node.soloFree * all;
  for (const domain of node.domains) {
    if (domain.desc.length < table.gpus) {
      fragment += domain.total * all;
      continue;
    }
    const kth = domain.desc[table.gpus - 1] as number;
    const aboveKth = popularityAbove(table, kth);
    fragment += domain.total * aboveKth;
    for (let i = table.gpus; i < domain.desc.length; i++) {
      const free = domain.desc[i] as number;
      if (free <= 0) break;
      fragment += free * (popularityAbove(table, free) - aboveKth);
    }
  }
  return fragment;
}

/** FGD node fragmentation F_n(M) = Σ_m p_m × fragment(n, m), in the unit of the free amounts. */
export function nodeFragmentation(node: PreparedNode, shapes: ShapeIndex): number {
  return shapes.nodeFragmentation(node);
}

/**
 * Free amount no shape can use on `node`, and on how many units it lies. A unit with free f is usable
 * by a one-GPU shape when f ≥ its request, and by an n-GPU shape when f ≥ its request and its domain
 * holds n units with at least that request free (for a unit among the domain's n largest, that is
 * the n-th largest; for the others, f itself bounds it). With no shapes at all nothing is stranded.
 */
export function strandedFree(
  node: PreparedNode,
  index: ShapeIndex,
): { readonly amount: number; readonly units: number } {
  if (index.isEmpty) return { amount: 0, units: 0 };
  const mins = index.minRequests(node);
  const single = mins.get(1) ?? Infinity;
  const multi = [...mins].filter(([gpus]) => gpus > 1);
  let amount = 0;
  let units = 0;
  const strand = (free: number): void => {
    if (free > 0) {
      amount += free;
      units++;
    }
  };
  for (const free of node.solo) if (free < single) strand(free);
  for (const domain of node.domains) {
    for (let i = 0; i < domain.desc.length; i++) {
      const free = domain.desc[i] as number;
      if (free >= single) continue;
      const isUsable = multi.some(
        ([gpus, request]) => gpus <= domain.desc.length && Math.min(free, domain.desc[gpus - 1] as number) >= request,
      );
      if (!isUsable) strand(free);
    }
  }
  return { amount, units };
}

// ---------------------------------------------------------------------------------------------
// The fleet snapshot, measured in GPU memory.

/**
 * What counts as used memory on a GPU: what NVML reports (`observed`), what the replicas on it
 * reserved (`allocated`), or the larger of the two (`max`, the default: OpenCost's max(request,
 * usage) convention, opencost/opencost spec/opencost-specv01.md), so neither a process outside any
 * replica nor a replica still loading makes memory look free.
 */
export type UsedMemoryBasis = "observed" | "allocated" | "max";

export interface FleetFragmentationOptions {
  readonly basis?: UsedMemoryBasis;
  /** Shapes from the whole fleet (default: stranded memory is free memory no shape seen in the fleet can use) or from each pool's own replicas. */
  readonly shapeScope?: "fleet" | "pool";
  /** Keep the most popular shapes covering this share of replicas (FGD's typical pods); default 1, all. */
  readonly coverage?: number;
}

/** A replica shape seen in the fleet: tensor-parallel degree and memory per GPU. */
export interface ReplicaShape {
  readonly tensorParallel: number;
  readonly memoryPerGpuBytes: number;
  readonly popularity: number;
}

/** Fragmentation figures of a set of nodes, in bytes of GPU memory and GPU counts. */
export interface FragmentationFigures {
  /** Healthy GPUs (physical; a MIG GPU counts once). */
  readonly gpus: number;
  readonly unhealthyGpus: number;
  readonly freeBytes: number;
  /** FGD expected fragmentation: Σ nodes Σ shapes p × fragment, bytes. */
  readonly expectedFragmentBytes: number;
  /** expectedFragmentBytes ÷ freeBytes; 0 when nothing is free. */
  readonly fragmentationRatio: number;
  /** Free memory no shape can use, bytes. */
  readonly strandedBytes: number;
  /** GPUs or MIG devices whose free memory is stranded. */
  readonly strandedUnits: number;
  /** GPUs with some memory used and some free. */
  readonly partiallyUsedGpus: number;
  /** GPUs with nothing used. */
  readonly idleGpus: number;
}

export interface NodeFragmentationRow {
  readonly node: string;
  readonly pool: string;
  readonly freeBytes: number;
  readonly expectedFragmentBytes: number;
  readonly strandedBytes: number;
}

export interface FleetFragmentation {
  readonly shapes: readonly ReplicaShape[];
  readonly total: FragmentationFigures;
  /** Per pool, sorted by pool name. */
  readonly pools: readonly (FragmentationFigures & { readonly pool: string })[];
  /** Per node, in snapshot order. */
  readonly nodes: readonly NodeFragmentationRow[];
}

/** Memory reserved by replicas on each GPU or MIG device, by uuid. */
function allocatedByDevice(snapshot: FleetSnapshot): Map<string, number> {
  const allocated = new Map<string, number>();
  for (const replica of snapshot.replicas) {
    for (const uuid of replica.gpus) allocated.set(uuid, (allocated.get(uuid) ?? 0) + replica.memoryPerGpuBytes);
  }
  return allocated;
}

function usedBytes(basis: UsedMemoryBasis, observed: number, allocated: number): number {
  if (basis === "observed") return observed;
  if (basis === "allocated") return allocated;
  return Math.max(observed, allocated);
}

/** Per-GPU memory use and the units it offers, under a basis. */
function gpuUnits(
  gpu: FleetGpu,
  basis: UsedMemoryBasis,
  allocated: ReadonlyMap<string, number>,
): { used: number; total: number; units: FreeUnit[] } {
  const devices = gpu.mig !== undefined && gpu.mig.length > 0 ? gpu.mig : undefined;
  if (devices === undefined) {
    const used = Math.min(gpu.memoryTotalBytes, usedBytes(basis, gpu.memoryUsedBytes, allocated.get(gpu.uuid) ?? 0));
    return {
      used,
      total: gpu.memoryTotalBytes,
      units: [{ free: gpu.memoryTotalBytes - used, domain: gpu.nvlinkDomain }],
    };
  }
  let used = 0;
  let total = 0;
  const units: FreeUnit[] = [];
  for (const device of devices) {
    const deviceUsed = Math.min(
      device.memoryTotalBytes,
      usedBytes(basis, device.memoryUsedBytes, allocated.get(device.uuid) ?? 0),
    );
    used += deviceUsed;
    total += device.memoryTotalBytes;
    units.push({ free: device.memoryTotalBytes - deviceUsed, domain: null });
  }
  return { used, total, units };
}

/**
 * The snapshot's nodes as the fragmentation core sees them: one unit per healthy GPU (one per MIG
 * device on a MIG GPU) with its free memory in bytes under `basis`. Unhealthy GPUs offer nothing.
 */
export function memoryFragNodes(snapshot: FleetSnapshot, basis: UsedMemoryBasis = "max"): FragNode[] {
  const allocated = allocatedByDevice(snapshot);
  return snapshot.nodes.map((node) => ({
    name: node.name,
    pool: node.pool,
    units: node.gpus.filter((gpu) => gpu.isHealthy).flatMap((gpu) => gpuUnits(gpu, basis, allocated).units),
  }));
}

/** The replica shape distribution of a set of replicas, as FGD task shapes in bytes. */
export function replicaShapes(replicas: FleetSnapshot["replicas"], coverage = 1): TaskShape[] {
  return shapeDistribution(
    replicas.map((replica) => ({ gpus: replica.tensorParallel, request: replica.memoryPerGpuBytes })),
    { coverage },
  );
}

interface Accumulator {
  gpus: number;
  unhealthyGpus: number;
  freeBytes: number;
  expectedFragmentBytes: number;
  strandedBytes: number;
  strandedUnits: number;
  partiallyUsedGpus: number;
  idleGpus: number;
}

const emptyAccumulator = (): Accumulator => ({
  gpus: 0,
  unhealthyGpus: 0,
  freeBytes: 0,
  expectedFragmentBytes: 0,
  strandedBytes: 0,
  strandedUnits: 0,
  partiallyUsedGpus: 0,
  idleGpus: 0,
});

function figures(acc: Accumulator): FragmentationFigures {
  return { ...acc, fragmentationRatio: acc.freeBytes > 0 ? acc.expectedFragmentBytes / acc.freeBytes : 0 };
}

function addInto(target: Accumulator, source: Accumulator): void {
  for (const key of Object.keys(source) as (keyof Accumulator)[]) target[key] += source[key];
}

/**
 * Stranded memory, partially used GPUs and FGD expected fragmentation of a fleet snapshot, per node,
 * per pool and in total, with shapes taken from the replicas (tensor-parallel degree × memory per
 * GPU, popularity = share of replicas). Pure. Cost: sorting each node's free memory, then per GPU
 * one binary search per tensor-parallel degree seen, whatever the number of distinct shapes.
 */
export function fleetFragmentation(
  snapshot: FleetSnapshot,
  options: FleetFragmentationOptions = {},
): FleetFragmentation {
  const basis = options.basis ?? "max";
  const coverage = options.coverage ?? 1;
  const fleetShapes = replicaShapes(snapshot.replicas, coverage);
  const shapesOf = new Map<string, TaskShape[]>();
  if (options.shapeScope === "pool") {
    const poolOf = new Map(snapshot.nodes.map((node) => [node.name, node.pool]));
    const byPool = new Map<string, FleetSnapshot["replicas"][number][]>();
    for (const replica of snapshot.replicas) {
      const pool = poolOf.get(replica.node) ?? "";
      const list = byPool.get(pool);
      if (list) list.push(replica);
      else byPool.set(pool, [replica]);
    }
    for (const [pool, replicas] of byPool) shapesOf.set(pool, replicaShapes(replicas, coverage));
  }
  const indexes = new Map<TaskShape[], ShapeIndex>();
  const allocated = allocatedByDevice(snapshot);
  const pools = new Map<string, Accumulator>();
  const total = emptyAccumulator();
  const nodes: NodeFragmentationRow[] = [];

  for (const node of snapshot.nodes) {
    const shapes = shapesOf.get(node.pool) ?? fleetShapes;
    let index = indexes.get(shapes);
    if (index === undefined) indexes.set(shapes, (index = new ShapeIndex(shapes)));
    const acc = emptyAccumulator();
    const units: FreeUnit[] = [];
    for (const gpu of node.gpus) {
      if (!gpu.isHealthy) {
        acc.unhealthyGpus++;
        continue;
      }
      const use = gpuUnits(gpu, basis, allocated);
      acc.gpus++;
      if (use.used === 0) acc.idleGpus++;
      else if (use.used < use.total) acc.partiallyUsedGpus++;
      units.push(...use.units);
    }
    const prepared = prepareNode({ name: node.name, pool: node.pool, units });
    const stranded = strandedFree(prepared, index);
    acc.freeBytes = prepared.free;
    acc.expectedFragmentBytes = index.nodeFragmentation(prepared);
    acc.strandedBytes = stranded.amount;
    acc.strandedUnits = stranded.units;
    nodes.push({
      node: node.name,
      pool: node.pool,
      freeBytes: acc.freeBytes,
      expectedFragmentBytes: acc.expectedFragmentBytes,
      strandedBytes: acc.strandedBytes,
    });
    let pool = pools.get(node.pool);
    if (pool === undefined) pools.set(node.pool, (pool = emptyAccumulator()));
    addInto(pool, acc);
    addInto(total, acc);
  }

  return {
    shapes: fleetShapes.map((shape) => ({
      tensorParallel: shape.gpus,
      memoryPerGpuBytes: shape.request,
      popularity: shape.popularity,
    })),
    total: figures(total),
    pools: [...pools]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([pool, acc]) => ({ pool, ...figures(acc) })),
    nodes,
  };
}
