/**
 * What a class's MILP is built from (class-model.ts): the class's GPUs, the replicas that may move,
 * what stays on each GPU whatever the plan does, and every placement of each movable replica —
 * where it stands, and every set of GPUs of the class that can take it (one GPU; for
 * tensor-parallel degree t, t GPUs of one NVLink domain of one node) on a node its pool, taints,
 * nodeSelector and KV-cache pressure admit, healthy, not serving a model that burns its SLO (with
 * `protectBurningGpus`), with room beside what cannot move there, and no replica of another tier that
 * cannot move (with `isolateTiers`).
 */
import { COMPUTE_EPSILON, type ConsolidationConfig } from "../../constraints.js";
import type { PackingState } from "../packing-state.js";

/** Placements enumerated per class at most: past this the class is left to the heuristic. */
export const MAX_PLACEMENTS = 30_000;

/**
 * A neighbourhood of the class's problem: replicas may only move onto `destinations` (staying where
 * they stand is always allowed), and the GPUs of `emptied` must end empty. A solution is a valid
 * placement of the whole class; its optimum bounds nothing (the full model does).
 */
export interface ClassRestriction {
  readonly destinations?: ReadonlySet<number>;
  readonly emptied?: ReadonlySet<number>;
}

/** A class enumerated: indices are the state's GPU and replica indices. */
export interface ClassPlacements {
  readonly config: ConsolidationConfig;
  readonly classGpus: readonly number[];
  readonly inClass: Uint8Array;
  /** Position of each class GPU in `classGpus`, -1 for others. */
  readonly classIndex: Int32Array;
  readonly replicas: readonly number[];
  readonly isMovable: Uint8Array;
  /** Memory (bytes) and compute that stay on each GPU, and whether anything stays at all. */
  readonly fixedMemory: Float64Array;
  readonly fixedLoad: Float64Array;
  readonly holdsFixed: Uint8Array;
  /** Tiers of what stays, by class GPU position. */
  readonly fixedTiers: readonly Set<number>[];
  /** Per movable replica (as in `replicas`), its placements; placement 0 is where it stands. */
  readonly placements: readonly (readonly number[])[][];
  /** The compute a destination may reach (the ceiling plus the planner's rounding slack). */
  readonly ceiling: number;
}

export const sameSet = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((g) => b.includes(g));

function combinations(items: readonly number[], k: number, visit: (subset: number[]) => boolean): boolean {
  const chosen: number[] = [];
  const pick = (start: number): boolean => {
    if (chosen.length === k) return visit([...chosen]);
    for (let i = start; i <= items.length - (k - chosen.length); i++) {
      chosen.push(items[i] ?? 0);
      if (!pick(i + 1)) return false;
      chosen.pop();
    }
    return true;
  };
  return pick(0);
}

/**
 * Class `c` of `state` as it stands (the initial placement), enumerated; undefined when nothing in
 * the class may move or it would need more than MAX_PLACEMENTS placements.
 */
export function enumerateClass(
  state: PackingState,
  c: number,
  restrict?: ClassRestriction,
): ClassPlacements | undefined {
  const config: ConsolidationConfig = state.config;
  const G = state.gpuCount;
  const classGpus: number[] = [];
  for (let g = 0; g < G; g++) if (state.gpuClassOf(g) === c) classGpus.push(g);
  const inClass = new Uint8Array(G);
  for (const g of classGpus) inClass[g] = 1;

  // Replicas that may move: nothing blocks them and all their GPUs are in the class.
  const replicas: number[] = [];
  const isMovable = new Uint8Array(state.replicaCount);
  for (let r = 0; r < state.replicaCount; r++) {
    const gpus = state.gpusOf(r);
    if (gpus.length === 0 || state.blocker(r) !== undefined || !gpus.every((g) => inClass[g] === 1)) continue;
    replicas.push(r);
    isMovable[r] = 1;
  }
  if (replicas.length === 0) return undefined;

  // What stays on each GPU whatever the plan does: baseline and replicas that cannot move.
  const fixedMemory = new Float64Array(G);
  const fixedLoad = new Float64Array(G);
  const fixedTiers: Set<number>[] = classGpus.map(() => new Set());
  const classIndex = new Int32Array(G).fill(-1);
  classGpus.forEach((g, i) => (classIndex[g] = i));
  const holdsFixed = new Uint8Array(G);
  for (const g of classGpus) {
    // Sum what cannot move from scratch (no subtraction, so no float residue makes a GPU look held).
    let memory = 0;
    let load = 0;
    let residentMemory = 0;
    let residentLoad = 0;
    for (const r of state.residentsOf(g)) {
      residentMemory += state.sizeOf(r);
      residentLoad += state.shareOf(r);
      if (isMovable[r]) continue;
      memory += state.sizeOf(r);
      load += state.shareOf(r);
      holdsFixed[g] = 1;
      fixedTiers[classIndex[g] ?? 0]?.add(state.tierOf(r));
    }
    if (state.hasBaselineOn(g)) {
      holdsFixed[g] = 1;
      memory += Math.max(0, state.memoryOf(g) - residentMemory);
      load += Math.max(0, state.loadOf(g) - residentLoad);
    }
    fixedMemory[g] = memory;
    fixedLoad[g] = load;
  }
  const ceiling = config.computeCeilingRatio + COMPUTE_EPSILON / 2;
  const protect = config.placement.protectBurningGpus;
  const isolate = config.placement.isolateTiers;

  /** Whether GPU g can take replica r beside what cannot move (static part of the checker's rules). */
  const gpuCanTake = (r: number, g: number): boolean => {
    if (state.receivingClassOf(g) !== c || (protect && state.servesBurningOn(g))) return false;
    if (restrict?.destinations !== undefined && !restrict.destinations.has(g)) return false;
    if ((fixedMemory[g] ?? 0) + state.sizeOf(r) > state.usableOf(g)) return false;
    if ((fixedLoad[g] ?? 0) + state.shareOf(r) > ceiling) return false;
    if (isolate) for (const tier of fixedTiers[classIndex[g] ?? 0] ?? []) if (tier !== state.tierOf(r)) return false;
    return true;
  };

  // Placements: where the replica stands first, then every set of GPUs that can take it.
  const placements: number[][][] = [];
  let count = 0;
  const cls = state.placementClass(c);
  for (const r of replicas) {
    const from = state.gpusOf(r);
    const list: number[][] = [[...from]];
    const tp = from.length;
    if (tp === 1) {
      for (const g of classGpus) {
        if (g === from[0] || !gpuCanTake(r, g) || !state.admits(r, state.gpuNodeOf(g))) continue;
        list.push([g]);
      }
    } else {
      for (const id of cls?.domains ?? []) {
        const domain = state.domainGpus(id).filter((g) => gpuCanTake(r, g));
        if (domain.length < tp || !state.admits(r, state.gpuNodeOf(domain[0] ?? 0))) continue;
        const isWithin = combinations(domain, tp, (subset) => {
          if (!sameSet(subset, from)) list.push(subset);
          return count + list.length <= MAX_PLACEMENTS;
        });
        if (!isWithin) return undefined;
      }
    }
    count += list.length;
    if (count > MAX_PLACEMENTS) return undefined;
    placements.push(list);
  }

  return {
    config,
    classGpus,
    inClass,
    classIndex,
    replicas,
    isMovable,
    fixedMemory,
    fixedLoad,
    holdsFixed,
    fixedTiers,
    placements,
    ceiling,
  };
}
