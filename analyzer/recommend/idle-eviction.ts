/**
 * Idle eviction: which replicas nobody is using should go, which models can scale to zero, and
 * which LoRA adapters and weights can leave the fast tiers — holding back where history says the
 * traffic comes back within the time-to-live. Pure: a snapshot, a history and a config in,
 * recommendations out. Nothing is applied.
 *
 * Units: milliseconds since the Unix epoch for instants, milliseconds for durations, bytes.
 */
import type { IdleEvictionConfig } from "../../common/config/idle-eviction-config.js";
import type { RuntimeMetadata } from "../fleet/runtime-metadata.js";
import type { FleetReplica, FleetSnapshot } from "../fleet/snapshot.js";
import { historyRequestsBetween, type IdleHistory } from "./idle-history.js";
import { SECOND_MS, MINUTE_MS, HOUR_MS, DAY_MS, GIB } from "../../common/units.js";

export {
  DEFAULT_TIER_TTLS,
  idleEvictionConfigSchema,
  type IdleEvictionConfig,
  type IdleEvictionConfigInput,
} from "../../common/config/idle-eviction-config.js";

/** A fleet snapshot; its optional `runtime` part carries adapter and weights metadata. */
export type IdleSnapshot = FleetSnapshot;

/** One replica as idle eviction sees it. `idleSinceMs`/`idleMs` are null when it never served and its start is unknown. */
export interface ReplicaIdleness {
  readonly replicaId: string;
  readonly model: string;
  readonly namespace: string;
  readonly pod: string;
  readonly node: string;
  readonly pool: string;
  readonly tier: string;
  readonly gpus: readonly string[];
  /** memoryPerGpuBytes × GPUs held. */
  readonly memoryBytes: number;
  readonly idleSinceMs: number | null;
  readonly idleMs: number | null;
  readonly ttlMs: number;
  readonly reason: string;
}

/** Seasonality evidence: days among the last `lookbackDays` with requests in [now, now + TTL) at this time of day. */
export interface SeasonalityEvidence {
  readonly daysWithTraffic: number;
  readonly lookbackDays: number;
}

/** An idle replica that stays, and why. */
export interface KeptIdleReplica extends ReplicaIdleness {
  readonly keptBecause: "pinned" | "min-warm" | "held-back";
  readonly seasonality: SeasonalityEvidence | null;
}

/** A model whose every replica is idle: removing all of them frees what this says (GPUs held by this model alone). */
export interface ScaleToZeroCandidate extends FreedCapacity {
  readonly model: string;
  readonly replicaIds: readonly string[];
  readonly reason: string;
}

export interface AdapterCandidate {
  readonly adapter: string;
  readonly model: string;
  /** `consolidate`: still loaded on replicas, unload it there; `archive`: loaded nowhere, move its files off. */
  readonly action: "consolidate" | "archive";
  readonly loadedOn: readonly string[];
  readonly unusedSinceMs: number | null;
  readonly reason: string;
}

export interface ColdStorageCandidate {
  readonly weights: string;
  readonly model: string | null;
  readonly path: string | null;
  readonly sizeBytes: number | null;
  readonly notLoadedSinceMs: number | null;
  readonly reason: string;
}

/** Per pool: the value of `inferwatch_recommendation_idle_replicas{pool}` and what goes with it. */
export interface IdlePoolFigure {
  readonly pool: string;
  /** Replicas recommended for removal: evictions plus the remaining replicas of scale-to-zero models. */
  readonly idleReplicas: number;
  readonly memoryBytes: number;
  readonly gpus: number;
}

export interface IdleRecommendations {
  readonly atMs: number;
  /** Replicas past their TTL that can go while every model keeps its warm minimum. */
  readonly evictions: readonly ReplicaIdleness[];
  /** Replicas past their TTL that stay (pinned, warm minimum, held back by seasonality). */
  readonly kept: readonly KeptIdleReplica[];
  readonly scaleToZero: readonly ScaleToZeroCandidate[];
  readonly adapters: readonly AdapterCandidate[];
  readonly coldStorage: readonly ColdStorageCandidate[];
  /** `evictions`: the evictions alone; `withScaleToZero`: also every replica of the scale-to-zero models. */
  readonly totals: { readonly evictions: FreedCapacity; readonly withScaleToZero: FreedCapacity };
  /** Every pool of the snapshot, sorted, with the `withScaleToZero` figures. */
  readonly pools: readonly IdlePoolFigure[];
}

interface Assessed {
  readonly replica: FleetReplica;
  readonly base: Omit<ReplicaIdleness, "reason">;
  readonly isIdle: boolean;
  readonly seasonality: SeasonalityEvidence | null;
}

function ttlOf(replica: FleetReplica, config: IdleEvictionConfig): { ttlMs: number; source: string } {
  const override = config.models[replica.model]?.ttl;
  if (override !== undefined) return { ttlMs: override, source: `model ${replica.model}'s override` };
  const tierTtl = config.tierTtl[replica.tier];
  return tierTtl !== undefined
    ? { ttlMs: tierTtl, source: `the ${replica.tier} tier's TTL` }
    : { ttlMs: config.defaultTtl, source: "the default TTL" };
}

/** Days among the last `lookbackDays` on which the model had requests in [now − k days, now − k days + TTL). */
function seasonalityOf(
  history: IdleHistory | null,
  model: string,
  nowMs: number,
  ttlMs: number,
  config: IdleEvictionConfig,
): SeasonalityEvidence | null {
  if (history === null) return null;
  const { lookbackDays } = config.holdBack;
  let daysWithTraffic = 0;
  for (let k = 1; k <= lookbackDays; k++) {
    const fromMs = nowMs - k * DAY_MS;
    if ((historyRequestsBetween(history, model, fromMs, fromMs + ttlMs) ?? 0) > 0) daysWithTraffic++;
  }
  return { daysWithTraffic, lookbackDays };
}

function assess(
  snapshot: IdleSnapshot,
  history: IdleHistory | null,
  config: IdleEvictionConfig,
  nowMs: number,
  poolOf: ReadonlyMap<string, string>,
): Assessed[] {
  const started = snapshot.runtime?.replicaStartedAtMs ?? {};
  return snapshot.replicas.map((replica) => {
    const { ttlMs } = ttlOf(replica, config);
    const idleSinceMs = replica.lastRequestAtMs ?? started[replica.id] ?? null;
    const idleMs = idleSinceMs === null ? null : nowMs - idleSinceMs;
    // A replica that never served and has no known start is taken as idle past any TTL: the agent
    // drops a request series after its own idle TTL, so a long-idle replica reads the same way.
    const isIdle = replica.requestRate === 0 && (idleMs === null || idleMs > ttlMs);
    const base = {
      replicaId: replica.id,
      model: replica.model,
      namespace: replica.namespace,
      pod: replica.pod,
      node: replica.node,
      pool: poolOf.get(replica.node) ?? "",
      tier: replica.tier,
      gpus: replica.gpus,
      memoryBytes: replica.memoryPerGpuBytes * replica.gpus.length,
      idleSinceMs,
      idleMs,
      ttlMs,
    };
    return {
      replica,
      base,
      isIdle,
      seasonality: isIdle ? seasonalityOf(history, replica.model, nowMs, ttlMs, config) : null,
    };
  });
}

function idleSentence(a: Assessed, config: IdleEvictionConfig): string {
  const { source } = ttlOf(a.replica, config);
  const idle =
    a.base.idleMs === null
      ? "has served no request since it started (start unknown)"
      : `idle for ${describeDuration(a.base.idleMs)}`;
  return `${idle}, past ${source} of ${describeDuration(a.base.ttlMs)}`;
}

function isHeldBack(a: Assessed, config: IdleEvictionConfig): boolean {
  return a.seasonality !== null && a.seasonality.daysWithTraffic >= config.holdBack.minDaysWithTraffic;
}

function clockOf(nowMs: number): string {
  return new Date(nowMs).toISOString().slice(11, 16);
}

interface ModelOutcome {
  readonly evictions: ReplicaIdleness[];
  readonly kept: KeptIdleReplica[];
  readonly scaleToZero: { readonly replicas: readonly Assessed[]; readonly longestTtlMs: number } | null;
}

function heldBackSentence(a: Assessed, nowMs: number): string {
  const s = a.seasonality as SeasonalityEvidence;
  return `held back: traffic returned within ${describeDuration(a.base.ttlMs)} on ${s.daysWithTraffic} of the last ${s.lookbackDays} days at this time of day (${clockOf(nowMs)} UTC)`;
}

/** Pinned stay; held-back stay; then the most recently used idle replicas stay up to the warm minimum. */
function decideModel(
  model: string,
  replicas: readonly Assessed[],
  history: IdleHistory | null,
  config: IdleEvictionConfig,
  nowMs: number,
): ModelOutcome {
  const minWarm = config.models[model]?.minWarmReplicas ?? config.minWarmReplicas;
  const evictions: ReplicaIdleness[] = [];
  const kept: KeptIdleReplica[] = [];
  const idle = replicas.filter((a) => a.isIdle);
  for (const a of idle) {
    if (a.replica.isPinned) {
      kept.push({
        ...a.base,
        keptBecause: "pinned",
        seasonality: a.seasonality,
        reason: `${idleSentence(a, config)}; pinned replicas are never evicted (counts as warm)`,
      });
    } else if (isHeldBack(a, config)) {
      kept.push({
        ...a.base,
        keptBecause: "held-back",
        seasonality: a.seasonality,
        reason: `${idleSentence(a, config)}; ${heldBackSentence(a, nowMs)}`,
      });
    }
  }
  let warm = replicas.length - idle.length + kept.length;
  const candidates = idle
    .filter((a) => !a.replica.isPinned && !isHeldBack(a, config))
    .sort(
      (a, b) =>
        (b.base.idleSinceMs ?? -Infinity) - (a.base.idleSinceMs ?? -Infinity) ||
        (a.base.replicaId < b.base.replicaId ? -1 : 1),
    );
  for (const a of candidates) {
    if (warm < minWarm) {
      kept.push({
        ...a.base,
        keptBecause: "min-warm",
        seasonality: a.seasonality,
        reason: `${idleSentence(a, config)}; kept as one of model ${model}'s ${minWarm} warm replica${minWarm === 1 ? "" : "s"} (most recently used first)`,
      });
      warm++;
    } else
      evictions.push({
        ...a.base,
        reason: `${idleSentence(a, config)}; ${model} keeps ${warm} warm replica${warm === 1 ? "" : "s"}`,
      });
  }
  const longestTtlMs = replicas.reduce((longest, a) => Math.max(longest, a.base.ttlMs), 0);
  const recent = history === null ? null : historyRequestsBetween(history, model, nowMs - longestTtlMs, nowMs);
  const isAllIdle = idle.length === replicas.length && candidates.length === replicas.length;
  return { evictions, kept, scaleToZero: isAllIdle && (recent ?? 0) === 0 ? { replicas, longestTtlMs } : null };
}

function adapterCandidates(
  runtime: RuntimeMetadata | undefined,
  config: IdleEvictionConfig,
  nowMs: number,
): AdapterCandidate[] {
  const limitMs = config.adapterUnusedDays * DAY_MS;
  return (runtime?.adapters ?? [])
    .flatMap((adapter): AdapterCandidate[] => {
      const sinceMs = adapter.lastUsedAtMs ?? adapter.createdAtMs ?? null;
      if (sinceMs !== null && nowMs - sinceMs < limitMs) return [];
      const unused =
        sinceMs === null
          ? "never used (age unknown)"
          : adapter.lastUsedAtMs === null
            ? `never used in ${describeDuration(nowMs - sinceMs)}`
            : `unused for ${describeDuration(nowMs - sinceMs)}`;
      const action = adapter.loadedOn.length > 0 ? "consolidate" : "archive";
      const advice =
        action === "consolidate"
          ? `unload it from ${adapter.loadedOn.length} replica${adapter.loadedOn.length === 1 ? "" : "s"} and load it on demand`
          : "loaded nowhere: archive it";
      return [
        {
          adapter: adapter.name,
          model: adapter.model,
          action,
          loadedOn: adapter.loadedOn,
          unusedSinceMs: sinceMs,
          reason: `${unused} (limit ${config.adapterUnusedDays} days); ${advice}`,
        },
      ];
    })
    .sort((a, b) => (a.model + "\u0000" + a.adapter < b.model + "\u0000" + b.adapter ? -1 : 1));
}

function coldStorageCandidates(
  snapshot: IdleSnapshot,
  config: IdleEvictionConfig,
  nowMs: number,
): ColdStorageCandidate[] {
  const limitMs = config.weightsNotLoadedDays * DAY_MS;
  const served = new Set(snapshot.replicas.map((r) => r.model));
  return (snapshot.runtime?.weights ?? [])
    .flatMap((w): ColdStorageCandidate[] => {
      if (w.model !== undefined && served.has(w.model)) return [];
      const sinceMs = w.lastLoadedAtMs ?? w.createdAtMs ?? null;
      if (sinceMs !== null && nowMs - sinceMs < limitMs) return [];
      const notLoaded =
        sinceMs === null ? "never loaded (age unknown)" : `not loaded for ${describeDuration(nowMs - sinceMs)}`;
      return [
        {
          weights: w.name,
          model: w.model ?? null,
          path: w.path ?? null,
          sizeBytes: w.sizeBytes ?? null,
          notLoadedSinceMs: sinceMs,
          reason: `${notLoaded} (limit ${config.weightsNotLoadedDays} days) and no replica serves them: move to cold storage`,
        },
      ];
    })
    .sort((a, b) => (a.weights < b.weights ? -1 : 1));
}

/**
 * Idle-eviction recommendations at `nowMs`. A replica is idle when its request rate is 0 and its
 * last request (or, when it never served, its start from `snapshot.runtime`; unknown → idle past any
 * TTL) is older than its TTL (model override, else tier, else default). Per model, pinned replicas
 * stay and count as warm; replicas whose traffic history comes back within the TTL at this time of
 * day are held back (and count as warm); the most recently used of the rest stay up to
 * `minWarmReplicas`; the others are evictions. A model whose every replica is idle, none pinned or
 * held back, with no request in the history over the last (longest) TTL, is a scale-to-zero
 * candidate: a separate recommendation that ignores the warm minimum. A GPU counts as freed only
 * when every replica holding it (across its MIG devices) goes. `history` null disables hold-back.
 */
export function recommendIdleEvictions(
  snapshot: IdleSnapshot,
  history: IdleHistory | null,
  config: IdleEvictionConfig,
  nowMs: number,
): IdleRecommendations {
  const poolOf = new Map(snapshot.nodes.map((n) => [n.name, n.pool] as const));
  const holders = new GpuHolders(snapshot);
  const byModel = new Map<string, Assessed[]>();
  for (const a of assess(snapshot, history, config, nowMs, poolOf)) {
    const list = byModel.get(a.base.model);
    if (list === undefined) byModel.set(a.base.model, [a]);
    else list.push(a);
  }

  const evictions: ReplicaIdleness[] = [];
  const kept: KeptIdleReplica[] = [];
  const scaleToZero: ScaleToZeroCandidate[] = [];
  for (const [model, replicas] of [...byModel].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const outcome = decideModel(model, replicas, history, config, nowMs);
    evictions.push(...outcome.evictions);
    kept.push(...outcome.kept);
    if (outcome.scaleToZero === null) continue;
    const ids = outcome.scaleToZero.replicas.map((a) => a.base.replicaId);
    const freed = freedCapacity(snapshot, holders, new Set(ids));
    const ttl = describeDuration(outcome.scaleToZero.longestTtlMs);
    const checked = history === null ? "no history to check" : `no request in the last ${ttl} of history`;
    const reason = `all ${ids.length} replica${ids.length === 1 ? "" : "s"} idle past their TTL and ${checked}: scaling to zero frees ${describeBytes(freed.memoryBytes)} and ${freed.gpus} GPU${freed.gpus === 1 ? "" : "s"}`;
    scaleToZero.push({ model, replicaIds: ids, ...freed, reason });
  }
  const evicted = new Set(evictions.map((e) => e.replicaId));
  const removed = new Set([...evicted, ...scaleToZero.flatMap((c) => c.replicaIds)]);
  const withScaleToZero = freedCapacity(snapshot, holders, removed);
  const pools = [...new Set(snapshot.nodes.map((n) => n.pool))].sort().map((pool): IdlePoolFigure => {
    const inPool = freedCapacity(snapshot, holders, removed, pool);
    return { pool, idleReplicas: inPool.replicas, memoryBytes: inPool.memoryBytes, gpus: inPool.gpus };
  });
  return {
    atMs: nowMs,
    evictions,
    kept,
    scaleToZero,
    adapters: adapterCandidates(snapshot.runtime, config, nowMs),
    coldStorage: coldStorageCandidates(snapshot, config, nowMs),
    totals: { evictions: freedCapacity(snapshot, holders, evicted), withScaleToZero },
    pools,
  };
}

/** Replicas, memory and whole GPUs that removing a set of replicas frees. */
export interface FreedCapacity {
  readonly replicas: number;
  readonly memoryBytes: number;
  /** Physical GPUs left with no holder (a MIG device's holders count toward its parent GPU). */
  readonly gpus: number;
  readonly gpuUuids: readonly string[];
}

/** The replicas holding each physical GPU, and each GPU's pool. */
class GpuHolders {
  readonly holders = new Map<string, Set<string>>();
  readonly poolOfGpu = new Map<string, string>();

  constructor(snapshot: FleetSnapshot) {
    const parent = new Map<string, string>();
    for (const n of snapshot.nodes) {
      for (const g of n.gpus) {
        parent.set(g.uuid, g.uuid);
        this.poolOfGpu.set(g.uuid, n.pool);
        for (const mig of g.mig ?? []) parent.set(mig.uuid, g.uuid);
      }
    }
    for (const r of snapshot.replicas) {
      for (const device of r.gpus) {
        const gpu = parent.get(device) ?? device;
        const set = this.holders.get(gpu) ?? new Set<string>();
        set.add(r.id);
        this.holders.set(gpu, set);
      }
    }
  }
}

/** What removing `removed` frees, over the whole fleet or within one pool. */
function freedCapacity(
  snapshot: FleetSnapshot,
  gpus: GpuHolders,
  removed: ReadonlySet<string>,
  pool?: string,
): FreedCapacity {
  const poolOfNode = new Map(snapshot.nodes.map((n) => [n.name, n.pool] as const));
  let replicas = 0;
  let memoryBytes = 0;
  for (const r of snapshot.replicas) {
    if (!removed.has(r.id) || (pool !== undefined && poolOfNode.get(r.node) !== pool)) continue;
    replicas++;
    memoryBytes += r.memoryPerGpuBytes * r.gpus.length;
  }
  const gpuUuids = [...gpus.holders]
    .filter(
      ([uuid, holders]) =>
        (pool === undefined || gpus.poolOfGpu.get(uuid) === pool) && [...holders].every((id) => removed.has(id)),
    )
    .map(([uuid]) => uuid)
    .sort();
  return { replicas, memoryBytes, gpus: gpuUuids.length, gpuUuids };
}

/** `2h10m`, `45m`, `3d4h`, `30s`: a duration for people, rounded down to its two largest units. */
export function describeDuration(ms: number): string {
  const units = [
    ["d", DAY_MS],
    ["h", HOUR_MS],
    ["m", MINUTE_MS],
    ["s", SECOND_MS],
  ] as const;
  const parts: string[] = [];
  let rest = Math.max(0, Math.floor(ms));
  for (const [unit, size] of units) {
    const count = Math.floor(rest / size);
    if (count > 0 || parts.length > 0) parts.push(`${count}${unit}`);
    rest -= count * size;
    if (parts.length === 2) break;
  }
  return parts.filter((part) => !part.startsWith("0")).join("") || "0s";
}

function describeBytes(bytes: number): string {
  return `${Math.round((bytes / GIB) * 10) / 10} GiB`;
}
