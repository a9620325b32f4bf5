/**
 * Which metric family "utilization" means. NVML's `utilization.gpu` (`busy`) is the share of time
 * one or more kernels ran: a decode step that keeps one small kernel busy reads 100 %. GPM's SM
 * activity (`sm`, what dcgm-exporter exports as DCGM_FI_PROF_SM_ACTIVE) and tensor-pipe activity
 * (`tensor`) say how much of the GPU did work, on Hopper and newer. The configured basis is read
 * where a GPU reports it; a GPU without it (pre-Hopper) falls back to `busy`; a GPU with neither (a
 * MIG GPU without GPM, whose busy time NVML does not report) is unknown, never 0 %.
 *
 * The basis is a parameter of which metric family a store is asked for, so it composes with any
 * store-side aggregation: each family is one query, and a GPU's figures come from the first family
 * in `basisFamilies` order that has a series for it.
 */
import { z } from "zod";
import { METRICS } from "../../common/conventions.js";

export const UTILIZATION_BASES = ["sm", "tensor", "busy"] as const;
export type UtilizationBasis = (typeof UTILIZATION_BASES)[number];
export const utilizationBasisSchema = z.enum(UTILIZATION_BASES);

/** What a figure was computed from: one basis, several (`mixed`, GPUs falling back), or nothing (`unknown`). */
export type FigureBasis = UtilizationBasis | "mixed" | "unknown";

/** The per-GPU metric of each basis. */
export const BASIS_METRIC: Readonly<Record<UtilizationBasis, string>> = {
  sm: METRICS.smActive.name,
  tensor: METRICS.tensorActive.name,
  busy: METRICS.utilization.name,
};

/** How a report or a dashboard names the basis. */
export const BASIS_LABEL: Readonly<Record<FigureBasis, string>> = {
  sm: "SM activity (GPM)",
  tensor: "tensor-pipe activity (GPM)",
  busy: "busy time (NVML utilization.gpu)",
  mixed: "the configured basis where GPUs report it, busy time on the others",
  unknown: "no utilization reported",
};

/** The families to read for a basis, in order of preference: the basis itself, then `busy`. */
export function basisFamilies(basis: UtilizationBasis): readonly UtilizationBasis[] {
  return basis === "busy" ? ["busy"] : [basis, "busy"];
}

/** Something a store answered for one GPU: a series or a latest value, carrying the GPU's `uuid` label. */
interface HasLabels {
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * Per GPU (by its `uuid` label), the answers of the first family that has any for it, tagged with
 * that family's basis. `answers` are in `basisFamilies` order. Answers without a uuid are kept
 * under the family they came from only when no earlier family answered for the same node and GPU index.
 */
export function pickByBasis<T extends HasLabels>(
  answers: readonly { readonly basis: UtilizationBasis; readonly values: readonly T[] }[],
): { readonly basis: UtilizationBasis; readonly value: T }[] {
  const keyOf = (value: T) => value.labels["uuid"] || `${value.labels["node"] ?? ""}/${value.labels["gpu"] ?? ""}`;
  const chosen = new Map<string, UtilizationBasis>();
  const picked: { basis: UtilizationBasis; value: T }[] = [];
  for (const { basis, values } of answers) {
    const fresh = new Set<string>();
    for (const value of values) {
      const key = keyOf(value);
      const owner = chosen.get(key);
      if (owner !== undefined && owner !== basis) continue;
      if (owner === undefined) fresh.add(key);
      picked.push({ basis, value });
    }
    for (const key of fresh) chosen.set(key, basis);
  }
  return picked;
}

/** The basis of a figure over GPUs that used these bases. */
export function figureBasis(bases: Iterable<UtilizationBasis>): FigureBasis {
  const [first, ...others] = new Set(bases);
  if (first === undefined) return "unknown";
  return others.length > 0 ? "mixed" : first;
}
