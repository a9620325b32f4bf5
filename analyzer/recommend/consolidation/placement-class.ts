/**
 * Placement classes: the sets of GPUs a replica may move between. A replica stays in its node pool
 * and on its GPU model by default (`placement.pool: same`, `placement.gpuModel: same`); either part
 * widens to every pool or every model (`*`) when the config says `any`. Classes never share a GPU,
 * so the planner packs them independently and every lower bound is per class: the planner, its
 * bounds and the plan's per-class figures all form classes with this one function.
 */
import type { ConsolidationConfig } from "../constraints.js";

/** The pool or GPU model of a class that spans every pool or every model. */
export const ANY = "*";

/** One placement class: its pool (or `*`) and GPU model (or `*`), and a key unique to the pair. */
export interface PlacementClassId {
  readonly pool: string;
  readonly gpuModel: string;
  readonly key: string;
}

/** The class of a GPU of model `gpuModel` on a node of `pool` under `config`'s placement rules. */
export function placementClassOf(
  pool: string,
  gpuModel: string,
  config: Pick<ConsolidationConfig, "placement">,
): PlacementClassId {
  const classPool = config.placement.pool === "same" ? pool : ANY;
  const classModel = config.placement.gpuModel === "same" ? gpuModel : ANY;
  return { pool: classPool, gpuModel: classModel, key: `${classPool}\u0000${classModel}` };
}
