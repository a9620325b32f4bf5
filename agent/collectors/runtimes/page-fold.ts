import type { ExpositionSample } from "../../../common/exposition.js";
import { OVERFLOW_MODEL } from "../../../common/conventions.js";
import { MemberSet } from "./fold-members.js";
import { RowTable, type ProfileReader } from "./profile-reader.js";
import { RUNTIME_GAUGE_PROFILES } from "../../profiles/page-profiles.js";
import type { ModelGauges, RuntimeName } from "./runtime-gauges.js";
import type { SeriesBudget } from "./series-budget.js";

/** How one target's page is named and bounded while it is read. */
export interface PageFoldContext {
  /** The target's configured runtime: its profiles read the page even when it carries none of their names. */
  readonly configured?: RuntimeName | undefined;
  /** The model of a row from the page's model label: the target's configured model, else the label, else the pod's, else "unknown". */
  readonly modelOf: (pageModel: string) => string;
  /** The target's series budget (`maxSeriesPerTarget`). */
  readonly budget: SeriesBudget;
  /** Keys each profile joins on at the page's end (see ReaderContext.joinLimit). */
  readonly joinLimit: number;
}

/** A target's `__overflow__` row: the models its budget refused, folded together. */
export interface TargetOverflow {
  readonly gauges: ModelGauges;
  /** Fingerprint of the folded models (the counter memo starts over when they change). */
  readonly signature: string;
}

/** What a page gave, named and bounded by its target's budget. */
export interface FoldedPage {
  /** The configured runtime, else the first detected profile's (profiles/index.ts precedence). */
  readonly runtime: RuntimeName;
  readonly families: readonly string[];
  /** One row per admitted model, under its final name, first seen first. */
  readonly rows: readonly ModelGauges[];
  /** The row of the models the budget refused, when they gave any figure. */
  readonly overflow?: TargetOverflow;
  /** How many distinct models the budget refused. */
  readonly folded: number;
}

/** Sample name → the profiles (indexes into RUNTIME_GAUGE_PROFILES) that read it. */
const ROUTES: ReadonlyMap<string, readonly number[]> = (() => {
  const routes = new Map<string, number[]>();
  RUNTIME_GAUGE_PROFILES.forEach((profile, index) => {
    for (const name of profile.names) routes.set(name, [...(routes.get(name) ?? []), index]);
  });
  return routes;
})();

const OVERFLOW_SLOT = 0;

/**
 * One target's page read as it arrives: plug {@link wants} and {@link add} into an
 * ExpositionStream, then call finish() once the page ended (or abandon() when it failed).
 *
 * Only the samples of names some profile reads reach the profiles; the others are checked by the
 * stream and dropped. A model is named (PageFoldContext.modelOf) and put to the target's budget
 * the first time one of its samples is kept, in page order: while the budget admits, it gets its
 * own row; after that its samples go straight into the overflow row and its name only into a
 * set of hashes (fold-members.ts) that counts it once. So what a page costs while it is read is its
 * admitted rows, the profiles' bounded joins and those hashes, however many lines it has. Which
 * profiles apply (their metric-name prefix somewhere on the page, or the configured runtime) is
 * known at the end; every profile reads along until then.
 */
export class RuntimePageFold {
  private readonly readers: readonly ProfileReader[];
  private readonly detected: boolean[] = RUNTIME_GAUGE_PROFILES.map(() => false);
  private lastName = "";
  /** Admitted models; slot i + 1 is models[i]. */
  private readonly models: string[] = [];
  private readonly slots = new Map<string, number>();
  private readonly members = new MemberSet();

  constructor(private readonly context: PageFoldContext) {
    const slotOf = (pageModel: string): number => this.slotOf(pageModel);
    this.readers = RUNTIME_GAUGE_PROFILES.map((profile) => profile.open({ slotOf, joinLimit: context.joinLimit }));
  }

  /** For the stream's name filter: notes the runtimes whose names the page carries; true for the names a profile reads. */
  readonly wants = (name: string): boolean => {
    if (name !== this.lastName) {
      this.lastName = name;
      RUNTIME_GAUGE_PROFILES.forEach((profile, index) => {
        if (!this.detected[index] && name.startsWith(profile.prefix)) this.detected[index] = true;
      });
    }
    return ROUTES.has(name);
  };

  /** Hands one sample to the profiles that read its name. */
  readonly add = (sample: ExpositionSample): void => {
    for (const index of ROUTES.get(sample.name) ?? []) this.readers[index]?.add(sample);
  };

  /** The page's rows; undefined when no profile applies (its budget admissions are then taken back). */
  finish(): FoldedPage | undefined {
    const applies = RUNTIME_GAUGE_PROFILES.map(
      (profile, index) => profile.runtime === this.context.configured || this.detected[index] === true,
    );
    const first = RUNTIME_GAUGE_PROFILES.find((_, index) => applies[index]);
    if (first === undefined) {
      this.abandon();
      return undefined;
    }
    const table = new RowTable();
    this.readers.forEach((reader, index) => {
      if (applies[index]) reader.finish(table);
    });
    const rows: ModelGauges[] = [];
    this.models.forEach((model, index) => {
      const fields = table.get(index + 1);
      if (fields !== undefined) rows.push({ model, ...fields });
    });
    const overflowFields = table.get(OVERFLOW_SLOT);
    const overflow: TargetOverflow | undefined =
      overflowFields === undefined || this.members.size === 0
        ? undefined
        : { gauges: { model: OVERFLOW_MODEL, ...overflowFields }, signature: `target:${this.members.signature}` };
    return {
      runtime: this.context.configured ?? first.runtime,
      families: RUNTIME_GAUGE_PROFILES.filter((_, index) => applies[index]).map((profile) => profile.families),
      rows,
      ...(overflow === undefined ? {} : { overflow }),
      folded: this.members.size,
    };
  }

  /** Takes back what this page asked of the target's budget (a page that failed or was not recognised). Idempotent. */
  abandon(): void {
    for (const model of this.models) this.context.budget.withdraw(model);
  }

  private slotOf(pageModel: string): number {
    const model = this.context.modelOf(pageModel);
    const slot = this.slots.get(model);
    if (slot !== undefined) return slot;
    if (this.context.budget.admit(model)) {
      this.models.push(model);
      this.slots.set(model, this.models.length);
      return this.models.length;
    }
    this.members.add(model);
    return OVERFLOW_SLOT;
  }
}
