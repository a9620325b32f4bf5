// @ts-check
/** The consolidation plan (what it frees, bounds and gap, moves) and the idle-eviction candidates. */
import { emptyNote, fillPanel, h, table } from "./dom.js";
import { duration, gib } from "./format.js";

/** Moves listed on the page; the rest are in the JSON. */
const MOVES_SHOWN = 12;

/** @param {import("./api.js").RecommendationsResponse} response */
export function renderPlan(response) {
  const plan = response.recommendations?.consolidation;
  if (!plan) {
    fillPanel("plan", "empty", [emptyNote("Waiting for the first evaluation.")]);
    return;
  }
  const summary = h("p", { class: "summary", id: "plan-summary" }, [
    `GPUs in use ${plan.gpusInUseBefore} → ${plan.gpusInUseAfter}: `,
    h("strong", { "data-value": String(plan.gpusFreed) }, [`${plan.gpusFreed} GPU(s) freed`]),
    `, nodes ${plan.nodesInUseBefore} → ${plan.nodesInUseAfter}: `,
    h("strong", { "data-value": String(plan.nodesFreed) }, [`${plan.nodesFreed} node(s) freed`]),
    `, ${plan.movesCount} move(s); checked by the independent checker (${plan.check.movesChecked} moves).`,
  ]);
  const pools = table(
    ["pool", "GPUs before → after", "freed", "nodes freed", "moves", "lower bound", "gap"],
    plan.pools.map((pool) => [
      pool.pool,
      `${pool.gpusInUseBefore} → ${pool.gpusInUseAfter}`,
      { text: String(pool.gpusFreed), value: pool.gpusFreed },
      { text: String(pool.nodesFreed), value: pool.nodesFreed },
      { text: String(pool.moves), value: pool.moves },
      // With placement across pools no bound holds for one pool: the plan's classes carry them.
      pool.lowerBound === null
        ? { text: "per class", value: null, title: "replicas may leave this pool: see the plan's classes for bounds" }
        : {
            text: String(pool.lowerBound.bound),
            value: pool.lowerBound.bound,
            title: `memory L1 ${pool.lowerBound.memoryL1}, L2 ${pool.lowerBound.memoryL2}, dual feasible ${pool.lowerBound.dualFeasible}`,
          },
      pool.gapGpus === null
        ? { text: "–", value: null }
        : { text: String(pool.gapGpus), value: pool.gapGpus, cls: pool.gapGpus === 0 ? "ok" : "" },
    ]),
    { id: "plan-pools" },
  );
  const moves =
    plan.moves.length === 0
      ? emptyNote("No move frees a GPU without breaking a constraint.")
      : table(
          ["step", "model", "pod", "from", "to", "why"],
          plan.moves
            .slice(0, MOVES_SHOWN)
            .map((move) => [
              String(move.step),
              move.model,
              `${move.namespace}/${move.pod}`,
              `${move.fromNode} GPU ${move.fromGpuIndexes.join(",")}`,
              `${move.toNode} GPU ${move.toGpuIndexes.join(",")}`,
              move.reason,
            ]),
          { id: "plan-moves" },
        );
  const more =
    plan.moves.length > MOVES_SHOWN
      ? [h("p", { class: "caption" }, [`… and ${plan.moves.length - MOVES_SHOWN} more moves in the JSON.`])]
      : [];
  fillPanel("plan", "drawn", [summary, pools, moves, ...more]);
}

/** @param {import("./api.js").RecommendationsResponse} response */
export function renderIdle(response) {
  const idle = response.recommendations?.idle;
  if (!idle) {
    fillPanel("idle", "empty", [emptyNote("Waiting for the first evaluation.")]);
    return;
  }
  const summary = h("p", { class: "summary", id: "idle-summary" }, [
    h("strong", { "data-value": String(idle.evictions.length) }, [`${idle.evictions.length} replica(s) to evict`]),
    `, ${idle.kept.length} idle replica(s) kept (warm minimum, pinned or traffic expected), `,
    h("strong", { "data-value": String(idle.scaleToZero.length) }, [
      `${idle.scaleToZero.length} model(s) could scale to zero`,
    ]),
    ` (frees ${idle.totals.withScaleToZero.gpus} GPU(s), ${gib(idle.totals.withScaleToZero.memoryBytes)}).`,
  ]);
  const evictions =
    idle.evictions.length === 0
      ? emptyNote("No replica is past its time to live.")
      : table(
          ["model", "pod", "node", "pool", "idle for", "TTL", "why"],
          idle.evictions.map((r) => [
            r.model,
            `${r.namespace}/${r.pod}`,
            r.node,
            r.pool,
            { text: r.idleMs === null ? "never served" : duration(r.idleMs), value: r.idleMs },
            duration(r.ttlMs),
            r.reason,
          ]),
          { id: "idle-evictions" },
        );
  const zero =
    idle.scaleToZero.length === 0
      ? []
      : [
          table(
            ["scale to zero", "replicas", "GPUs", "why"],
            idle.scaleToZero.map((m) => [
              m.model,
              { text: String(m.replicas), value: m.replicas },
              { text: String(m.gpus), value: m.gpus },
              m.reason,
            ]),
            { id: "idle-scale-to-zero" },
          ),
        ];
  fillPanel("idle", "drawn", [summary, evictions, ...zero]);
}
