/**
 * The consolidation problem as a MILP (CPLEX LP format) for the `highs` solver, to measure how far
 * the heuristic planner is from optimal on small fleets.
 *
 * Variables: y_{r,p} = 1 when replica r ends on placement p (one GPU for tensor-parallel degree 1;
 * for degree t, every set of t GPUs of one NVLink domain of one node, enumerated), including where
 * it stands now; u_g = 1 when GPU g holds anything; m_r = 1 when r moves; a_g = 1 when something
 * arrives on g (only for GPUs already over a limit, which may stay so while nothing arrives).
 *
 * Constraints, the same as the checker's: pool and GPU model (placements only in r's class), taints
 * and nodeSelector (placements only on admitting nodes), healthy non-MIG destinations, pinned /
 * SLO-burning / MIG replicas fixed, tensor-parallel shape (placements are domain subsets), memory
 * headroom and compute ceiling on GPUs that receive (over-limit GPUs keep at most their load while
 * nothing arrives), no arrival on a GPU serving a burning model, tier isolation on GPUs that receive
 * (t_{g,k} = 1 when tier k arrives on g; then no other tier may end there), the spread limit on a
 * node that receives a model's replica from another node (s_{n,M}), disruption budget (moves per
 * plan and per model). Left out: the order of moves (the MILP only sees the final state, so it may
 * use states no sequence of single moves reaches: a relaxation; `isSequenceable` says when).
 * Written independently of the product's model (analyzer/recommend/consolidation/milp), from the
 * snapshot and the constraint definitions alone, as LP text.
 *
 * Objective: the planner's, lexicographic: fewest GPUs in use, then fewest nodes in use (v_n ≥ u_g
 * for g on n), then fewest moves, as one weighted sum Wg·Σu + Wn·Σv + Σm with Wn = replicas + 1 and
 * Wg = (nodes + 1)·Wn, exact because Σm < Wn and Wn·Σv < Wg. Valid cuts Σ_{g ∈ class} u_g ≥ class
 * bound help the solver prove optimality.
 */
import type { FleetSnapshot } from "../../analyzer/fleet/snapshot.js";
import { consolidationBounds, placementClassOf } from "../../analyzer/recommend/consolidation/index.js";
import { checkPlan, type MoveToCheck } from "../../analyzer/recommend/checker.js";
import {
  fleetLoads,
  immovableReason,
  isMigGpu,
  migDeviceUuids,
  modelMoveBudget,
  nodeAdmits,
  replicasPerModel,
  usableMemoryBytes,
  type ConsolidationConfig,
} from "../../analyzer/recommend/constraints.js";
import { GIB } from "../../common/units.js";

export interface MilpModel {
  readonly lp: string;
  readonly binaries: number;
  readonly rows: number;
  /** What each placement variable means: replica id, node and GPU uuids. */
  readonly placements: ReadonlyMap<
    string,
    { readonly replicaId: string; readonly node: string; readonly gpus: readonly string[] }
  >;
}

export interface MilpSolution {
  readonly status: string;
  /** Placement variables at 1. */
  readonly chosen: readonly string[];
  readonly gpusInUse: number;
  readonly nodesInUse: number;
  readonly moves: number;
}

/** Subsets of `items` of size k, in lexicographic order. */
function combinations<T>(items: readonly T[], k: number): T[][] {
  const out: T[][] = [];
  const pick = (start: number, chosen: T[]): void => {
    if (chosen.length === k) {
      out.push([...chosen]);
      return;
    }
    for (let i = start; i <= items.length - (k - chosen.length); i++) {
      chosen.push(items[i] as T);
      pick(i + 1, chosen);
      chosen.pop();
    }
  };
  pick(0, []);
  return out;
}

/** Builds the MILP of consolidating `snapshot` under `config`. Memory is in GiB in the LP text. */
export function buildConsolidationMilp(snapshot: FleetSnapshot, config: ConsolidationConfig): MilpModel {
  const { shares, baseline } = fleetLoads(snapshot);
  const migDevices = migDeviceUuids(snapshot);
  const perModel = replicasPerModel(snapshot);
  const gpus = snapshot.nodes.flatMap((node) =>
    node.gpus.filter((gpu) => !isMigGpu(gpu)).map((gpu) => ({ node, gpu })),
  );
  const gpuIndex = new Map(gpus.map((g, i) => [g.gpu.uuid, i]));
  const nodeByName = new Map(snapshot.nodes.map((n) => [n.name, n]));
  const objective: string[] = [];
  const rows: string[] = [];
  const binaries: string[] = [];
  const memoryTerms = gpus.map(() => [] as string[]);
  const computeTerms = gpus.map(() => [] as string[]);
  const fixedMemory = gpus.map((g) => baseline.get(g.gpu.uuid)?.memoryBytes ?? 0);
  const fixedCompute = gpus.map((g) => baseline.get(g.gpu.uuid)?.utilization ?? 0);
  const arrivals = gpus.map(() => [] as string[]);
  const users = gpus.map(() => [] as string[]);
  const isFixedInUse = gpus.map((_, g) => (fixedMemory[g] as number) > 0 || (fixedCompute[g] as number) > 0);
  const initialMemory = [...fixedMemory];
  const initialCompute = [...fixedCompute];
  const movesByModel = new Map<string, string[]>();
  const placementOf = new Map<string, { replicaId: string; node: string; gpus: string[] }>();
  const allMoves: string[] = [];
  const burning = new Set(
    Object.entries(snapshot.slo)
      .filter(([, state]) => state.isBurningPage)
      .map(([model]) => model),
  );
  const burningGpus = new Set(
    config.placement.protectBurningGpus
      ? snapshot.replicas.filter((r) => burning.has(r.model)).flatMap((r) => r.gpus)
      : [],
  );
  /** Per GPU: tier of every replica that may end there (placement name, or "" for a fixed one), and of those that arrive. */
  const tierUses = gpus.map(() => [] as { tier: string; name: string; arrives: boolean }[]);
  /** Per node and model with a spread limit: placements there (and whether they come from another node), fixed replicas. */
  const spread = new Map<string, { limit: number; names: string[]; crossNode: string[]; fixed: number }>();
  const spreadEntry = (node: string, model: string) => {
    const key = `${node}\u0000${model}`;
    const limit =
      config.placement.maxReplicasPerModelPerNodeByModel[model] ?? config.placement.maxReplicasPerModelPerNode;
    if (limit === null || limit === undefined) return undefined;
    let entry = spread.get(key);
    if (entry === undefined) spread.set(key, (entry = { limit, names: [], crossNode: [], fixed: 0 }));
    return entry;
  };
  const Wn = snapshot.replicas.length + 1;
  const W = (snapshot.nodes.length + 1) * Wn;
  const term = (coef: number, name: string): string =>
    `${coef >= 0 ? "+" : "-"} ${Math.abs(coef).toPrecision(12)} ${name}`;

  snapshot.replicas.forEach((replica, r) => {
    const share = shares.get(replica.id) ?? 0;
    const size = replica.memoryPerGpuBytes / GIB;
    const current = replica.gpus.map((uuid) => gpuIndex.get(uuid));
    for (const g of current) {
      if (g === undefined) continue;
      initialMemory[g] = (initialMemory[g] as number) + replica.memoryPerGpuBytes;
      initialCompute[g] = (initialCompute[g] as number) + share;
    }
    const budget = modelMoveBudget(perModel.get(replica.model) ?? 0, config);
    const isFixed =
      immovableReason(replica, snapshot, migDevices) !== undefined ||
      budget === 0 ||
      current.some((g) => g === undefined);
    if (isFixed) {
      for (const g of current) {
        if (g === undefined) continue;
        fixedMemory[g] = (fixedMemory[g] ?? 0) + replica.memoryPerGpuBytes;
        fixedCompute[g] = (fixedCompute[g] ?? 0) + share;
        isFixedInUse[g] = true;
        tierUses[g]?.push({ tier: replica.tier, name: "", arrives: false });
      }
      const entry = spreadEntry(replica.node, replica.model);
      if (entry !== undefined) entry.fixed++;
      return;
    }
    const origin = nodeByName.get(replica.node) as FleetSnapshot["nodes"][number];
    const originModel = gpus[current[0] as number]?.gpu.gpuModel;
    const placements: number[][] = [current as number[]];
    const currentKey = [...(current as number[])].sort((a, b) => a - b).join(",");
    for (const node of snapshot.nodes) {
      if (nodeAdmits(replica, origin, node, config) !== undefined) continue;
      const ok = node.gpus.filter(
        (gpu) =>
          gpu.isHealthy &&
          !isMigGpu(gpu) &&
          !burningGpus.has(gpu.uuid) &&
          (config.placement.gpuModel === "any" || gpu.gpuModel === originModel),
      );
      if (replica.tensorParallel === 1) {
        for (const gpu of ok) placements.push([gpuIndex.get(gpu.uuid) as number]);
        continue;
      }
      const domains = new Map<string, number[]>();
      for (const gpu of ok)
        if (gpu.nvlinkDomain !== null)
          domains.set(gpu.nvlinkDomain, [...(domains.get(gpu.nvlinkDomain) ?? []), gpuIndex.get(gpu.uuid) as number]);
      for (const list of domains.values())
        for (const subset of combinations(list, replica.tensorParallel)) placements.push(subset);
    }
    const seen = new Set<string>();
    const names: string[] = [];
    placements.forEach((placement, p) => {
      const key = [...placement].sort((a, b) => a - b).join(",");
      if (seen.has(key)) return;
      seen.add(key);
      const name = `y${r}_${p}`;
      names.push(name);
      placementOf.set(name, {
        replicaId: replica.id,
        node: (gpus[placement[0] as number] as (typeof gpus)[number]).node.name,
        gpus: placement.map((g) => (gpus[g] as (typeof gpus)[number]).gpu.uuid),
      });
      binaries.push(name);
      const isCurrent = key === currentKey;
      for (const g of placement) {
        memoryTerms[g]?.push(term(size, name));
        computeTerms[g]?.push(term(share, name));
        users[g]?.push(name);
        if (!isCurrent) arrivals[g]?.push(name);
        tierUses[g]?.push({ tier: replica.tier, name, arrives: !isCurrent });
      }
      const toNode = (gpus[placement[0] ?? 0] as (typeof gpus)[number]).node.name;
      const entry = spreadEntry(toNode, replica.model);
      if (entry !== undefined) {
        entry.names.push(name);
        if (toNode !== replica.node) entry.crossNode.push(name);
      }
      if (isCurrent) rows.push(`mv${r}: m${r} + ${name} = 1`);
    });
    rows.push(`one${r}: ${names.join(" + ")} = 1`);
    binaries.push(`m${r}`);
    objective.push(`+ 1 m${r}`);
    allMoves.push(`m${r}`);
    movesByModel.set(replica.model, [...(movesByModel.get(replica.model) ?? []), `m${r}`]);
  });

  gpus.forEach(({ gpu }, g) => {
    const u = `u${g}`;
    binaries.push(u);
    objective.push(`+ ${W} ${u}`);
    if (isFixedInUse[g]) rows.push(`fix${g}: ${u} = 1`);
    rows.push(`node${g}: ${u} - v${snapshot.nodes.findIndex((n) => n.gpus.includes(gpu))} <= 0`);
    for (const y of users[g] as string[]) rows.push(`use${g}_${y}: ${y} - ${u} <= 0`);
    const capacity = usableMemoryBytes(gpu, config) / GIB;
    const ceiling = config.computeCeilingRatio;
    const memory0 = (initialMemory[g] as number) / GIB;
    const compute0 = initialCompute[g] as number;
    const memoryTerm = (memoryTerms[g] as string[]).join(" ");
    const computeTerm = (computeTerms[g] as string[]).join(" ");
    const fixedMem = (fixedMemory[g] as number) / GIB;
    const fixedCmp = fixedCompute[g] as number;
    const over = memory0 > capacity || compute0 > ceiling;
    if (over && (arrivals[g] as string[]).length > 0) {
      const a = `a${g}`;
      binaries.push(a);
      for (const y of arrivals[g] as string[]) rows.push(`arr${g}_${y}: ${y} - ${a} <= 0`);
      const memSlack = Math.max(0, memory0 - capacity);
      const cmpSlack = Math.max(0, compute0 - ceiling);
      if (memoryTerm)
        rows.push(
          `mem${g}: ${memoryTerm} ${term(memSlack, a)} <= ${(Math.max(capacity, memory0) - fixedMem).toPrecision(12)}`,
        );
      if (computeTerm)
        rows.push(
          `cmp${g}: ${computeTerm} ${term(cmpSlack, a)} <= ${(Math.max(ceiling, compute0) - fixedCmp).toPrecision(12)}`,
        );
    } else if ((arrivals[g] as string[]).length > 0) {
      if (memoryTerm) rows.push(`mem${g}: ${memoryTerm} <= ${(capacity - fixedMem).toPrecision(12)}`);
      if (computeTerm) rows.push(`cmp${g}: ${computeTerm} <= ${(ceiling - fixedCmp + 1e-9).toPrecision(12)}`);
    }
  });

  // Tier isolation: t{g}_{k} = 1 when tier k arrives on g; then nothing of another tier ends on g.
  if (config.placement.isolateTiers) {
    tierUses.forEach((uses, g) => {
      const tiers = [...new Set(uses.map((u) => u.tier))];
      if (tiers.length < 2) return;
      tiers.forEach((tier, k) => {
        const arriving = uses.filter((u) => u.tier === tier && u.arrives);
        if (arriving.length === 0) return;
        const t = `t${g}_${k}`;
        binaries.push(t);
        for (const u of arriving) rows.push(`ta${g}_${k}_${u.name}: ${u.name} - ${t} <= 0`);
        for (const other of uses.filter((u) => u.tier !== tier)) {
          if (other.name === "") rows.push(`tf${g}_${k}_${rows.length}: ${t} = 0`);
          else rows.push(`tx${g}_${k}_${other.name}: ${other.name} + ${t} <= 1`);
        }
      });
    });
  }
  // Spread: a node receiving model M from another node ends with at most M's limit there.
  [...spread.values()].forEach((entry, i) => {
    const most = entry.fixed + entry.names.length;
    if (entry.crossNode.length === 0 || most <= entry.limit) return;
    const sv = `s${i}`;
    binaries.push(sv);
    for (const name of entry.crossNode) rows.push(`sa${i}_${name}: ${name} - ${sv} <= 0`);
    rows.push(`sc${i}: ${entry.names.join(" + ")} + ${most - entry.limit} ${sv} <= ${most - entry.fixed}`);
  });

  snapshot.nodes.forEach((_, n) => {
    binaries.push(`v${n}`);
    objective.push(`+ ${Wn} v${n}`);
  });
  for (const [model, names] of movesByModel) {
    rows.push(
      `budget_${model.replace(/[^A-Za-z0-9]/g, "_")}: ${names.join(" + ")} <= ${modelMoveBudget(perModel.get(model) ?? 0, config)}`,
    );
  }
  if (config.disruption.maxMoves !== null && allMoves.length > 0)
    rows.push(`maxmoves: ${allMoves.join(" + ")} <= ${config.disruption.maxMoves}`);
  const classGpus = new Map<string, string[]>();
  gpus.forEach(({ node, gpu }, g) => {
    const key = placementClassOf(node.pool, gpu.gpuModel, config).key;
    classGpus.set(key, [...(classGpus.get(key) ?? []), `u${g}`]);
  });
  consolidationBounds(snapshot, config).forEach((bound, i) => {
    const names = classGpus.get(placementClassOf(bound.pool, bound.gpuModel, config).key);
    if (names && bound.bound > 0) rows.push(`lb${i}: ${names.join(" + ")} >= ${bound.bound}`);
  });

  const wrap = (text: string): string => text.replace(/(.{1,200})(\s|$)/g, "$1\n ");
  const lp = `Minimize\n obj: ${wrap(objective.join(" "))}\nSubject To\n${rows.map((row) => ` ${wrap(row)}`).join("\n")}\nBinary\n ${wrap(binaries.join(" "))}\nEnd\n`;
  return { lp, binaries: binaries.length, rows: rows.length, placements: placementOf };
}

/** The solver's answer read back: GPUs in use (Σu) and moves (Σm), rounded. */
export function readMilpSolution(result: {
  readonly Status: string;
  readonly Columns: Readonly<Record<string, unknown>>;
}): MilpSolution {
  let gpusInUse = 0;
  let nodesInUse = 0;
  let moves = 0;
  const chosen: string[] = [];
  for (const [name, column] of Object.entries(result.Columns)) {
    const primal = (column as { Primal?: unknown }).Primal;
    const value = Math.round(typeof primal === "number" ? primal : 0);
    if (/^y\d+_\d+$/.test(name) && value === 1) chosen.push(name);
    if (/^u\d+$/.test(name)) gpusInUse += value;
    else if (/^v\d+$/.test(name)) nodesInUse += value;
    else if (/^m\d+$/.test(name)) moves += value;
  }
  return { status: result.Status, chosen, gpusInUse, nodesInUse, moves };
}

/**
 * Whether the MILP's final placement can be reached one move at a time under the plan rules (each
 * replica moving once, straight to its final GPUs, each step passing the checker): greedy, trying
 * every pending move at each step. A swap of two full GPUs, for one, cannot.
 */
export function isSequenceable(
  snapshot: FleetSnapshot,
  model: MilpModel,
  solution: MilpSolution,
  config: ConsolidationConfig,
): boolean {
  const where = new Map(snapshot.replicas.map((r) => [r.id, { node: r.node, gpus: r.gpus }]));
  const pending: MoveToCheck[] = [];
  for (const name of solution.chosen) {
    const placement = model.placements.get(name);
    const from = placement && where.get(placement.replicaId);
    if (placement === undefined || from === undefined) continue;
    const isSame =
      from.node === placement.node &&
      from.gpus.length === placement.gpus.length &&
      from.gpus.every((g) => placement.gpus.includes(g));
    if (!isSame)
      pending.push({
        replicaId: placement.replicaId,
        fromNode: from.node,
        fromGpus: from.gpus,
        toNode: placement.node,
        toGpus: placement.gpus,
      });
  }
  const done: MoveToCheck[] = [];
  while (pending.length > 0) {
    const next = pending.findIndex((move) => checkPlan(snapshot, [...done, move], config).isValid);
    if (next < 0) return false;
    done.push(...pending.splice(next, 1));
  }
  return true;
}
