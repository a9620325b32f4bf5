import type { ExpositionSample } from "../../../common/exposition.js";
import {
  RATIO_FIELDS,
  type GaugeField,
  type ModelGauges,
  type RuntimeName,
  type SampleIndex,
} from "./runtime-gauges.js";

/**
 * Reading a runtime page sample by sample, as it arrives, into rows chosen by the caller.
 *
 * A profile never sees a page whole: its reader takes the samples of the names it reads one at a
 * time and keeps, per row, only the running figures (a sum, a highest ratio). Which row a sample
 * goes to — its "slot" — is the caller's choice, asked for the first time a model is met: the
 * scraper answers with the model's own row while the target's series budget admits it and with
 * the overflow row after, so what a page costs is bounded by the budget, not by the page. Choices
 * the old whole-page profiles made by looking ahead (the first of several names the page carries,
 * whether any request_type="scheduled" exists) are made at finish() from per-name figures.
 */

/** The row a sample's model goes to, chosen by the caller the first time it meets that model. */
export type SlotOf = (pageModel: string) => number;

/** What a reader is opened with. */
export interface ReaderContext {
  readonly slotOf: SlotOf;
  /**
   * Most keys a reader joins on at the page's end (a model's successes with its duration counters,
   * a version's used and max KV blocks, a replica group of SGLang). Past it, the new keys of a row
   * share one spill entry: exact within the bound, approximate only on pages of more models than it.
   */
  readonly joinLimit: number;
}

/** A profile's reader of one page. */
export interface ProfileReader {
  /** Takes one sample of a name the profile reads (any other is ignored). */
  add(sample: ExpositionSample): void;
  /** Writes the page's figures into `rows`, per slot: ratios keep the highest, counts add up. */
  finish(rows: RowTable): void;
}

type Fields = { [F in GaugeField]?: number };

/** The figures per slot that a page gives, from every profile that read it. */
export class RowTable {
  private readonly rows = new Map<number, Fields>();

  /** Adds a sample's `value` to the field; a non-finite value is dropped (the field stays absent). */
  sum(slot: number, field: GaugeField, value: number): void {
    if (Number.isFinite(value)) this.merge(slot, field, value);
  }

  /** Keeps the larger of the field and a finite `value`. */
  max(slot: number, field: GaugeField, value: number): void {
    if (!Number.isFinite(value)) return;
    const row = this.row(slot);
    row[field] = Math.max(row[field] ?? -Infinity, value);
  }

  /** Folds an already accumulated figure in: ratios keep the highest, counts add up. */
  merge(slot: number, field: GaugeField, value: number): void {
    const row = this.row(slot);
    const previous = row[field];
    row[field] =
      previous === undefined ? value : RATIO_FIELDS.has(field) ? Math.max(previous, value) : previous + value;
  }

  /** The fields of a slot, undefined when nothing reached it. */
  get(slot: number): Readonly<Fields> | undefined {
    return this.rows.get(slot);
  }

  /** The slots with figures, in the order they were first written. */
  slots(): IterableIterator<number> {
    return this.rows.keys();
  }

  private row(slot: number): Fields {
    let row = this.rows.get(slot);
    if (row === undefined) this.rows.set(slot, (row = {}));
    return row;
  }
}

/** One running figure per slot: a sum or a highest value. The caller filters what it adds. */
export class SlotValues {
  private readonly values = new Map<number, number>();

  add(slot: number, value: number): void {
    this.values.set(slot, (this.values.get(slot) ?? 0) + value);
  }

  raise(slot: number, value: number): void {
    const previous = this.values.get(slot);
    this.values.set(slot, previous === undefined ? value : Math.max(previous, value));
  }

  /** Writes each slot's figure into `rows` as `field`. */
  into(rows: RowTable, field: GaugeField): void {
    for (const [slot, value] of this.values) rows.merge(slot, field, value);
  }

  entries(): IterableIterator<[number, number]> {
    return this.values.entries();
  }
}

/**
 * Alternative names of one figure (a current name and the ones it replaced; a counter with and
 * without `_total`): each name present on the page has its own accumulator, and the first name of
 * the list the page carries at all — a NaN sample counts as carried — is the one read.
 */
export class FirstPresent<T> {
  private readonly byName = new Map<string, T>();

  constructor(
    readonly names: readonly string[],
    private readonly create: () => T,
  ) {}

  /** The accumulator of `name` (one of `names`), which the page now carries. */
  of(name: string): T {
    let found = this.byName.get(name);
    if (found === undefined) this.byName.set(name, (found = this.create()));
    return found;
  }

  /** The accumulator of the first name the page carries, undefined when it carries none. */
  chosen(): T | undefined {
    for (const name of this.names) {
      const found = this.byName.get(name);
      if (found !== undefined) return found;
    }
    return undefined;
  }
}

/**
 * Per-key state joined at the page's end, bounded: the first `limit` keys have their own entry;
 * past that a new key shares one spill entry per slot (`isSpill`), which the profile folds as it
 * documents. Entries remember their slot.
 */
export class BoundedJoin<E extends { readonly slot: number; readonly isSpill: boolean }> {
  private readonly entries = new Map<string, E>();
  private readonly spills = new Map<number, E>();

  constructor(
    private readonly limit: number,
    private readonly create: (slot: number, isSpill: boolean) => E,
  ) {}

  /** The entry of `key`; `slot` is asked only when the key is new. */
  entry(key: string, slot: () => number): E {
    const found = this.entries.get(key);
    if (found !== undefined) return found;
    const at = slot();
    if (this.entries.size < this.limit) {
      const created = this.create(at, false);
      this.entries.set(key, created);
      return created;
    }
    let spill = this.spills.get(at);
    if (spill === undefined) this.spills.set(at, (spill = this.create(at, true)));
    return spill;
  }

  /** Every entry, the spill entries last. */
  *all(): IterableIterator<E> {
    yield* this.entries.values();
    yield* this.spills.values();
  }
}

/** What a profile module declares; {@link defineProfile} adds the whole-page `detects` and `read`. */
export interface ProfileSpec {
  readonly runtime: RuntimeName;
  readonly families: string;
  /** A page carries this runtime's families when any of its sample names starts with this. */
  readonly prefix: string;
  /** Every sample name the reader reads. */
  readonly names: readonly string[];
  open(context: ReaderContext): ProfileReader;
}

/**
 * How one runtime's page maps to inferwatch's gauges. A new runtime is one more file listed in
 * ./profiles/index.ts. The streaming half (`prefix`, `names`, `open`: {@link ProfileSpec}) is what
 * the scraper reads pages with as they arrive; `detects` and `read` take a page already indexed.
 */
export interface RuntimeGaugeProfile extends ProfileSpec {
  /** Whether the page carries this profile's metric names (any sample name starting with `prefix`). */
  detects(page: SampleIndex): boolean;
  /** Pure: the page's gauges per model, under the model label this runtime uses. */
  read(page: SampleIndex): ModelGauges[];
}

/** A profile from its spec: `read` replays an indexed page through the streaming reader, one row per model label value. */
export function defineProfile(spec: ProfileSpec): RuntimeGaugeProfile {
  return {
    ...spec,
    detects: (page) => {
      for (const name of page.keys()) if (name.startsWith(spec.prefix)) return true;
      return false;
    },
    read: (page) => replayPage([spec], page),
  };
}

/**
 * Reads a whole indexed page with `profiles`, one row per model label value (no budget: the
 * page is in memory already). Rows of one model from several profiles merge.
 */
export function replayPage(profiles: readonly ProfileSpec[], page: SampleIndex): ModelGauges[] {
  const models: string[] = [];
  const slots = new Map<string, number>();
  const slotOf: SlotOf = (model) => {
    let slot = slots.get(model);
    if (slot === undefined) {
      slots.set(model, (slot = models.length));
      models.push(model);
    }
    return slot;
  };
  const readers = profiles.map((profile) => ({
    names: new Set(profile.names),
    reader: profile.open({ slotOf, joinLimit: Infinity }),
  }));
  for (const [name, samples] of page) {
    for (const { names, reader } of readers) if (names.has(name)) for (const sample of samples) reader.add(sample);
  }
  const rows = new RowTable();
  for (const { reader } of readers) reader.finish(rows);
  const out: ModelGauges[] = [];
  for (const slot of rows.slots()) out.push({ model: models[slot] ?? "", ...rows.get(slot) });
  return out;
}
