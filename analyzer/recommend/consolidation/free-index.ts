/**
 * The planner's best-fit index: GPUs sorted by free memory, kept sorted under updates.
 */

/** What the search reads of a FreeIndex; only the packing state updates it. */
export interface FreeIndexView {
  /** GPUs in the index. */
  readonly length: number;
  /** Position of the first GPU with at least `bytes` free (`length` when none). */
  firstAtLeast(bytes: number): number;
  /** The GPU at position i. */
  at(i: number): number;
}

/**
 * GPUs of one placement class sorted by free memory (ascending, then by index), keys kept beside
 * the order so that best fit is a binary search and an update is two memmoves.
 */
export class FreeIndex implements FreeIndexView {
  private order = new Int32Array(16);
  private keys = new Float64Array(16);
  private size = 0;

  private position(gpu: number, free: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const key = this.keys[mid] ?? 0;
      if (key < free || (key === free && (this.order[mid] ?? 0) < gpu)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insert(gpu: number, free: number): void {
    if (this.size === this.order.length) {
      const order = new Int32Array(this.size * 2);
      order.set(this.order);
      const keys = new Float64Array(this.size * 2);
      keys.set(this.keys);
      this.order = order;
      this.keys = keys;
    }
    const at = this.position(gpu, free);
    this.order.copyWithin(at + 1, at, this.size);
    this.keys.copyWithin(at + 1, at, this.size);
    this.order[at] = gpu;
    this.keys[at] = free;
    this.size++;
  }

  /** Removes `gpu`, inserted with free amount `free`. */
  remove(gpu: number, free: number): void {
    const at = this.position(gpu, free);
    if (this.order[at] !== gpu || at >= this.size)
      throw new Error(`FreeIndex: GPU ${gpu} is not where its free memory says`);
    this.order.copyWithin(at, at + 1, this.size);
    this.keys.copyWithin(at, at + 1, this.size);
    this.size--;
  }

  /** Position of the first GPU with at least `bytes` free; GPUs from there on are ever emptier. */
  firstAtLeast(bytes: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.keys[mid] ?? 0) < bytes) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  get length(): number {
    return this.size;
  }

  /** The GPU at position i (0 ≤ i < length). */
  at(i: number): number {
    return this.order[i] ?? 0;
  }
}
