/**
 * The items of each placement class, as every lower bound sees them (bounds.ts, and the benchmark's
 * configuration LP). Classes are formed as the planner forms them (placement-class.ts): pool × GPU
 * model by default, all pools or all models together when the config says `any`, so a class may
 * hold GPUs of different sizes. A class's items are what sits on its GPUs now — one per replica per
 * GPU it holds (a tensor-parallel replica of degree t is t items) and each GPU's baseline (memory or
 * utilization outside any replica) when non-zero. GPUs in MIG mode and the replicas on them are left
 * out: they are not planned.
 */
import type { FleetSnapshot } from "../../fleet/snapshot.js";
import { isMigGpu, usableMemoryBytes, type ConsolidationConfig, type FleetLoads } from "../constraints.js";
import { placementClassOf } from "./placement-class.js";

/** One class's GPUs and items; item i sits on GPU `itemGpu[i]` (an index into `gpuUuids`). */
export interface ClassItems {
  /** The class's pool, or `*` when replicas may change pools. */
  readonly pool: string;
  /** The class's GPU model, or `*` when replicas may change GPU models. */
  readonly gpuModel: string;
  /** Every GPU of the class (healthy or not), in snapshot order. */
  readonly gpuUuids: readonly string[];
  /** Usable memory (memory × (1 − headroom)) of each GPU, bytes, indexed like `gpuUuids`. */
  readonly gpuUsableBytes: readonly number[];
  /**
   * Whether each GPU may receive a replica at all: healthy and, with `protectBurningGpus`, not
   * serving a model whose SLO burns at page level. One that may not keeps at most what it holds.
   */
  readonly gpuCanReceive: readonly boolean[];
  /** GPUs of the class that can receive replicas. */
  readonly healthyGpus: number;
  /**
   * The largest usable memory of a GPU that can receive, else of any GPU, else 1: every GPU in use
   * after a plan holds at most that or what it holds now (the bounds' over-limit rule). The smallest
   * capacity would overstate the bounds, e.g. with a lost GPU reporting 0 bytes.
   */
  readonly capacityBytes: number;
  readonly itemGpu: readonly number[];
  readonly itemMemory: readonly number[];
  readonly itemCompute: readonly number[];
  /** Whether item i is a GPU's baseline rather than a replica. */
  readonly itemIsBaseline: readonly boolean[];
}

interface Acc {
  pool: string;
  gpuModel: string;
  gpuUuids: string[];
  gpuUsableBytes: number[];
  gpuCanReceive: boolean[];
  healthyGpus: number;
  capacity: number;
  anyCapacity: number;
  itemGpu: number[];
  itemMemory: number[];
  itemCompute: number[];
  itemIsBaseline: boolean[];
}

/** The classes of `snapshot` with their items, sorted by pool, then GPU model. */
export function classItems(snapshot: FleetSnapshot, config: ConsolidationConfig, loads: FleetLoads): ClassItems[] {
  const where = new Map<string, { cls: Acc; index: number }>();
  const classes = new Map<string, Acc>();
  const add = (cls: Acc, gpu: number, memory: number, compute: number, isBaseline: boolean): void => {
    cls.itemGpu.push(gpu);
    cls.itemMemory.push(memory);
    cls.itemCompute.push(compute);
    cls.itemIsBaseline.push(isBaseline);
  };
  const burning = new Set<string>();
  if (config.placement.protectBurningGpus) {
    for (const replica of snapshot.replicas)
      if (snapshot.slo[replica.model]?.isBurningPage === true) for (const uuid of replica.gpus) burning.add(uuid);
  }
  for (const node of snapshot.nodes) {
    for (const gpu of node.gpus) {
      if (isMigGpu(gpu)) continue;
      const id = placementClassOf(node.pool, gpu.gpuModel, config);
      let cls = classes.get(id.key);
      if (cls === undefined) {
        cls = {
          pool: id.pool,
          gpuModel: id.gpuModel,
          gpuUuids: [],
          gpuUsableBytes: [],
          gpuCanReceive: [],
          healthyGpus: 0,
          capacity: 0,
          anyCapacity: 0,
          itemGpu: [],
          itemMemory: [],
          itemCompute: [],
          itemIsBaseline: [],
        };
        classes.set(id.key, cls);
      }
      const usable = usableMemoryBytes(gpu, config);
      if (gpu.isHealthy) {
        cls.healthyGpus++;
        cls.capacity = Math.max(cls.capacity, usable);
      }
      cls.anyCapacity = Math.max(cls.anyCapacity, usable);
      const index = cls.gpuUuids.length;
      cls.gpuUuids.push(gpu.uuid);
      cls.gpuUsableBytes.push(usable);
      cls.gpuCanReceive.push(gpu.isHealthy && !burning.has(gpu.uuid));
      where.set(gpu.uuid, { cls, index });
      const base = loads.baseline.get(gpu.uuid);
      if (base !== undefined && (base.memoryBytes > 0 || base.utilization > 0))
        add(cls, index, base.memoryBytes, base.utilization, true);
    }
  }
  for (const replica of snapshot.replicas) {
    const share = loads.shares.get(replica.id) ?? 0;
    for (const uuid of replica.gpus) {
      const at = where.get(uuid);
      if (at !== undefined) add(at.cls, at.index, replica.memoryPerGpuBytes, share, false);
    }
  }
  return [...classes.values()]
    .sort((a, b) =>
      a.pool < b.pool ? -1 : a.pool > b.pool ? 1 : a.gpuModel < b.gpuModel ? -1 : a.gpuModel > b.gpuModel ? 1 : 0,
    )
    .map(({ capacity, anyCapacity, ...cls }) => ({
      ...cls,
      capacityBytes: capacity > 0 ? capacity : anyCapacity > 0 ? anyCapacity : 1,
    }));
}

/** Each GPU's summed load of one resource (item values by `itemGpu`), indexed like `gpuUuids`. */
export function gpuLoads(cls: ClassItems, values: readonly number[]): number[] {
  const loads = new Array<number>(cls.gpuUuids.length).fill(0);
  values.forEach((value, i) => {
    const g = cls.itemGpu[i] ?? 0;
    loads[g] = (loads[g] ?? 0) + value;
  });
  return loads;
}
