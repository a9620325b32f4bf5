import type { Logger } from "../../../common/log.js";
import type { UnattributedReason } from "./model-identity.js";

/** One row of `inferwatch_llm_unattributed_spans_total`. */
export interface UnattributedCount {
  readonly runtime: string;
  readonly reason: UnattributedReason;
  readonly count: number;
}

/**
 * Counts the spans recorded under `unknown`, by runtime and reason, and says so in the log once
 * per runtime (with what the operator can set), never once per span.
 */
export class UnattributedSpans {
  private readonly counts = new Map<string, Map<UnattributedReason, number>>();

  constructor(private readonly log: Logger | undefined) {}

  /** Counts one span of `runtime` that nothing named the model of. */
  add(runtime: string, reason: UnattributedReason): void {
    let byReason = this.counts.get(runtime);
    if (byReason === undefined) {
      this.counts.set(runtime, (byReason = new Map<UnattributedReason, number>()));
      this.log?.warn(
        { runtime, reason },
        'spans of this runtime name no model and no pod of this node that names one; they are recorded under model="unknown". ' +
          "Set OTEL_SERVICE_NAME to the model, or OTEL_RESOURCE_ATTRIBUTES=k8s.pod.name=<pod>,k8s.namespace.name=<namespace> (docs/runtimes.md)",
      );
    }
    byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  }

  /** Every (runtime, reason) counted so far. */
  list(): UnattributedCount[] {
    return [...this.counts].flatMap(([runtime, byReason]) =>
      [...byReason].map(([reason, count]) => ({ runtime, reason, count })),
    );
  }
}
