import { OVERFLOW_MODEL } from "../../../common/conventions.js";
import { ModelTable, type ModelGauges } from "./runtime-gauges.js";
import { setSignature } from "./fold-members.js";
import type { FoldedPage } from "./page-fold.js";
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
export const AGENT_OVERFLOW_LABELS: RuntimeSeriesLabels = {
  model: OVERFLOW_MODEL,
  runtime: "",
  namespace: "",
  pod: "",
  tier: "",
};

/** One row of a target after its models are named and its budgets applied. */
export interface BudgetedRow {
  readonly labels: RuntimeSeriesLabels;
  readonly gauges: ModelGauges;
  /** Which rows went into it: stable while the same models fold together (the overflow rows' memo key). */
  readonly signature: string;
  /** "target" or "agent" for a row past a series limit. */
  readonly overflow?: "target" | "agent";
}

/** How the rows of one target are labelled and bounded at the agent's limit. */
export interface RowContext {
  readonly runtime: string;
  readonly namespace: string;
  readonly pod: string;
  readonly tierOf: (model: string) => string;
  /** The tier of the target's own overflow row. */
  readonly overflowTier: string;
  readonly agentBudget: SeriesBudget;
  /** Key of this target in the agent budget (its URL). */
  readonly targetKey: string;
}

/** Rows folded past the limits, by limit. */
export interface FoldCounts {
  target: number;
  agent: number;
}

/**
 * Labels the rows of one target's page, already named and bounded by the target's budget while it
 * was read (page-fold.ts), and applies the agent's series limit, in the page's order and then the
 * target's overflow row: a row the agent's budget refuses folds into the agent's `__overflow__`
 * row (counts summed, ratios the highest), so totals stay right while the breakdown of what
 * overflowed is lost. Adds the models the target's budget folded and the rows the agent's folded
 * to `folded`. Pure but for the agent budget's membership.
 */
export function budgetRows(
  page: Pick<FoldedPage, "rows" | "overflow" | "folded">,
  context: RowContext,
  folded: FoldCounts,
): BudgetedRow[] {
  const own = new ModelTable();
  const agentOverflow = new ModelTable();
  const agentMembers: string[] = [];
  const toAgentOverflow = (member: string, gauges: ModelGauges): void => {
    agentOverflow.fold(OVERFLOW_MODEL, gauges);
    agentMembers.push(member);
    folded.agent++;
  };
  folded.target += page.folded;
  for (const row of page.rows) {
    if (context.agentBudget.admit(`${context.targetKey}\u0000${row.model}`)) own.fold(row.model, row);
    else toAgentOverflow(row.model, row);
  }
  const out: BudgetedRow[] = own.list().map((gauges) => ({
    labels: {
      model: gauges.model,
      runtime: context.runtime,
      namespace: context.namespace,
      pod: context.pod,
      tier: context.tierOf(gauges.model),
    },
    gauges,
    signature: gauges.model,
  }));
  const targetOverflow = page.overflow;
  if (targetOverflow !== undefined) {
    if (context.agentBudget.admit(`${context.targetKey}\u0000${OVERFLOW_MODEL}`)) {
      out.push({
        labels: {
          model: OVERFLOW_MODEL,
          runtime: context.runtime,
          namespace: context.namespace,
          pod: context.pod,
          tier: context.overflowTier,
        },
        gauges: targetOverflow.gauges,
        signature: targetOverflow.signature,
        overflow: "target",
      });
    } else toAgentOverflow(targetOverflow.signature, targetOverflow.gauges);
  }
  for (const gauges of agentOverflow.list()) {
    out.push({
      labels: AGENT_OVERFLOW_LABELS,
      gauges,
      signature: `agent:${setSignature(agentMembers)}`,
      overflow: "agent",
    });
  }
  return out;
}
