/**
 * Consolidation settings (`analyzer.recommend.consolidation`): the limits a rebalancing plan keeps.
 * The constraint model that reads them is analyzer/recommend/constraints.ts; the schema lives here,
 * beside the configuration that owns it, so common/ imports nothing from analyzer/.
 */
import { z } from "zod";

const ratio = z.number().min(0).max(1);

/** Where a replica may go. */
export const placementConfigSchema = z.strictObject({
  pool: z
    .enum(["same", "any"])
    .default("same")
    .describe("`same`: a replica stays in its node pool; `any`: any pool its taints and selector allow."),
  gpuModel: z
    .enum(["same", "any"])
    .default("same")
    .describe("`same`: a replica stays on its GPU model; `any`: any model where its memory fits."),
  isolateTiers: z
    .boolean()
    .default(true)
    .describe("A destination GPU holds replicas of one serving tier only (latency replicas never share with batch)."),
  protectBurningGpus: z
    .boolean()
    .default(true)
    .describe("Nothing moves onto a GPU serving a model whose SLO burns at page level."),
  maxReplicasPerModelPerNode: z
    .number()
    .int()
    .positive()
    .nullable()
    .default(null)
    .describe("Spread limit: replicas of one model on one node after a move; null: no limit."),
  maxReplicasPerModelPerNodeByModel: z
    .record(z.string(), z.number().int().positive())
    .default({})
    .describe("Per-model spread limits, overriding the default."),
});

/** How much one plan may disrupt. */
export const disruptionConfigSchema = z.strictObject({
  maxMoves: z.number().int().nonnegative().nullable().default(100).describe("Moves in one plan; null: no limit."),
  maxModelShareMoving: ratio
    .default(0.5)
    .describe(
      "Share of a model's replicas that may move in one plan (rounded down, at least one when the model has two or more).",
    ),
  canMoveSingleReplica: z
    .boolean()
    .default(false)
    .describe("Whether a model's only replica may move (its traffic is down while it restarts)."),
});

/** How hard the planner searches. */
export const searchConfigSchema = z.strictObject({
  restarts: z
    .number()
    .int()
    .positive()
    .nullable()
    .default(null)
    .describe("Orderings the heuristic tries (the best plan wins); null: all of them up to 2,000 replicas, one above."),
  exactSeconds: z
    .number()
    .min(0)
    .max(600)
    .default(2)
    .describe(
      "Time budget of one plan, seconds: the exact MILP solver (HiGHS) works on the placement classes small enough to enumerate until the plan has used it; past it, or at 0, the heuristic's placement stands.",
    ),
});

/** Consolidation settings; every field has a default, so `{}` is a valid config. */
export const consolidationConfigSchema = z.strictObject({
  memoryHeadroomRatio: z
    .number()
    .min(0)
    .max(0.9)
    .default(0.1)
    .describe("Share of each destination GPU's memory left free after a move."),
  computeCeilingRatio: z
    .number()
    .positive()
    .max(1)
    .default(0.8)
    .describe("A destination GPU's summed replica utilization stays at or under this after a move."),
  kvCacheWatermarkRatio: ratio
    .nullable()
    .default(0.9)
    .describe(
      "Nothing moves onto a node whose runtimes' KV-cache usage is at or past this (0..1); null: KV usage is not considered.",
    ),
  maxPreemptionRate: z
    .number()
    .nonnegative()
    .nullable()
    .default(0)
    .describe(
      "Nothing moves onto a node whose runtimes preempt more requests per second than this; null: preemptions are not considered.",
    ),
  placement: placementConfigSchema.prefault({}),
  disruption: disruptionConfigSchema.prefault({}),
  search: searchConfigSchema.prefault({}),
});

export type ConsolidationConfig = z.output<typeof consolidationConfigSchema>;
export type ConsolidationConfigInput = z.input<typeof consolidationConfigSchema>;

/** Validates an untrusted config (defaults filled in); throws one Error listing every problem. */
export function parseConsolidationConfig(input: unknown = {}): ConsolidationConfig {
  const result = consolidationConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.length === 0 ? "(top level)" : issue.path.join(".")}: ${issue.message}`,
  );
  throw new Error(`consolidation config is invalid:\n  ${problems.join("\n  ")}`, { cause: result.error });
}
