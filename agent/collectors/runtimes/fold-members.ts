/**
 * The distinct model names folded into one overflow row, counted without keeping the names.
 *
 * A hostile page may fold 100,000 models into its target's `__overflow__` row, naming each of them
 * on several lines; the row's fold count and the fingerprint that says whether its members changed
 * since the previous scrape (the counter memo's key) need each name once. Keeping the names would
 * cost what the page costs; this keeps a 53-bit hash per name in an open-addressed table of
 * doubles (8 bytes a slot, at most half full: 16–32 bytes a folded model, about a tenth of the
 * page's own bytes for it). Two distinct names collide with probability about n² / 2⁵⁴ (6·10⁻⁷ for
 * 100,000 names); a collision counts the two as one.
 */

const OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** 32-bit FNV-1a over the UTF-16 code units of `text` (http://www.isthe.com/chongo/tech/comp/fnv/). */
export function fnv1a32(text: string): number {
  let hash = OFFSET_BASIS;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), FNV_PRIME) >>> 0;
  return hash;
}

/** A second, independent 32-bit hash (MurmurHash2's mixing step per code unit, then its finaliser), for the upper bits. */
function murmurMix32(text: string): number {
  let hash = 0x9747b28c ^ text.length;
  for (let i = 0; i < text.length; i++) {
    hash = Math.imul(hash ^ text.charCodeAt(i), 0x5bd1e995);
    hash ^= hash >>> 15;
  }
  hash = Math.imul(hash ^ (hash >>> 13), 0x5bd1e995);
  return (hash ^ (hash >>> 15)) >>> 0;
}

/**
 * An order-independent fingerprint of a set of names (count, and the sum and xor of their 32-bit
 * FNV-1a hashes): cheap for the 100,000 models a hostile page may list, and it changes when the
 * models folded into an overflow row change, which is all the caller needs to know.
 */
export function setSignature(names: readonly string[]): string {
  const set = new MemberSet();
  for (const name of names) set.add(name);
  return set.signature;
}

/** Old slots moved to a grown table per add(): growth is spread over the adds that follow it, never one long copy. */
const MIGRATE_PER_ADD = 16;

/** Distinct names, kept as hashes; see the file comment for what that costs and risks. */
export class MemberSet {
  /** Hash + 1 per occupied slot (0: empty). */
  private table = new Float64Array(16);
  /** The table before the last growth, while its slots are still being moved over. */
  private previous: Float64Array | undefined;
  private migrated = 0;
  private count = 0;
  private sum = 0;
  private xor = 0;

  /** Adds `name`; true when it was not in the set. */
  add(name: string): boolean {
    if (this.previous !== undefined) this.migrate();
    const low = fnv1a32(name);
    const key = low + (murmurMix32(name) >>> 11) * 2 ** 32 + 1;
    if (this.previous !== undefined && find(this.previous, key) !== undefined) return false;
    if (!insert(this.table, key)) return false;
    this.count++;
    this.sum = (this.sum + low) >>> 0;
    this.xor = (this.xor ^ low) >>> 0;
    if (this.previous === undefined && this.count * 2 > this.table.length) {
      this.previous = this.table;
      this.migrated = 0;
      this.table = new Float64Array(this.table.length * 2);
    }
    return true;
  }

  /** Distinct names added. */
  get size(): number {
    return this.count;
  }

  /** The set's fingerprint, `count:sum:xor` of the names' FNV-1a hashes (what {@link setSignature} gives for the same names). */
  get signature(): string {
    return `${this.count}:${this.sum.toString(16)}:${this.xor.toString(16)}`;
  }

  /** Moves the next few slots of the previous table into the current one; drops it once all moved. */
  private migrate(): void {
    const previous = this.previous;
    if (previous === undefined) return;
    const end = Math.min(previous.length, this.migrated + MIGRATE_PER_ADD);
    for (; this.migrated < end; this.migrated++) {
      // Copied, not cleared: an emptied slot would cut the probe chains of the keys not yet moved.
      const key = previous[this.migrated] ?? 0;
      if (key !== 0) insert(this.table, key);
    }
    if (this.migrated === previous.length) this.previous = undefined;
  }
}

/** The slot of `key` in `table` (linear probing from its low bits), or undefined when it is not there. */
function find(table: Float64Array, key: number): number | undefined {
  const mask = table.length - 1;
  for (let at = key % table.length; ; at = (at + 1) & mask) {
    const found = table[at];
    if (found === key) return at;
    if (found === 0 || found === undefined) return undefined;
  }
}

/** Puts `key` in `table`; false when it is there already. The table always has free slots (at most half full). */
function insert(table: Float64Array, key: number): boolean {
  const mask = table.length - 1;
  for (let at = key % table.length; ; at = (at + 1) & mask) {
    const found = table[at];
    if (found === key) return false;
    if (found === 0) {
      table[at] = key;
      return true;
    }
  }
}
