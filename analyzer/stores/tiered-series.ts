/**
 * One series held in bounded ring buffers of stepped resolution, for the embedded memory store.
 *
 * Each tier has a step S and a retention R. It keeps the last sample at or before each step boundary
 * k·S (the sample itself, with its own timestamp and value, not an average), so a counter stays exact
 * at every retained point and `increase()` over a coarse tier is the increase between real samples.
 * The newest sample waits as the tier's "pending" point until a later sample crosses the next
 * boundary; queries see it, so every tier ends at the latest sample. A ring of ⌈R ÷ S⌉ + 1 points
 * plus the pending one spans at least R back from the newest sample.
 */
import type { TimedValue } from "../fleet/utilization.js";
import { DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS } from "../../common/units.js";

/** One resolution tier: a step and how long it is kept, milliseconds. */
export interface TierSpec {
  readonly stepMs: number;
  readonly retentionMs: number;
}

/** 10 s for 6 h, 1 min for 3 d, 5 min for 30 d: the burn windows' lengths each fit a tier whose step is ≤ 1/12 of them. */
export const DEFAULT_TIERS: readonly TierSpec[] = [
  { stepMs: 10 * SECOND_MS, retentionMs: 6 * HOUR_MS },
  { stepMs: MINUTE_MS, retentionMs: 3 * DAY_MS },
  { stepMs: 5 * MINUTE_MS, retentionMs: 30 * DAY_MS },
];

/** Committed points a tier holds besides its pending one. */
export function tierCapacity(spec: TierSpec): number {
  return Math.ceil(spec.retentionMs / spec.stepMs) + 1;
}

const INITIAL_CAPACITY = 64;

/** A ring of (time, value) points that grows by doubling up to `maxCapacity`, then overwrites the oldest. */
export class PointRing {
  private times: Float64Array;
  private values: Float64Array;
  private start = 0;
  length = 0;

  constructor(readonly maxCapacity: number) {
    const initial = Math.min(INITIAL_CAPACITY, maxCapacity);
    this.times = new Float64Array(initial);
    this.values = new Float64Array(initial);
  }

  /** Appends a point; returns the time of the point it evicted, or undefined. */
  push(atMs: number, value: number): number | undefined {
    if (this.length === this.times.length && this.length < this.maxCapacity) this.grow();
    const capacity = this.times.length;
    if (this.length < capacity) {
      // Until the ring is full, start is 0.
      this.times[this.length] = atMs;
      this.values[this.length] = value;
      this.length++;
      return undefined;
    }
    const evicted = this.times[this.start] as number;
    this.times[this.start] = atMs;
    this.values[this.start] = value;
    this.start = (this.start + 1) % capacity;
    return evicted;
  }

  timeAt(index: number): number {
    return this.times[(this.start + index) % this.times.length] as number;
  }

  valueAt(index: number): number {
    return this.values[(this.start + index) % this.times.length] as number;
  }

  /** The first index whose time is ≥ atMs (length when none is). */
  lowerBound(atMs: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.timeAt(mid) < atMs) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Pushes points [from, to) onto `out` as TimedValues, times minus `originMs`. */
  copyTo(out: TimedValue[], from: number, to: number, originMs: number): void {
    const capacity = this.times.length;
    let at = (this.start + from) % capacity;
    for (let i = from; i < to; i++) {
      out.push({ atMs: (this.times[at] as number) - originMs, value: this.values[at] as number });
      if (++at === capacity) at = 0;
    }
  }

  private grow(): void {
    const capacity = Math.min(this.maxCapacity, Math.max(INITIAL_CAPACITY, this.times.length * 2));
    const times = new Float64Array(capacity);
    const values = new Float64Array(capacity);
    for (let i = 0; i < this.length; i++) {
      times[i] = this.timeAt(i);
      values[i] = this.valueAt(i);
    }
    this.times = times;
    this.values = values;
    this.start = 0;
  }
}

/** One tier of one series. */
export class Tier {
  readonly ring: PointRing;
  /** The newest sample, not yet committed to a boundary; NaN time when there is none. Set through add() or restorePending(). */
  pendingAtMs = NaN;
  pendingValue = NaN;
  /** The time of the newest point the ring has overwritten: the tier holds every point after it. */
  droppedThroughMs = -Infinity;

  constructor(readonly spec: TierSpec) {
    this.ring = new PointRing(tierCapacity(spec));
  }

  /** The pending sample's boundary: the first k·step at or after it (samples sharing one compete for it). */
  private pendingBoundary = NaN;

  /** Adds a sample newer than every sample before it. */
  add(atMs: number, value: number): void {
    const boundary = Math.ceil(atMs / this.spec.stepMs);
    if (boundary > this.pendingBoundary) this.commit(this.pendingAtMs, this.pendingValue);
    this.pendingAtMs = atMs;
    this.pendingValue = value;
    this.pendingBoundary = boundary;
  }

  /** Sets the pending sample of a tier being restored from a file. */
  restorePending(atMs: number, value: number): void {
    this.pendingAtMs = atMs;
    this.pendingValue = value;
    this.pendingBoundary = Math.ceil(atMs / this.spec.stepMs);
  }

  /** Appends a point to the ring (also used when a saved tier is restored). */
  commit(atMs: number, value: number): void {
    const evicted = this.ring.push(atMs, value);
    if (evicted !== undefined) this.droppedThroughMs = Math.max(this.droppedThroughMs, evicted);
  }

  /** Points the tier answers with: the ring, then the pending sample. */
  get size(): number {
    return this.ring.length + (Number.isNaN(this.pendingAtMs) ? 0 : 1);
  }

  timeAt(index: number): number {
    return index < this.ring.length ? this.ring.timeAt(index) : this.pendingAtMs;
  }

  valueAt(index: number): number {
    return index < this.ring.length ? this.ring.valueAt(index) : this.pendingValue;
  }

  /** The first index whose time is ≥ atMs (size when none is). */
  lowerBound(atMs: number): number {
    const inRing = this.ring.lowerBound(atMs);
    if (inRing < this.ring.length) return inRing;
    return this.size > this.ring.length && this.pendingAtMs >= atMs ? this.ring.length : this.size;
  }

  /** Samples with fromMs ≤ time ≤ toMs, oldest first, their times minus `originMs`. */
  samplesBetween(fromMs: number, toMs: number, originMs: number): TimedValue[] {
    const ring = this.ring;
    const from = ring.lowerBound(fromMs);
    let to = ring.lowerBound(toMs);
    if (to < ring.length && ring.timeAt(to) === toMs) to++;
    const samples: TimedValue[] = [];
    ring.copyTo(samples, from, to, originMs);
    if (
      to === ring.length &&
      !Number.isNaN(this.pendingAtMs) &&
      this.pendingAtMs >= fromMs &&
      this.pendingAtMs <= toMs
    ) {
      samples.push({ atMs: this.pendingAtMs - originMs, value: this.pendingValue });
    }
    return samples;
  }

  /** Whether every sample the series had at or after `fromMs` is still here. */
  covers(fromMs: number): boolean {
    return this.droppedThroughMs < fromMs;
  }
}

/** A series' identity and its tiers. */
export class TieredSeries {
  readonly tiers: Tier[];
  /** Time of the newest sample, -Infinity before the first. */
  lastAtMs = -Infinity;

  constructor(
    readonly name: string,
    readonly labels: Readonly<Record<string, string>>,
    specs: readonly TierSpec[],
  ) {
    this.tiers = specs.map((spec) => new Tier(spec));
  }

  /** Adds a sample; false when it is not newer than the newest one (out of order or a duplicate). */
  append(atMs: number, value: number): boolean {
    if (!(atMs > this.lastAtMs)) return false;
    this.lastAtMs = atMs;
    const tiers = this.tiers;
    for (let i = 0; i < tiers.length; i++) (tiers[i] as Tier).add(atMs, value);
    return true;
  }

  /**
   * The finest tier that still holds every sample since `fromMs`; the coarsest when none does (it
   * reaches furthest back).
   */
  tierFor(fromMs: number): Tier {
    for (const tier of this.tiers) if (tier.covers(fromMs)) return tier;
    return this.tiers[this.tiers.length - 1] as Tier;
  }

  /** Samples with fromMs ≤ time ≤ toMs from the tier chosen for `fromMs`, their times minus `originMs`. */
  samplesBetween(fromMs: number, toMs: number, originMs = 0): TimedValue[] {
    return this.tierFor(fromMs).samplesBetween(fromMs, toMs, originMs);
  }

  /** Every distinct sample any tier holds, oldest first (for rebuilding under other tiers). */
  allSamples(): TimedValue[] {
    const byTime = new Map<number, number>();
    for (const tier of this.tiers) for (let i = 0; i < tier.size; i++) byTime.set(tier.timeAt(i), tier.valueAt(i));
    return [...byTime].sort(([a], [b]) => a - b).map(([atMs, value]) => ({ atMs, value }));
  }
}
