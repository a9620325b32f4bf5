import { readFile } from "node:fs/promises";
import { parseFleetSnapshot } from "../analyzer/fleet/snapshot.js";
import { kubernetesSteps } from "../analyzer/recommend/kubernetes-steps.js";
import { createPlannerThread } from "../analyzer/recommend/consolidation/index.js";
import { recommendWith, type Recommendations } from "../analyzer/recommend/recommendations.js";
import type { Config } from "../common/config/schema.js";
import { errorMessage } from "../common/errors.js";
import { GIB } from "../common/units.js";

export type RecommendFormat = "json" | "text";

/** A readable summary of a plan and the idle recommendations, ending with the Kubernetes steps. */
export function formatRecommendations(recommendations: Recommendations, steps: string): string {
  const plan = recommendations.consolidation;
  const lines = [
    `Consolidation: free ${plan.gpusFreed} GPU(s) and ${plan.nodesFreed} node(s) with ${plan.movesCount} move(s) (GPUs in use ${plan.gpusInUseBefore} → ${plan.gpusInUseAfter}).`,
    `Fragmentation: ${(plan.fragmentation.before.fragmentationRatio * 100).toFixed(1)}% → ${(plan.fragmentation.after.fragmentationRatio * 100).toFixed(1)}% of free GPU memory; stranded ${(plan.fragmentation.before.strandedBytes / GIB).toFixed(1)} → ${(plan.fragmentation.after.strandedBytes / GIB).toFixed(1)} GiB.`,
    ...plan.pools.map(
      (pool) =>
        `  pool ${pool.pool}: ${pool.gpusInUseBefore} → ${pool.gpusInUseAfter} GPUs in use${pool.lowerBound === null ? "" : `, lower bound ${pool.lowerBound.bound} (memory L1 ${pool.lowerBound.memoryL1}, L2 ${pool.lowerBound.memoryL2}; dual-feasible ${pool.lowerBound.dualFeasible}), gap ${pool.gapGpus ?? 0}`}`,
    ),
    ...plan.classes.map(
      (c) =>
        `  class ${c.pool} / ${c.gpuModel}: ${c.gpusInUseBefore} → ${c.gpusInUseAfter} GPUs, lower bound ${c.bound}, gap ${c.gapGpus}; ${c.solve.method}${c.solve.isProvenOptimal ? ", proven optimal" : ""} (${c.solve.note})`,
    ),
    "",
    "Moves (in order):",
    ...(plan.moves.length === 0
      ? ["  none"]
      : plan.moves.map(
          (move) =>
            `  ${move.step}. ${move.namespace}/${move.pod} (${move.model}): ${move.fromNode} GPU ${move.fromGpuIndexes.join(",")} → ${move.toNode} GPU ${move.toGpuIndexes.join(",")} — ${move.reason}`,
        )),
    "",
    `Idle: ${recommendations.idle.evictions.length} replica(s) to evict, ${recommendations.idle.scaleToZero.length} model(s) to scale to zero; frees ${recommendations.idle.totals.withScaleToZero.gpus} GPU(s).`,
    ...recommendations.idle.evictions.map((e) => `  evict ${e.replicaId}: ${e.reason}`),
    ...recommendations.idle.kept.map((k) => `  keep ${k.replicaId}: ${k.reason}`),
    ...recommendations.idle.scaleToZero.map((z) => `  scale ${z.model} to zero: ${z.reason}`),
    "",
    "Kubernetes steps (review, then apply by hand; nothing is applied automatically):",
    steps,
  ];
  return `${lines.join("\n")}\n`;
}

/**
 * `inferwatch recommend --snapshot <file>`: the consolidation plan (checked before it is printed)
 * and idle-eviction recommendations for a fleet snapshot file, as JSON or text.
 */
export async function runRecommend(
  config: Config,
  snapshotPath: string,
  format: RecommendFormat,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  let recommendations: Recommendations;
  let steps: string;
  // The same planning thread as the analyzer's (HiGHS loaded there), so both make the same plan.
  const planner = createPlannerThread();
  try {
    const snapshot = parseFleetSnapshot(JSON.parse(await readFile(snapshotPath, "utf8")) as unknown, snapshotPath);
    recommendations = await recommendWith(planner, snapshot, null, config.analyzer.recommend, snapshot.takenAtMs);
    steps = kubernetesSteps(recommendations.consolidation, snapshot);
  } catch (err) {
    process.stderr.write(`inferwatch recommend: ${errorMessage(err)}\n`);
    return 1;
  } finally {
    await planner.shutdown();
  }
  out.write(
    format === "json"
      ? `${JSON.stringify({ ...recommendations, kubernetesSteps: steps }, null, 2)}\n`
      : formatRecommendations(recommendations, steps),
  );
  return 0;
}
