/**
 * Fragmentation of a 10,000-GPU, 25,000-replica fleet (randomFleet, seed 1): stranded memory,
 * partially used GPUs and FGD expected fragmentation, per node, per pool and in total. Target from
 * the analyzer's target: < 1 s on one core. Node runs it on one thread; the wall time of each run is
 * taken after a warm-up and the median reported, beside the figures themselves.
 *
 * Also shown, without a target: validating the same snapshot with its zod schema (what
 * `inferwatch recommend --snapshot` pays first), and a worst case where every replica reserves a
 * slightly different amount of memory, so the shape distribution has thousands of shapes.
 *
 * Run: `npx tsc -p tsconfig.json && node dist/test/bench/fleet-bench.js`.
 */
import { pathToFileURL } from "node:url";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { fleetFragmentation, type FleetFragmentation } from "../../analyzer/fleet/fragmentation.js";
import { parseFleetSnapshot, type FleetSnapshot } from "../../analyzer/fleet/snapshot.js";
import { GIB, randomFleet } from "../fixtures/fleets.js";
import { median, renderTable, type BenchRow } from "./table.js";

const GPUS = 10_000;
const REPLICAS = 25_000;
const TARGET_MS = 1000;

export interface FleetBenchOptions {
  /** Timed runs; the median is reported. */
  readonly runs?: number;
  readonly seed?: number;
}

/** Wall milliseconds of each of `runs` calls after two warm-up calls, and the last result. */
async function time<T>(fn: () => T, runs: number): Promise<{ ms: number[]; result: T }> {
  fn();
  let result = fn();
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    await yieldToLoop();
    const start = performance.now();
    result = fn();
    ms.push(performance.now() - start);
  }
  return { ms, result };
}

const fmtMs = (ms: number): string => `${ms.toFixed(1)} ms`;
const fmtPct = (ratio: number): string => `${(ratio * 100).toFixed(1)}%`;
const fmtGiB = (bytes: number): string => `${Math.round(bytes / GIB).toLocaleString("en-US")} GiB`;

/** Every replica's memory moved by a few KiB so that no two shapes are alike. */
function distinctShapes(snapshot: FleetSnapshot): FleetSnapshot {
  return {
    ...snapshot,
    replicas: snapshot.replicas.map((r, i) => ({ ...r, memoryPerGpuBytes: r.memoryPerGpuBytes - (i % 5000) * 4096 })),
  };
}

function figureRows(result: FleetFragmentation): BenchRow[] {
  const rows: BenchRow[] = [
    {
      name: "replica shapes (TP degree × memory per GPU)",
      value: result.shapes
        .map((s) => `${s.tensorParallel}×${s.memoryPerGpuBytes / GIB} GiB (${fmtPct(s.popularity)})`)
        .join(", "),
    },
  ];
  for (const pool of [{ pool: "total", ...result.total }, ...result.pools]) {
    rows.push({
      name: `figures, ${pool.pool}: ${pool.gpus.toLocaleString("en-US")} GPUs`,
      value: [
        `FGD fragmentation ${fmtPct(pool.fragmentationRatio)} of ${fmtGiB(pool.freeBytes)} free`,
        `stranded ${fmtGiB(pool.strandedBytes)} on ${pool.strandedUnits.toLocaleString("en-US")} GPUs`,
        `${pool.partiallyUsedGpus.toLocaleString("en-US")} partially used`,
        `${pool.idleGpus.toLocaleString("en-US")} idle`,
      ].join("; "),
    });
  }
  return rows;
}

/** Times fragmentation of the 10,000-GPU fleet against the < 1 s target and reports its figures. */
export async function benchFleet(options: FleetBenchOptions = {}): Promise<BenchRow[]> {
  const runs = options.runs ?? 7;
  const snapshot = randomFleet({ gpus: GPUS, replicas: REPLICAS, seed: options.seed ?? 1 });
  const fragmentation = await time(() => fleetFragmentation(snapshot), runs);
  const fragMedian = median(fragmentation.ms);
  const json = JSON.parse(JSON.stringify(snapshot)) as unknown;
  const parse = await time(() => parseFleetSnapshot(json), Math.max(3, runs >> 1));
  const worst = distinctShapes(snapshot);
  const worstRun = await time(() => fleetFragmentation(worst), Math.max(3, runs >> 1));

  return [
    {
      name: `fragmentation of ${GPUS.toLocaleString("en-US")} GPUs / ${REPLICAS.toLocaleString("en-US")} replicas (median of ${runs})`,
      value: `${fmtMs(fragMedian)} (slowest ${fmtMs(Math.max(...fragmentation.ms))})`,
      target: `< ${TARGET_MS} ms`,
      isMet: fragMedian < TARGET_MS,
    },
    { name: "snapshot validation, zod (same fleet, median)", value: fmtMs(median(parse.ms)) },
    {
      name: `fragmentation, worst case: ${worstRun.result.shapes.length.toLocaleString("en-US")} distinct shapes (median)`,
      value: fmtMs(median(worstRun.ms)),
    },
    ...figureRows(fragmentation.result),
  ];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.stdout.write(renderTable("Fleet fragmentation", await benchFleet()));
}
