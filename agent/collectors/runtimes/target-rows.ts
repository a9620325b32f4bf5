import { OVERFLOW_MODEL } from "../../../common/conventions.js";
import { ModelTable, type ModelGauges } from "./runtime-gauges.js";
import type { SeriesBudget } from "./series-budget.js";

/** The model label when neither the page, the target's configuration nor its pod names one (as span metrics). */
export const UNKNOWN_MODEL = "unknown";

/** Labels of a runtime gauge series, less `node` (the exporter adds it). */
export interface RuntimeSeriesLabels {
  readonly model: string;
  readonly runtime: string;
  readonly namespace: string;
  readonly pod: string;
  readonly tier: string;
}

/** The labels every row past the agent's series limit folds into, whatever its target (as span metrics' overflow). */
export const AGENT_OVERFLOW_LABELS: RuntimeSeriesLabels = { model: OVERFLOW_MODEL, runtime: "", namespace: "", pod: "", tier: "" };

/** One row of a target after its models are named and its budgets applied. */
export interface BudgetedRow {
  readonly labels: RuntimeSeriesLabels;
  readonly gauges: ModelGauges;
  /** Which rows went into it: stable while the same models fold together (the overflow rows' memo key). */
  readonly signature: string;
  /** "target" or "agent" for a row past a series limit. */
  readonly overflow?: "target" | "agent";
}

/**
 * An order-independent fingerprint of a set of names (count, and the sum and xor of their 32-bit
 * FNV-1a hashes): cheap for the 100,000 models a hostile page may list, and it changes when the
 * models folded into an overflow row change, which is all the caller needs to know.
 */
export function setSignature(names: readonly string[]): string {
  let sum = 0;
  let xor = 0;
  for (const name of names) {
    let hash = 0x811c9dc5;
    for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193) >>> 0;
    sum = (sum + hash) >>> 0;
    xor = (xor ^ hash) >>> 0;
  }
  return `${names.length}:${sum.toString(16)}:${xor.toString(16)}`;
}

/** How the rows of one target are named and bounded. */
export interface RowContext {
  readonly runtime: string;
  readonly namespace: string;
  readonly pod: string;
  /** The model of a row: the target's configured model, else the page's label, else the pod's, else "unknown". */
  readonly modelOf: (pageModel: string) => string;
  readonly tierOf: (model: string) => string;
  /** The tier of the target's own overflow row. */
  readonly overflowTier: string;
  readonly targetBudget: SeriesBudget;
  readonly agentBudget: SeriesBudget;
  /** Key of this target in the agent budget (its URL). */
  readonly targetKey: string;
}

/** Rows folded past the limits in one call, by limit. */
export interface FoldCounts {
  target: number;
  agent: number;
}

/**
 * Names the rows of one target (rows that get the same name fold together) and applies the
 * series limits, pure but for the budgets' membership: a model the target's budget refuses folds
 * into the target's `__overflow__` row, and a row the agent's budget refuses folds into the agent's
 * `__overflow__` row. Counts add up and ratios keep the highest, so totals stay right while the
 * breakdown of what overflowed is lost. Adds the rows that were folded to `folded`.
 */
export function budgetRows(rows: readonly ModelGauges[], context: RowContext, folded: FoldCounts): BudgetedRow[] {
  const named = new ModelTable();
  for (const row of rows) named.fold(context.modelOf(row.model), row);
  const own = new ModelTable();
  const targetOverflow = new ModelTable();
  const agentOverflow = new ModelTable();
  const members: { target: string[]; agent: string[] } = { target: [], agent: [] };
  const toAgentOverflow = (model: string, gauges: ModelGauges): void => {
    agentOverflow.fold(OVERFLOW_MODEL, gauges);
    members.agent.push(model);
    folded.agent++;
  };
  for (const row of named.list()) {
    if (!context.targetBudget.admit(row.model)) {
      targetOverflow.fold(OVERFLOW_MODEL, row);
      members.target.push(row.model);
      folded.target++;
    } else if (context.agentBudget.admit(`${context.targetKey}\u0000${row.model}`)) own.fold(row.model, row);
    else toAgentOverflow(row.model, row);
  }
  const out: BudgetedRow[] = own.list().map((gauges) => ({
    labels: { model: gauges.model, runtime: context.runtime, namespace: context.namespace, pod: context.pod, tier: context.tierOf(gauges.model) },
    gauges,
    signature: gauges.model,
  }));
  for (const gauges of targetOverflow.list()) {
    const signature = `target:${setSignature(members.target)}`;
    if (context.agentBudget.admit(`${context.targetKey}\u0000${OVERFLOW_MODEL}`)) {
      out.push({ labels: { model: OVERFLOW_MODEL, runtime: context.runtime, namespace: context.namespace, pod: context.pod, tier: context.overflowTier }, gauges, signature, overflow: "target" });
    } else toAgentOverflow(signature, gauges);
  }
  for (const gauges of agentOverflow.list()) {
    out.push({ labels: AGENT_OVERFLOW_LABELS, gauges, signature: `agent:${setSignature(members.agent)}`, overflow: "agent" });
  }
  return out;
}
