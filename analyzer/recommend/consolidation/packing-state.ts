/**
 * The planner's working state: the snapshot flattened into typed arrays indexed by GPU, replica and
 * node, with a best-fit index per placement class, so that finding a destination costs a binary
 * search and a short scan. Moves are applied and undone in place; every change keeps the in-use
 * counts of GPUs and nodes current. The independent checker (checker.ts) shares none of this.
 */
import type { FleetNode, FleetSnapshot } from "../../fleet/snapshot.js";
import {
  COMPUTE_EPSILON,
  fleetLoads,
  immovableReason,
  isMigGpu,
  migDeviceUuids,
  modelMoveBudget,
  nodeAdmits,
  replicasPerModel,
  spreadLimit,
  usableMemoryBytes,
  type ConsolidationConfig,
  type ConstraintId,
  type FleetLoads,
} from "../constraints.js";
import { FreeIndex, type FreeIndexView } from "./free-index.js";
import { placementClassOf } from "./placement-class.js";
import { GIB } from "../../../common/units.js";

/** One placement class: the GPUs a replica of the class may move to, and their NVLink domains. */
export interface PlacementClass {
  readonly index: FreeIndexView;
  /** Ids (`PackingState.domainGpus`) of NVLink domains with two or more GPUs of the class. */
  readonly domains: readonly number[];
}

/** A placement class as the state keeps and updates it. */
interface ClassSlot {
  readonly index: FreeIndex;
  readonly domains: number[];
}

/** One move as the search made it, in GPU indices of the state. */
export interface SearchMove {
  readonly replica: number;
  readonly from: readonly number[];
  readonly to: readonly number[];
  readonly reason: string;
}

const NONE: readonly number[] = Object.freeze([]);
/** The class of nothing: no GPUs, no domains (what a replica outside every class sees). */
const NO_CLASS: PlacementClass = { index: new FreeIndex(), domains: [] };

/** GPUs per NVLink domain whose free amounts are tracked for the quick tensor-parallel filter. */
const MAX_DOMAIN = 16;

/**
 * The flattened fleet and the current placement. Its arrays are its own: other files read them
 * through the accessors below (an index out of range reads as 0, or -1 for class and domain ids,
 * or nothing) and change the placement only through `lift`, `place`, `commit` and `setDraining`.
 */
export class PackingState {
  readonly nodes: readonly FleetNode[];
  // GPUs
  private readonly gpuNode: Int32Array;
  private readonly gpuUuid: string[];
  private readonly gpuLabel: string[];
  private readonly usable: Float64Array;
  private readonly memory: Float64Array;
  private readonly load: Float64Array;
  private readonly hasBaseline: Uint8Array;
  private readonly isDestination: Uint8Array;
  private readonly servesBurning: Uint8Array;
  private readonly draining: Uint8Array;
  /** Placement class of each GPU that can receive (healthy, not MIG), else -1. */
  private readonly gpuClass: Int32Array;
  /** Placement class of every GPU not in MIG mode, healthy or not (a replica may leave a lost GPU), else -1. */
  private readonly gpuClassAll: Int32Array;
  private readonly residents: number[][];
  // Replicas
  private readonly replicaIds: string[];
  private readonly size: Float64Array;
  private readonly share: Float64Array;
  private readonly replicaNode: Int32Array;
  /** The node each replica was on in the snapshot. */
  private readonly originNode: Int32Array;
  private readonly replicaGpus: number[][];
  private readonly replicaModel: Int32Array;
  private readonly replicaTier: Int32Array;
  private readonly replicaClass: Int32Array;
  private readonly replicaSignature: Int32Array;
  private readonly stays: (ConstraintId | undefined)[];
  private readonly moved: Uint8Array;
  // Models and classes
  private readonly modelNames: string[];
  private readonly modelBudget: Int32Array;
  private readonly modelMoves: Int32Array;
  private readonly modelSpread: Float64Array;
  private readonly classes: ClassSlot[] = [];
  /** Each class's key (placement-class.ts), indexed like `classes`. */
  private readonly classKeys: string[] = [];
  /** Per class, how many drains were kept there so far (the search's failure memo reads it). */
  private readonly classEpoch: Int32Array;
  /** NVLink domains: GPU lists of one node and class, two GPUs or more. */
  private readonly domains: number[][] = [];
  /** Domain id of each GPU, or -1. */
  private readonly gpuDomain: Int32Array;
  /** Per domain, MAX_DOMAIN slots of its GPUs' free amounts, descending. */
  private readonly domainFree: Float64Array;
  // Counts
  private readonly nodeInUse: Int32Array;
  /** GPU indices of each node. */
  private readonly nodeGpus: number[][];
  private gpusInUseNow = 0;
  private nodesInUseNow = 0;
  /** In-use flags and counts as in the snapshot, before any move. */
  private readonly initialInUse: Uint8Array;
  private readonly initialNodeInUse: Int32Array;
  readonly initialGpusInUse: number;
  readonly initialNodesInUse: number;
  private movesMadeNow = 0;
  readonly maxMoves: number;
  readonly computeCeiling: number;
  /** Whether the search may move a third replica to make room (ejection chains; small fleets). */
  readonly canEject: boolean;
  private readonly onNode = new Map<number, number>();
  private readonly admitCache: Int8Array[] = [];
  private readonly signatureReplica: number[] = [];

  constructor(
    private readonly snapshot: FleetSnapshot,
    readonly config: ConsolidationConfig,
    loads: FleetLoads = fleetLoads(snapshot),
    options: { readonly canEject?: boolean } = {},
  ) {
    this.canEject = options.canEject ?? false;
    this.nodes = snapshot.nodes;
    const gpus = snapshot.nodes.flatMap((node, n) => node.gpus.map((gpu) => ({ node, n, gpu })));
    const G = gpus.length;
    const R = snapshot.replicas.length;
    this.gpuNode = Int32Array.from(gpus, (g) => g.n);
    this.gpuUuid = gpus.map((g) => g.gpu.uuid);
    this.gpuLabel = gpus.map((g) => `${g.node.name}/${g.gpu.index}`);
    this.usable = Float64Array.from(gpus, (g) => usableMemoryBytes(g.gpu, config));
    const { baseline, shares } = loads;
    this.memory = Float64Array.from(gpus, (g) => baseline.get(g.gpu.uuid)?.memoryBytes ?? 0);
    this.load = Float64Array.from(gpus, (g) => baseline.get(g.gpu.uuid)?.utilization ?? 0);
    this.hasBaseline = Uint8Array.from(gpus, (_, i) => (this.memoryOf(i) > 0 || this.loadOf(i) > 0 ? 1 : 0));
    this.isDestination = Uint8Array.from(gpus, (g) => (g.gpu.isHealthy && !isMigGpu(g.gpu) ? 1 : 0));
    this.servesBurning = new Uint8Array(G);
    this.draining = new Uint8Array(G);
    this.gpuClass = new Int32Array(G).fill(-1);
    this.gpuClassAll = new Int32Array(G).fill(-1);
    this.gpuDomain = new Int32Array(G).fill(-1);
    this.residents = Array.from({ length: G }, () => []);
    this.nodeInUse = new Int32Array(snapshot.nodes.length);
    this.nodeGpus = snapshot.nodes.map(() => []);
    gpus.forEach((g, i) => (this.nodeGpus[g.n] ?? []).push(i));

    const gpuByUuid = new Map<string, number>();
    gpus.forEach((g, i) => {
      gpuByUuid.set(g.gpu.uuid, i);
      for (const mig of g.gpu.mig ?? []) gpuByUuid.set(mig.uuid, i);
    });
    const nodeByName = new Map(snapshot.nodes.map((node, n) => [node.name, n]));

    const classKey = (pool: string, gpuModel: string): string => placementClassOf(pool, gpuModel, config).key;
    const classIds = new Map<string, number>();
    const classOf = (key: string): number => {
      let id = classIds.get(key);
      if (id === undefined) {
        classIds.set(key, (id = this.classes.length));
        this.classes.push({ index: new FreeIndex(), domains: [] });
        this.classKeys.push(key);
      }
      return id;
    };
    gpus.forEach((g, i) => {
      if (isMigGpu(g.gpu)) return;
      const cls = classOf(classKey(g.node.pool, g.gpu.gpuModel));
      this.gpuClassAll[i] = cls;
      if (this.isDestination[i]) this.gpuClass[i] = cls;
    });

    const migDevices = migDeviceUuids(snapshot);
    const counts = replicasPerModel(snapshot);
    const burning = new Set(
      Object.entries(snapshot.slo)
        .filter(([, s]) => s.isBurningPage)
        .map(([m]) => m),
    );
    const modelIds = new Map<string, number>();
    const tierIds = new Map<string, number>();
    const signatureIds = new Map<string, number>();
    this.replicaIds = snapshot.replicas.map((r) => r.id);
    this.size = new Float64Array(R);
    this.share = new Float64Array(R);
    this.replicaNode = new Int32Array(R);
    this.originNode = new Int32Array(R);
    this.replicaModel = new Int32Array(R);
    this.replicaTier = new Int32Array(R);
    this.replicaClass = new Int32Array(R);
    this.replicaSignature = new Int32Array(R);
    this.moved = new Uint8Array(R);
    this.modelNames = [];
    this.replicaGpus = snapshot.replicas.map((replica, r) => {
      const node = nodeByName.get(replica.node);
      const found = replica.gpus.map((uuid) => gpuByUuid.get(uuid));
      const held = found.filter((g): g is number => g !== undefined);
      const first = gpus[held[0] ?? 0];
      if (node === undefined || first === undefined || held.length !== found.length)
        throw new Error(`PackingState: replica ${replica.id} names an unknown node or GPU`);
      let model = modelIds.get(replica.model);
      if (model === undefined) {
        modelIds.set(replica.model, (model = this.modelNames.length));
        this.modelNames.push(replica.model);
      }
      let tier = tierIds.get(replica.tier);
      if (tier === undefined) tierIds.set(replica.tier, (tier = tierIds.size));
      const signature = JSON.stringify([replica.node, replica.tolerations, replica.nodeSelector]);
      let sig = signatureIds.get(signature);
      if (sig === undefined) {
        signatureIds.set(signature, (sig = this.signatureReplica.length));
        this.signatureReplica.push(r);
        this.admitCache.push(new Int8Array(snapshot.nodes.length).fill(-1));
      }
      this.size[r] = replica.memoryPerGpuBytes;
      this.share[r] = shares.get(replica.id) ?? 0;
      this.replicaNode[r] = node;
      this.originNode[r] = node;
      this.replicaModel[r] = model;
      this.replicaTier[r] = tier;
      this.replicaSignature[r] = sig;
      this.replicaClass[r] = classOf(classKey(first.node.pool, first.gpu.gpuModel));
      for (const g of held) {
        (this.residents[g] ?? []).push(r);
        this.memory[g] = this.memoryOf(g) + replica.memoryPerGpuBytes;
        this.load[g] = this.loadOf(g) + this.shareOf(r);
        if (burning.has(replica.model)) this.servesBurning[g] = 1;
      }
      this.bumpOnNode(node, model, 1);
      return held;
    });
    this.stays = snapshot.replicas.map((replica) => immovableReason(replica, snapshot, migDevices));
    this.modelBudget = Int32Array.from(this.modelNames, (m) => modelMoveBudget(counts.get(m) ?? 0, config));
    this.modelMoves = new Int32Array(this.modelNames.length);
    this.modelSpread = Float64Array.from(this.modelNames, (m) => spreadLimit(m, config));
    this.maxMoves = config.disruption.maxMoves ?? Infinity;
    this.computeCeiling = config.computeCeilingRatio;

    for (let g = 0; g < G; g++) {
      if (this.isInUse(g)) {
        this.gpusInUseNow++;
        const n = this.gpuNodeOf(g);
        if (this.gpusInUseOnNode(n) === 0) this.nodesInUseNow++;
        this.nodeInUse[n] = this.gpusInUseOnNode(n) + 1;
      }
      const cls = this.receivingClassOf(g);
      if (cls >= 0) this.classes[cls]?.index.insert(g, this.free(g));
    }
    snapshot.nodes.forEach((node) => {
      const byDomain = new Map<string, number[]>();
      node.gpus.forEach((gpu) => {
        const g = gpuByUuid.get(gpu.uuid) ?? -1;
        if (gpu.nvlinkDomain === null || this.receivingClassOf(g) < 0) return;
        const key = `${this.receivingClassOf(g)}\u0000${gpu.nvlinkDomain}`;
        const list = byDomain.get(key);
        if (list) list.push(g);
        else byDomain.set(key, [g]);
      });
      for (const list of byDomain.values()) {
        if (list.length < 2) continue;
        const id = this.domains.length;
        this.domains.push(list);
        for (const g of list) this.gpuDomain[g] = id;
        this.classes[this.receivingClassOf(list[0] ?? 0)]?.domains.push(id);
      }
    });
    this.domainFree = new Float64Array(this.domains.length * MAX_DOMAIN);
    for (let d = 0; d < this.domains.length; d++) this.refreshDomain(d);
    this.classEpoch = new Int32Array(this.classes.length);
    this.initialInUse = Uint8Array.from({ length: G }, (_, g) => (this.isInUse(g) ? 1 : 0));
    this.initialNodeInUse = this.nodeInUse.slice();
    this.initialGpusInUse = this.gpusInUseNow;
    this.initialNodesInUse = this.nodesInUseNow;
  }

  // Sizes
  get gpuCount(): number {
    return this.gpuNode.length;
  }

  get replicaCount(): number {
    return this.replicaIds.length;
  }

  get modelCount(): number {
    return this.modelNames.length;
  }

  get classCount(): number {
    return this.classes.length;
  }

  // Counts that moves change
  /** GPUs in use now (residents or baseline load). */
  get gpusInUse(): number {
    return this.gpusInUseNow;
  }

  /** Nodes with a GPU in use now. */
  get nodesInUse(): number {
    return this.nodesInUseNow;
  }

  /** Moves kept so far (`commit`). */
  get movesMade(): number {
    return this.movesMadeNow;
  }

  // GPU g
  /** Index of GPU g's node. */
  gpuNodeOf(g: number): number {
    return this.gpuNode[g] ?? 0;
  }

  gpuUuidOf(g: number): string {
    return this.gpuUuid[g] ?? "";
  }

  /** "node/index", for reasons and notes. */
  gpuLabelOf(g: number): string {
    return this.gpuLabel[g] ?? "";
  }

  /** Usable memory of GPU g (capacity less headroom), bytes. */
  usableOf(g: number): number {
    return this.usable[g] ?? 0;
  }

  /** Memory reserved on GPU g now (its replicas and baseline), bytes. */
  memoryOf(g: number): number {
    return this.memory[g] ?? 0;
  }

  /** Compute load on GPU g now (its replicas' shares and baseline), fraction of the GPU. */
  loadOf(g: number): number {
    return this.load[g] ?? 0;
  }

  /** Whether GPU g carries memory or load outside any replica (it stays in use whatever moves). */
  hasBaselineOn(g: number): boolean {
    return this.hasBaseline[g] === 1;
  }

  /** Whether GPU g serves a model whose SLO is burning at the paging rate. */
  servesBurningOn(g: number): boolean {
    return this.servesBurning[g] === 1;
  }

  /** Whether GPU g is being drained now (it receives nothing meanwhile). */
  isDraining(g: number): boolean {
    return this.draining[g] === 1;
  }

  /** Marks GPU g as being drained (it receives nothing) or not. */
  setDraining(g: number, isDraining: boolean): void {
    this.draining[g] = isDraining ? 1 : 0;
  }

  /** Placement class GPU g receives for (healthy, not MIG), else -1. */
  receivingClassOf(g: number): number {
    return this.gpuClass[g] ?? -1;
  }

  /** Placement class of GPU g whether or not it can receive (not MIG), else -1. */
  gpuClassOf(g: number): number {
    return this.gpuClassAll[g] ?? -1;
  }

  /** NVLink domain id of GPU g, or -1. */
  domainOf(g: number): number {
    return this.gpuDomain[g] ?? -1;
  }

  /** Whether GPU g was in use in the snapshot. */
  wasInUseInitially(g: number): boolean {
    return this.initialInUse[g] === 1;
  }

  // Replica r

  /** Memory replica r reserves on each of its GPUs, bytes. */
  sizeOf(r: number): number {
    return this.size[r] ?? 0;
  }

  /** Compute share replica r puts on each of its GPUs. */
  shareOf(r: number): number {
    return this.share[r] ?? 0;
  }

  /** Index of the node replica r is on now. */
  replicaNodeOf(r: number): number {
    return this.replicaNode[r] ?? 0;
  }

  /** Index of the node replica r was on in the snapshot. */
  originNodeOf(r: number): number {
    return this.originNode[r] ?? 0;
  }

  /** Model id of replica r. */
  modelOf(r: number): number {
    return this.replicaModel[r] ?? 0;
  }

  /** Tier id of replica r, or -1. */
  tierOf(r: number): number {
    return this.replicaTier[r] ?? -1;
  }

  /** Placement class id of replica r, or -1. */
  replicaClassOf(r: number): number {
    return this.replicaClass[r] ?? -1;
  }

  /** Why replica r may never move in this plan (pinned, SLO, MIG …), or undefined. */
  staysReasonOf(r: number): ConstraintId | undefined {
    return this.stays[r];
  }

  // Model m, node n, class c

  /** Moves model m may make in this plan (disruption share). */
  moveBudgetOf(m: number): number {
    return this.modelBudget[m] ?? 0;
  }

  /** Moves of model m kept so far. */
  movesOfModel(m: number): number {
    return this.modelMoves[m] ?? 0;
  }

  /** Replicas of model m one node may hold (Infinity: no limit). */
  spreadOf(m: number): number {
    return this.modelSpread[m] ?? Infinity;
  }

  /** GPUs of node n in use now. */
  gpusInUseOnNode(n: number): number {
    return this.nodeInUse[n] ?? 0;
  }

  /** GPUs of node n in use in the snapshot. */
  initialGpusInUseOnNode(n: number): number {
    return this.initialNodeInUse[n] ?? 0;
  }

  /** GPU indices of node n. */
  gpusOfNode(n: number): readonly number[] {
    return this.nodeGpus[n] ?? NONE;
  }

  /** Placement class c (its best-fit index and domains); an empty class when out of range. */
  placementClass(c: number): PlacementClass {
    return this.classes[c] ?? NO_CLASS;
  }

  /** Key of placement class c (placement-class.ts). */
  classKeyOf(c: number): string {
    return this.classKeys[c] ?? "";
  }

  /** How many drains were kept in class c so far (the search's failure memo reads it). */
  epochOf(c: number): number {
    return this.classEpoch[c] ?? 0;
  }

  /** The GPUs replica r holds now (empty while it is lifted). */
  gpusOf(r: number): readonly number[] {
    return this.replicaGpus[r] ?? NONE;
  }

  /** The replicas on GPU g now. */
  residentsOf(g: number): readonly number[] {
    return this.residents[g] ?? NONE;
  }

  /** The GPUs of NVLink domain `id`. */
  domainGpus(id: number): readonly number[] {
    return this.domains[id] ?? NONE;
  }

  /** The placement class replica r moves within. */
  classOfReplica(r: number): PlacementClass {
    return this.classes[this.replicaClassOf(r)] ?? NO_CLASS;
  }

  /** Records that a drain was kept in class `cls` (no-op for -1). */
  bumpEpoch(cls: number): void {
    if (cls >= 0) this.classEpoch[cls] = this.epochOf(cls) + 1;
  }

  /** Free usable memory of GPU g, bytes (negative when it is already over its headroom). */
  free(g: number): number {
    return this.usableOf(g) - this.memoryOf(g);
  }

  isInUse(g: number): boolean {
    return (this.residents[g] ?? []).length > 0 || this.hasBaselineOn(g);
  }

  /** Why replica r may not move now (pinned, SLO, MIG, already moved, budget), or undefined. */
  blocker(r: number): string | undefined {
    const stays = this.staysReasonOf(r);
    if (stays !== undefined) return stays;
    if (this.moved[r]) return "moved-twice";
    const model = this.modelOf(r);
    if (this.movesOfModel(model) >= this.moveBudgetOf(model)) return "disruption-model-share";
    return undefined;
  }

  private bumpOnNode(node: number, model: number, delta: number): void {
    const key = node * 65536 + model;
    this.onNode.set(key, (this.onNode.get(key) ?? 0) + delta);
  }

  replicasOfModelOn(node: number, model: number): number {
    return this.onNode.get(node * 65536 + model) ?? 0;
  }

  /** Pool, taints and nodeSelector of node n for replica r (cached per replica signature). */
  admits(r: number, n: number): boolean {
    const sig = this.replicaSignature[r] ?? 0;
    const cache = this.admitCache[sig];
    if (cache === undefined) return false;
    let verdict = cache[n] ?? 0;
    if (verdict < 0) {
      const first = this.signatureReplica[sig] ?? 0;
      const replica = this.snapshot.replicas[first];
      const from = this.nodes[this.originNodeOf(first)];
      const to = this.nodes[n];
      verdict =
        replica !== undefined &&
        from !== undefined &&
        to !== undefined &&
        nodeAdmits(replica, from, to, this.config) === undefined
          ? 1
          : 0;
      cache[n] = verdict;
    }
    return verdict === 1;
  }

  /** Whether GPU g can take replica r now (memory, compute, tier, burning neighbours), node rules aside. */
  gpuTakes(r: number, g: number): boolean {
    if (
      !this.isDestination[g] ||
      this.isDraining(g) ||
      (this.servesBurningOn(g) && this.config.placement.protectBurningGpus)
    )
      return false;
    if (this.memoryOf(g) + this.sizeOf(r) > this.usableOf(g)) return false;
    if (this.loadOf(g) + this.shareOf(r) > this.config.computeCeilingRatio + COMPUTE_EPSILON / 2) return false;
    if (this.config.placement.isolateTiers) {
      const tier = this.tierOf(r);
      for (const other of this.residentsOf(g)) if (this.tierOf(other) !== tier) return false;
    }
    return true;
  }

  /** Node-level rules for replica r on node n: admission and spread. */
  nodeTakes(r: number, n: number): boolean {
    if (!this.admits(r, n)) return false;
    const model = this.modelOf(r);
    if (n !== this.replicaNodeOf(r) && this.replicasOfModelOn(n, model) + 1 > this.spreadOf(model)) return false;
    return true;
  }

  private setMemory(g: number, delta: number, loadDelta: number): void {
    const cls = this.receivingClassOf(g);
    const index = cls >= 0 ? this.classes[cls]?.index : undefined;
    index?.remove(g, this.free(g));
    this.memory[g] = this.memoryOf(g) + delta;
    this.load[g] = this.loadOf(g) + loadDelta;
    index?.insert(g, this.free(g));
    const domain = this.domainOf(g);
    if (domain >= 0) this.refreshDomain(domain);
  }

  /** Recomputes a domain's free amounts in descending order (`domainFree`), by insertion sort. */
  private refreshDomain(domain: number): void {
    const gpus = this.domains[domain] ?? [];
    const base = domain * MAX_DOMAIN;
    const count = Math.min(gpus.length, MAX_DOMAIN);
    const free = this.domainFree;
    for (let i = 0; i < count; i++) {
      const value = this.free(gpus[i] ?? 0);
      let j = base + i;
      while (j > base && (free[j - 1] ?? 0) < value) {
        free[j] = free[j - 1] ?? 0;
        j--;
      }
      free[j] = value;
    }
  }

  /** Whether at least `tp` GPUs of the domain have `size` free, without allocating (`domainFree` is sorted descending). */
  hasDomainRoom(domain: number, tp: number, size: number): boolean {
    const n = Math.min((this.domains[domain] ?? []).length, MAX_DOMAIN);
    return tp <= n && (this.domainFree[domain * MAX_DOMAIN + tp - 1] ?? 0) >= size;
  }

  /**
   * For a tensor-parallel replica of `tp` GPUs reserving `size` each: how many of the domain's GPUs
   * have room (`count`), and the least memory the best choice of `tp` of them leaves free (`left`),
   * a lower bound whatever the other rules say. count < tp: the domain cannot take it.
   */
  domainRoom(domain: number, tp: number, size: number): { count: number; left: number } {
    const n = Math.min((this.domains[domain] ?? []).length, MAX_DOMAIN);
    const base = domain * MAX_DOMAIN;
    let count = 0;
    while (count < n && (this.domainFree[base + count] ?? 0) >= size) count++;
    let left = 0;
    for (let i = count - tp; i < count && i >= 0; i++) left += (this.domainFree[base + i] ?? 0) - size;
    return { count, left };
  }

  private setInUse(g: number, wasInUse: boolean): void {
    const isInUse = this.isInUse(g);
    if (isInUse === wasInUse) return;
    const n = this.gpuNodeOf(g);
    const delta = isInUse ? 1 : -1;
    this.gpusInUseNow += delta;
    const before = this.gpusInUseOnNode(n);
    this.nodeInUse[n] = before + delta;
    if (before === 0) this.nodesInUseNow++;
    else if (before + delta === 0) this.nodesInUseNow--;
  }

  /** Takes replica r off its GPUs (its pod is deleted). */
  lift(r: number): number[] {
    const from = this.replicaGpus[r] ?? [];
    for (const g of from) {
      const wasInUse = this.isInUse(g);
      const list = this.residents[g] ?? [];
      list.splice(list.indexOf(r), 1);
      this.setMemory(g, -this.sizeOf(r), -this.shareOf(r));
      this.setInUse(g, wasInUse);
    }
    this.bumpOnNode(this.replicaNodeOf(r), this.modelOf(r), -1);
    this.replicaGpus[r] = [];
    return from;
  }

  /** Puts replica r on GPUs `to` (all of one node). */
  place(r: number, to: readonly number[]): void {
    const n = this.gpuNodeOf(to[0] ?? 0);
    for (const g of to) {
      const wasInUse = this.isInUse(g);
      (this.residents[g] ?? []).push(r);
      this.setMemory(g, this.sizeOf(r), this.shareOf(r));
      this.setInUse(g, wasInUse);
    }
    this.replicaNode[r] = n;
    this.replicaGpus[r] = [...to];
    this.bumpOnNode(n, this.modelOf(r), 1);
  }

  /**
   * Keeps moves already applied to the state: marks the replicas moved, counts budgets and class
   * epochs, and describes each move with `what` and the GPUs the moves emptied.
   */
  commit(
    journal: readonly { readonly replica: number; readonly from: number[]; readonly to: number[] }[],
    what: string,
  ): SearchMove[] {
    const freed = new Set<number>();
    for (const step of journal) for (const g of step.from) if (!this.isInUse(g)) freed.add(g);
    const freedText =
      freed.size === 0
        ? "nothing yet"
        : [...freed]
            .sort((a, b) => a - b)
            .map((g) => this.gpuLabelOf(g))
            .join(", ");
    return journal.map((step) => {
      for (const g of step.from) this.bumpEpoch(this.receivingClassOf(g));
      for (const g of step.to) this.bumpEpoch(this.receivingClassOf(g));
      this.bumpEpoch(this.replicaClassOf(step.replica));
      this.moved[step.replica] = 1;
      const model = this.modelOf(step.replica);
      this.modelMoves[model] = this.movesOfModel(model) + 1;
      this.movesMadeNow++;
      const to = step.to.map((g) => this.gpuLabelOf(g)).join(", ");
      const left = Math.min(...step.to.map((g) => this.free(g)));
      return {
        replica: step.replica,
        from: step.from,
        to: step.to,
        reason: `${what}: frees GPU ${freedText}; lands on ${to} (${(left / GIB).toFixed(1)} GiB usable left)`,
      };
    });
  }
}
