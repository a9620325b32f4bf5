/**
 * A fleet snapshot with a plan's moves applied, for fragmentation after a plan and for tests.
 */
import type { FleetSnapshot } from "../../fleet/snapshot.js";
import type { ConsolidationMove } from "./plan-types.js";

/**
 * The snapshot as it would be after `moves`: replicas on their new nodes and GPUs, each GPU's
 * observed memory and utilization shifted by what moved (a moved replica takes its reservation and
 * its utilization share along). Pure; used for fragmentation after a plan.
 */
export function applyMoves(
  snapshot: FleetSnapshot,
  moves: readonly Pick<ConsolidationMove, "replicaId" | "toNode" | "toGpus">[],
  shares?: ReadonlyMap<string, number>,
): FleetSnapshot {
  const byId = new Map(snapshot.replicas.map((r) => [r.id, r]));
  const memoryDelta = new Map<string, number>();
  const utilDelta = new Map<string, number>();
  const placed = new Map<string, { node: string; gpus: string[] }>();
  for (const move of moves) {
    const replica = byId.get(move.replicaId);
    if (replica === undefined) throw new Error(`applyMoves: no replica ${move.replicaId}`);
    const current = placed.get(replica.id) ?? { node: replica.node, gpus: replica.gpus };
    const share = shares?.get(replica.id) ?? 0;
    for (const uuid of current.gpus) {
      memoryDelta.set(uuid, (memoryDelta.get(uuid) ?? 0) - replica.memoryPerGpuBytes);
      utilDelta.set(uuid, (utilDelta.get(uuid) ?? 0) - share);
    }
    for (const uuid of move.toGpus) {
      memoryDelta.set(uuid, (memoryDelta.get(uuid) ?? 0) + replica.memoryPerGpuBytes);
      utilDelta.set(uuid, (utilDelta.get(uuid) ?? 0) + share);
    }
    placed.set(replica.id, { node: move.toNode, gpus: [...move.toGpus] });
  }
  const clamp = (x: number, hi: number): number => Math.min(hi, Math.max(0, x));
  return {
    ...snapshot,
    nodes: snapshot.nodes.map((node) => ({
      ...node,
      gpus: node.gpus.map((gpu) =>
        memoryDelta.has(gpu.uuid)
          ? {
              ...gpu,
              memoryUsedBytes: clamp(gpu.memoryUsedBytes + (memoryDelta.get(gpu.uuid) ?? 0), gpu.memoryTotalBytes),
              utilizationRatio:
                gpu.utilizationRatio === null ? null : clamp(gpu.utilizationRatio + (utilDelta.get(gpu.uuid) ?? 0), 1),
            }
          : gpu,
      ),
    })),
    replicas: snapshot.replicas.map((r) => {
      const to = placed.get(r.id);
      return to === undefined ? r : { ...r, node: to.node, gpus: to.gpus };
    }),
  };
}
