import { assembleFleetSnapshot, type PoolOf } from "../fleet/assemble.js";
import { fleetFragmentation } from "../fleet/fragmentation.js";
import type { MetricStore } from "../stores/metric-store.js";
import type { FragmentationPoint } from "./report-model.js";
import { HOUR_MS } from "../../common/units.js";
import type { TimeGrid } from "./time-grid.js";

/** Points per window at most: every 6 hours over 30 days. */
const MAX_POINTS = 120;
const MIN_INTERVAL_MS = 6 * HOUR_MS;

/**
 * Fragmentation (FGD expected fragmentation over the replica shapes seen then) and stranded memory
 * per pool over the window: the fleet snapshot assembled from the store's latest values at instants
 * every max(6 h, window ÷ 120), ending at the window's end, each measured by the analyzer's own
 * fleetFragmentation. An instant without GPUs (before the history starts) is left out.
 */
export async function fragmentationHistory(
  store: MetricStore,
  grid: TimeGrid,
  poolOf: PoolOf,
): Promise<FragmentationPoint[]> {
  const intervalMs = Math.max(MIN_INTERVAL_MS, Math.ceil((grid.endMs - grid.startMs) / MAX_POINTS / HOUR_MS) * HOUR_MS);
  const instants: number[] = [];
  for (let atMs = grid.endMs; atMs >= grid.startMs; atMs -= intervalMs) instants.unshift(atMs);
  const points: FragmentationPoint[] = [];
  for (const atMs of instants) {
    const snapshot = await assembleFleetSnapshot(store, atMs, poolOf);
    if (snapshot.nodes.length === 0) continue;
    const figures = fleetFragmentation(snapshot);
    points.push({
      at: new Date(atMs).toISOString(),
      pools: figures.pools.map((pool) => ({
        pool: pool.pool,
        fragmentationRatio: pool.fragmentationRatio,
        strandedBytes: pool.strandedBytes,
        freeBytes: pool.freeBytes,
        partiallyUsedGpus: pool.partiallyUsedGpus,
      })),
    });
  }
  return points;
}
