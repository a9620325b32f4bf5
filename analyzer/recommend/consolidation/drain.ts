/**
 * Drains, the search's one move: empty a set of GPUs by moving every replica on them into gaps on
 * GPUs that stay in use, all or nothing.
 *
 * Each lifted replica (tensor-parallel groups first, then largest by memory; on failure again
 * largest by the larger of its memory and compute shares) goes to the fullest GPU in use that takes
 * it (best fit), else onto a GPU made room on by moving one small replica elsewhere first (a
 * depth-one ejection chain), else onto an idle GPU of a node in use; a tensor-parallel replica to
 * the NVLink domain waking the fewest idle GPUs, then tightest. A tensor-parallel replica that
 * moves lightens its other GPUs, which are then drained too when they can be. The drain is kept
 * when it lowers the GPUs in use, or the nodes in use at equal GPUs.
 */
import type { PackingState, PlacementClass, SearchMove } from "./packing-state.js";

/** GPUs tried as room for an ejection chain before giving up on a replica. */
const EJECTION_TRIES = 16;

/** Memory reserved on GPU g (its replicas and baseline). */
export const used = (state: PackingState, g: number): number => state.memoryOf(g);

/** The tightest GPU for a one-GPU replica: fullest first, skipping GPUs or nodes that refuse it. */
function destinationForOne(
  state: PackingState,
  r: number,
  cls: PlacementClass,
  canWake: boolean,
): number[] | undefined {
  const index = cls.index;
  for (let i = index.firstAtLeast(state.sizeOf(r)); i < index.length; i++) {
    const g = index.at(i);
    const n = state.gpuNodeOf(g);
    if (state.gpusInUseOnNode(n) === 0 || (!canWake && !state.isInUse(g))) continue;
    if (state.gpuTakes(r, g) && state.nodeTakes(r, n)) return [g];
  }
  return undefined;
}

/**
 * Orders a domain's GPUs that take a replica: in use before idle, then least free memory, then
 * index. An insertion sort without a comparator closure: this runs for every domain tried for every
 * tensor-parallel replica lifted (hundreds of thousands of times on a 10,000-GPU fleet) on ≤ 8 GPUs.
 */
function sortFits(state: PackingState, fits: number[]): void {
  const before = (a: number, b: number): boolean => {
    const inUseA = state.isInUse(a);
    if (inUseA !== state.isInUse(b)) return inUseA;
    const freeA = state.free(a);
    const freeB = state.free(b);
    return freeA < freeB || (freeA === freeB && a < b);
  };
  for (let i = 1; i < fits.length; i++) {
    const g = fits[i] ?? 0;
    let j = i - 1;
    while (j >= 0 && before(g, fits[j] ?? 0)) {
      fits[j + 1] = fits[j] ?? 0;
      j--;
    }
    fits[j + 1] = g;
  }
}

/**
 * The NVLink domain for a tensor-parallel replica: in each domain of its class on a node in use,
 * the t GPUs that take it, used GPUs before idle ones and fullest first; the domain waking the
 * fewest idle GPUs, then leaving the least memory free on them, wins.
 */
function destinationForGroup(state: PackingState, r: number, cls: PlacementClass, tp: number): number[] | undefined {
  let best: number[] | undefined;
  let bestWoken = Infinity;
  let bestLeft = Infinity;
  const size = state.sizeOf(r);
  const fits: number[] = [];
  for (const id of cls.domains) {
    if (!state.hasDomainRoom(id, tp, size)) continue;
    const room = state.domainRoom(id, tp, size);
    if (room.count < tp || (bestWoken === 0 && room.left >= bestLeft)) continue;
    const domain = state.domainGpus(id);
    const n = state.gpuNodeOf(domain[0] ?? 0);
    if (state.gpusInUseOnNode(n) === 0 || !state.nodeTakes(r, n)) continue;
    fits.length = 0;
    for (const g of domain) if (state.gpuTakes(r, g)) fits.push(g);
    if (fits.length < tp) continue;
    sortFits(state, fits);
    let woken = 0;
    let left = 0;
    for (let i = 0; i < tp; i++) {
      const g = fits[i] ?? 0;
      if (!state.isInUse(g)) woken++;
      left += state.free(g) - size;
    }
    if (woken < bestWoken || (woken === bestWoken && left < bestLeft)) {
      best = fits.slice(0, tp);
      bestWoken = woken;
      bestLeft = left;
    }
  }
  return best;
}

/** Where replica r (lifted) goes: a GPU in use, or with `canWake` an idle GPU of a node in use too. */
function destination(state: PackingState, r: number, tp: number, canWake = true): number[] | undefined {
  const cls = state.classOfReplica(r);
  return tp === 1 ? destinationForOne(state, r, cls, canWake) : destinationForGroup(state, r, cls, tp);
}

/**
 * One drain, applied move by move and undone as a whole unless kept: the replicas it lifted, their
 * budgets and where they went.
 */
class Transaction {
  readonly journal: { replica: number; from: number[]; to: number[] }[] = [];
  /** Moves per model in the journal, and lifted replicas not placed yet (budgets count both). */
  private readonly perModel = new Map<number, number>();
  private readonly pending = new Map<number, number>();
  private pendingTotal = 0;
  private readonly movedNow = new Set<number>();

  constructor(private readonly state: PackingState) {}

  private budgetAllows(model: number, extra: number): boolean {
    const planned = this.state.movesOfModel(model) + (this.perModel.get(model) ?? 0) + (this.pending.get(model) ?? 0);
    return planned + extra <= this.state.moveBudgetOf(model);
  }

  private movesAllow(extra: number): boolean {
    return this.state.movesMade + this.journal.length + this.pendingTotal + extra <= this.state.maxMoves;
  }

  private record(replica: number, from: number[], to: number[]): void {
    this.journal.push({ replica, from, to });
    const model = this.state.modelOf(replica);
    this.perModel.set(model, (this.perModel.get(model) ?? 0) + 1);
    this.movedNow.add(replica);
  }

  /**
   * Empties `gpus` (all replicas on them move, fullest tensor-parallel groups first, then largest)
   * or leaves the state as it was and returns false.
   */
  drain(gpus: readonly number[]): boolean {
    const { state } = this;
    const lifted: number[] = [];
    const counts = new Map<number, number>();
    for (const g of gpus) {
      if (state.hasBaselineOn(g)) return false;
      for (const r of state.residentsOf(g)) {
        if (lifted.includes(r)) continue;
        if (state.blocker(r) !== undefined || this.movedNow.has(r)) return false;
        const model = state.modelOf(r);
        const count = (counts.get(model) ?? 0) + 1;
        if (!this.budgetAllows(model, count)) return false;
        counts.set(model, count);
        lifted.push(r);
      }
    }
    if (lifted.length === 0 || !this.movesAllow(lifted.length)) return false;
    const tp = (r: number): number => state.gpusOf(r).length;
    // Largest first, by memory, and if that fails by the larger of the memory and compute shares
    // (two-dimensional items: either resource may be the one that does not fit).
    const byMemory = [...lifted].sort((a, b) => tp(b) - tp(a) || state.sizeOf(b) - state.sizeOf(a) || a - b);
    const weight = (r: number): number =>
      Math.max(state.sizeOf(r) / state.usableOf(state.gpusOf(r)[0] ?? 0), state.shareOf(r) / state.computeCeiling);
    const byEither = [...lifted].sort((a, b) => tp(b) - tp(a) || weight(b) - weight(a) || a - b);
    for (const g of gpus) state.setDraining(g, true);
    let isPlaced = this.placeAll(byMemory, counts);
    if (!isPlaced && lifted.length > 1 && byEither.some((r, i) => r !== byMemory[i]))
      isPlaced = this.placeAll(byEither, counts);
    for (const g of gpus) state.setDraining(g, false);
    return isPlaced;
  }

  /** Places the lifted replicas in `order`, all or none (then the state is as before). */
  private placeAll(order: readonly number[], counts: ReadonlyMap<number, number>): boolean {
    const { state } = this;
    const mark = this.journal.length;
    for (const [model, count] of counts) this.pending.set(model, (this.pending.get(model) ?? 0) + count);
    this.pendingTotal += order.length;
    let isPlaced = true;
    for (const r of order) {
      const model = state.modelOf(r);
      // r stays pending (counted in budgets) until recorded, so an ejection for it sees its move.
      const settle = (): void => {
        this.pending.set(model, (this.pending.get(model) ?? 0) - 1);
        this.pendingTotal--;
      };
      if (!isPlaced) {
        settle();
        continue;
      }
      const from = state.lift(r);
      // A GPU in use first, then room made by an ejection, and only then an idle GPU (which costs one).
      const to =
        from.length === 1
          ? (destination(state, r, 1, false) ??
            (state.canEject ? this.ejectFor(r, from) : undefined) ??
            destination(state, r, 1, true))
          : destination(state, r, from.length);
      settle();
      if (to === undefined) {
        state.place(r, from);
        isPlaced = false;
        continue;
      }
      state.place(r, to);
      this.record(r, from, to);
    }
    if (!isPlaced) this.rollback(mark);
    return isPlaced;
  }

  /**
   * Makes room for one-GPU replica r (lifted, its GPU draining): on the fullest GPU h that would
   * take r once one of its one-GPU replicas e (free to move; of another model when a spread limit
   * applies, whose count on r's old node the plan's order would change) moved elsewhere, move e
   * first (a depth-one ejection chain). Returns r's destination with e's move recorded, or
   * undefined with the state unchanged.
   */
  private ejectFor(r: number, from: readonly number[]): number[] | undefined {
    const { state } = this;
    const cls = state.classOfReplica(r);
    const model = state.modelOf(r);
    if (!this.movesAllow(1)) return undefined;
    let tried = 0;
    for (let i = cls.index.firstAtLeast(0); i < cls.index.length && tried < EJECTION_TRIES; i++) {
      const h = cls.index.at(i);
      const n = state.gpuNodeOf(h);
      if (state.isDraining(h) || !state.isInUse(h) || from.includes(h) || !state.nodeTakes(r, n)) continue;
      tried++;
      for (const e of [...state.residentsOf(h)]) {
        const eModel = state.modelOf(e);
        if (
          (eModel === model && state.spreadOf(model) !== Infinity) ||
          state.gpusOf(e).length !== 1 ||
          state.blocker(e) !== undefined ||
          this.movedNow.has(e) ||
          !this.budgetAllows(eModel, 1)
        )
          continue;
        const eFrom = state.lift(e);
        if (!state.gpuTakes(r, h)) {
          state.place(e, eFrom);
          continue;
        }
        state.setDraining(h, true);
        const eTo = destination(state, e, 1, false);
        state.setDraining(h, false);
        // Waking an idle GPU for e would cost the GPU the drain is meant to free.
        if (eTo === undefined || !eTo.every((g) => state.isInUse(g))) {
          state.place(e, eFrom);
          continue;
        }
        state.place(e, eTo);
        if (!state.gpuTakes(r, h) || !state.nodeTakes(r, n)) {
          state.lift(e);
          state.place(e, eFrom);
          continue;
        }
        this.record(e, eFrom, eTo);
        return [h];
      }
    }
    return undefined;
  }

  /** Undoes the moves from position `mark` on, newest first. */
  rollback(mark = 0): void {
    while (this.journal.length > mark) {
      const step = this.journal.pop();
      if (step === undefined) break;
      this.state.lift(step.replica);
      this.state.place(step.replica, step.from);
      this.movedNow.delete(step.replica);
      const model = this.state.modelOf(step.replica);
      this.perModel.set(model, (this.perModel.get(model) ?? 0) - 1);
    }
  }

  /** Keeps the moves (see PackingState.commit). */
  commit(what: string): SearchMove[] {
    return this.state.commit(this.journal, what);
  }
}

/**
 * Tries to empty `gpus`: every replica on them moves or nothing does. A tensor-parallel replica
 * that moves lightens its other GPUs too; those are then drained as well when they can be (a
 * chain a one-GPU drain could not pay for alone). The drain is kept when it lowers the GPUs in use,
 * or the nodes in use at equal GPUs; otherwise the state is restored and undefined returned.
 */
export function tryDrain(state: PackingState, gpus: readonly number[], what: string): SearchMove[] | undefined {
  const gpusBefore = state.gpusInUse;
  const nodesBefore = state.nodesInUse;
  const tx = new Transaction(state);
  if (!tx.drain(gpus)) return undefined;
  const tried = new Set(gpus);
  for (let depth = 0; depth < 2; depth++) {
    const lighter = new Set<number>();
    for (const step of tx.journal)
      for (const g of step.from) if (!tried.has(g) && state.isInUse(g) && !state.hasBaselineOn(g)) lighter.add(g);
    if (lighter.size === 0) break;
    for (const g of [...lighter].sort((a, b) => used(state, a) - used(state, b) || a - b)) {
      tried.add(g);
      if (state.isInUse(g)) tx.drain([g]);
    }
  }
  const pays = state.gpusInUse < gpusBefore || (state.gpusInUse === gpusBefore && state.nodesInUse < nodesBefore);
  if (!pays) {
    tx.rollback();
    return undefined;
  }
  return tx.commit(what);
}
