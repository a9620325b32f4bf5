/**
 * The items of each placement class, as every lower bound sees them (bounds.ts, and the benchmark's
 * configuration LP): consolidation keeps a replica in its pool and on its GPU model, so the fleet
 * splits into classes (pool × GPU model), and a class's items are what sits on its GPUs now — one per
 * replica per GPU it holds (a tensor-parallel replica of degree t is t items) and each GPU's baseline
 * (memory or utilization outside any replica) when non-zero. GPUs in MIG mode and the replicas on
 * them are left out: they are not planned.
 */
import type { FleetSnapshot } from "../../fleet/snapshot.js";
import { isMigGpu, usableMemoryBytes, type ConsolidationConfig, type FleetLoads } from "../constraints.js";

/** One class's GPUs and items; item i sits on GPU `itemGpu[i]` (an index into `gpuUuids`). */
export interface ClassItems {
  readonly pool: string;
  readonly gpuModel: string;
  /** Every GPU of the class (healthy or not), in snapshot order. */
  readonly gpuUuids: readonly string[];
  /** GPUs of the class that can receive replicas (healthy). */
  readonly healthyGpus: number;
  /**
   * The largest usable memory (memory × (1 − headroom)) of a healthy GPU, else of any GPU, else 1:
   * a GPU that receives holds at most that, and one that receives nothing keeps at most what it
   * holds now (the bounds' over-limit rule); the smallest capacity would overstate the bounds, e.g.
   * with a lost GPU reporting 0 bytes.
   */
  readonly capacityBytes: number;
  readonly itemGpu: readonly number[];
  readonly itemMemory: readonly number[];
  readonly itemCompute: readonly number[];
  /** Whether item i is a GPU's baseline rather than a replica. */
  readonly itemIsBaseline: readonly boolean[];
}

/** The classes of `snapshot` with their items, sorted by pool, then GPU model. */
export function classItems(snapshot: FleetSnapshot, config: ConsolidationConfig, loads: FleetLoads): ClassItems[] {
  interface Acc { pool: string; gpuModel: string; gpuUuids: string[]; healthyGpus: number; capacity: number; anyCapacity: number; itemGpu: number[]; itemMemory: number[]; itemCompute: number[]; itemIsBaseline: boolean[] }
  const where = new Map<string, { cls: Acc; index: number }>();
  const classes = new Map<string, Acc>();
  const add = (cls: Acc, gpu: number, memory: number, compute: number, isBaseline: boolean): void => {
    cls.itemGpu.push(gpu);
    cls.itemMemory.push(memory);
    cls.itemCompute.push(compute);
    cls.itemIsBaseline.push(isBaseline);
  };
  for (const node of snapshot.nodes) {
    for (const gpu of node.gpus) {
      if (isMigGpu(gpu)) continue;
      const key = `${node.pool}\u0000${gpu.gpuModel}`;
      let cls = classes.get(key);
      if (cls === undefined) classes.set(key, (cls = { pool: node.pool, gpuModel: gpu.gpuModel, gpuUuids: [], healthyGpus: 0, capacity: 0, anyCapacity: 0, itemGpu: [], itemMemory: [], itemCompute: [], itemIsBaseline: [] }));
      const usable = usableMemoryBytes(gpu, config);
      if (gpu.isHealthy) {
        cls.healthyGpus++;
        cls.capacity = Math.max(cls.capacity, usable);
      }
      cls.anyCapacity = Math.max(cls.anyCapacity, usable);
      const index = cls.gpuUuids.length;
      cls.gpuUuids.push(gpu.uuid);
      where.set(gpu.uuid, { cls, index });
      const base = loads.baseline.get(gpu.uuid);
      if (base !== undefined && (base.memoryBytes > 0 || base.utilization > 0)) add(cls, index, base.memoryBytes, base.utilization, true);
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
    .sort((a, b) => (a.pool < b.pool ? -1 : a.pool > b.pool ? 1 : a.gpuModel < b.gpuModel ? -1 : a.gpuModel > b.gpuModel ? 1 : 0))
    .map(({ capacity, anyCapacity, ...cls }) => ({ ...cls, capacityBytes: capacity > 0 ? capacity : anyCapacity > 0 ? anyCapacity : 1 }));
}

/** Each GPU's summed load of one resource (item values by `itemGpu`), indexed like `gpuUuids`. */
export function gpuLoads(cls: ClassItems, values: readonly number[]): number[] {
  const loads = new Array<number>(cls.gpuUuids.length).fill(0);
  values.forEach((value, i) => {
    const g = cls.itemGpu[i] as number;
    loads[g] = (loads[g] as number) + value;
  });
  return loads;
}
