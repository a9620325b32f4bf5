/**
 * GPU utilization over the last hours for the console: a GPU × time grid (the heatmap) and each
 * pool's mean per step (the line against the target), from one range query of the store at the
 * evaluation's instant. Beyond {@link MAX_ROWS} GPUs the rows are nodes (each the mean of its
 * GPUs), beyond that many nodes pools, so the grid stays readable and its size bounded.
 * Values are on the analyzer's utilization basis (analyzer/fleet/utilization-basis.ts): each GPU's
 * from the first family with samples for it, as the fleet figures are.
 */
import type { PoolOf } from "../fleet/assemble.js";
import {
  BASIS_LABEL,
  BASIS_METRIC,
  basisFamilies,
  figureBasis,
  pickByBasis,
  type FigureBasis,
  type UtilizationBasis,
} from "../fleet/utilization-basis.js";
import type { MetricStore } from "../stores/metric-store.js";
import { HOUR_MS } from "../../common/units.js";

/** Rows of the grid at most; past it GPUs fold into nodes, then nodes into pools. */
export const MAX_ROWS = 256;
/** The window the console shows and its step: six hours (the longest page window) at 5 minutes. */
export const HISTORY_WINDOW_MS = 6 * HOUR_MS;
export const HISTORY_STEP_MS = 5 * 60_000;

/** One row of the grid: a GPU (`node/index`), a node or a pool, with a value per step (null: no sample). */
export interface UtilizationRow {
  readonly key: string;
  readonly pool: string;
  readonly values: readonly (number | null)[];
}

/** The grid and the pools' means, on one time axis. */
export interface UtilizationHistory {
  /** Step times, ms since the epoch, oldest first. */
  readonly times: readonly number[];
  readonly stepMs: number;
  /** What a row is: one GPU, or the mean of a node's or a pool's GPUs when there are too many. */
  readonly rowKind: "gpu" | "node" | "pool";
  /** Rows sorted by pool, node and GPU index. */
  readonly rows: readonly UtilizationRow[];
  /** Each pool's mean over its GPUs with a sample at each step. */
  readonly pools: readonly UtilizationRow[];
  /** What the values are, in words: the basis of the figures (e.g. "SM activity (GPM)"), or `mixed` when GPUs fell back to busy time. */
  readonly metric: string;
  /** The basis of the values over every GPU shown. */
  readonly basis: FigureBasis;
}

interface GpuRow {
  readonly node: string;
  readonly index: number;
  readonly pool: string;
  readonly values: (number | null)[];
}

/** Means per step of several rows, ignoring missing samples (null where none has one). */
function meanRows(rows: readonly { readonly values: readonly (number | null)[] }[], steps: number): (number | null)[] {
  const means: (number | null)[] = [];
  for (let i = 0; i < steps; i++) {
    let sum = 0;
    let count = 0;
    for (const row of rows) {
      const value = row.values[i];
      if (value !== null && value !== undefined) {
        sum += value;
        count++;
      }
    }
    means.push(count === 0 ? null : sum / count);
  }
  return means;
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

/** The utilization grid ending at `atMs` (aligned down to the step, as a range query is). */
export async function utilizationHistory(
  store: MetricStore,
  poolOf: PoolOf,
  atMs: number,
  basis: UtilizationBasis = "busy",
): Promise<UtilizationHistory> {
  const endMs = Math.floor(atMs / HISTORY_STEP_MS) * HISTORY_STEP_MS;
  const startMs = endMs - HISTORY_WINDOW_MS;
  const times: number[] = [];
  for (let t = startMs; t <= endMs; t += HISTORY_STEP_MS) times.push(t);
  const stepIndex = new Map(times.map((t, i) => [t, i]));
  const families = basisFamilies(basis);
  const answers = await Promise.all(
    families.map((family) => store.range({ metric: BASIS_METRIC[family], startMs, endMs, stepMs: HISTORY_STEP_MS })),
  );
  const picked = pickByBasis(families.map((family, i) => ({ basis: family, values: answers[i] ?? [] })));
  const shown = figureBasis(picked.map((p) => p.basis));
  const gpus: GpuRow[] = picked.map(({ value: s }) => {
    const node = s.labels["node"] ?? "";
    const values: (number | null)[] = times.map(() => null);
    for (const sample of s.samples) {
      const i = stepIndex.get(sample.atMs) ?? Math.round((sample.atMs - startMs) / HISTORY_STEP_MS);
      if (i >= 0 && i < values.length && Number.isFinite(sample.value)) values[i] = sample.value;
    }
    return { node, index: Number(s.labels["gpu"] ?? 0), pool: poolOf(node), values };
  });
  gpus.sort((a, b) => a.pool.localeCompare(b.pool) || a.node.localeCompare(b.node) || a.index - b.index);
  const pools = [...groupBy(gpus, (gpu) => gpu.pool)].map(([pool, rows]) => ({
    key: pool,
    pool,
    values: meanRows(rows, times.length),
  }));
  const byNode = [...groupBy(gpus, (gpu) => gpu.node)].map(([node, rows]) => ({
    key: node,
    pool: rows[0]?.pool ?? "default",
    values: meanRows(rows, times.length),
  }));
  const rowKind = gpus.length <= MAX_ROWS ? "gpu" : byNode.length <= MAX_ROWS ? "node" : "pool";
  const rows =
    rowKind === "gpu"
      ? gpus.map((gpu) => ({ key: `${gpu.node}/${gpu.index}`, pool: gpu.pool, values: gpu.values }))
      : rowKind === "node"
        ? byNode
        : pools;
  return { times, stepMs: HISTORY_STEP_MS, rowKind, rows, pools, metric: BASIS_LABEL[shown], basis: shown };
}
