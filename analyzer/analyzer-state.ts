import type { PartStatus } from "./evaluation/part.js";
import type { FleetEvaluation } from "./fleet/evaluate.js";
import type { FleetSnapshot } from "./fleet/snapshot.js";
import type { Recommendations } from "./recommend/recommendations.js";
import type { SloEvaluation } from "./slo/evaluate.js";
import type { QueryUsageSummary } from "./stores/query-usage.js";

/** What the analyzer last computed. Each part keeps its last good answer when a later run fails; `parts` says how fresh each is. */
export interface AnalyzerState {
  readonly slos: SloEvaluation | undefined;
  readonly recommendations: Recommendations | undefined;
  readonly fleet: FleetEvaluation | undefined;
  readonly snapshot: FleetSnapshot | undefined;
  /** The oldest instant among the answers served (SLOs, snapshot, fleet, recommendations); undefined before any. */
  readonly evaluatedAtMs: number | undefined;
  readonly lastDurationMs: number | undefined;
  /** The parts that failed in the last evaluation, with their errors; undefined when none did. */
  readonly error: string | undefined;
  /** Every part's freshness, source and cost. */
  readonly parts: readonly PartStatus[];
  /** What the last evaluation cost: queries, bytes, retries, warnings. */
  readonly usage: QueryUsageSummary | undefined;
}
