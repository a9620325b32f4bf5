import type { FleetSnapshot } from "../fleet/snapshot.js";
import type { Recommendations } from "../recommend/recommendations.js";
import { firstCrossing, forecastDaily } from "./forecast.js";
import type { DatedForecast, PoolAction, PoolHeadroom, PoolSupply } from "./report-model.js";
import { formatNumber } from "./tables.js";
import { DAY_MS } from "../../common/units.js";
import { dayString, type TimeGrid } from "./time-grid.js";

/**
 * A dated forecast of a daily series on the grid's complete days (a missing day carries the one
 * before it forward, and is noted). Null when no complete day has a value.
 */
export function forecastSeries(
  grid: TimeGrid,
  daily: readonly (number | null)[],
  horizonDays: number,
  label: string,
  notes: string[],
): DatedForecast | null {
  const days = grid.completeDays.map((i) => ({ index: i, value: daily[i] ?? null }));
  const firstKnown = days.findIndex((d) => d.value !== null);
  if (firstKnown < 0) return null;
  const used = days.slice(firstKnown);
  let filled = 0;
  let last = used[0]?.value as number;
  const values = used.map((d) => {
    if (d.value === null) filled++;
    else last = d.value;
    return last;
  });
  if (filled > 0)
    notes.push(`${label}: ${filled} day(s) without samples carried the previous day's value into the forecast.`);
  const forecast = forecastDaily(values, { horizon: horizonDays });
  const lastDayMs = grid.firstDayMs + (used[used.length - 1] as { index: number }).index * DAY_MS;
  return {
    method: forecast.method,
    history: used.map((d, k) => ({
      day: grid.days[d.index] as string,
      value: values[k] as number,
      fitted: forecast.fitted[k] ?? null,
    })),
    points: forecast.points.map((p) => ({ ...p, day: dayString(lastDayMs + p.step * DAY_MS) })),
    trendPerDay: forecast.trendPerDay,
  };
}

/** The two utilization lines a pool is planned against. */
export interface PlanRatios {
  /**
   * Compute ceiling: the utilization at which a GPU still meets its latency SLO (the consolidation
   * planner's `computeCeilingRatio`, 0.8 by default). A pool whose peak reaches it is out of headroom.
   */
  readonly ceilingRatio: number;
  /**
   * Utilization floor: the cost objective "GPUs busy at least this" (`slo.gpuUtilization`, 0.6 by
   * default). A pool whose peak stays under it is under-utilized: a candidate to free GPUs.
   */
  readonly floorRatio: number;
}

/**
 * When each pool's daily peak of busy GPUs reaches its capacity at the compute ceiling (GPUs ×
 * ceiling): by the point forecast, and earliest/latest by the interval's upper/lower bound.
 */
export function poolHeadroom(pool: PoolSupply, forecast: DatedForecast, ratios: PlanRatios): PoolHeadroom {
  const { ceilingRatio, floorRatio } = ratios;
  const capacityBusyGpus = pool.gpus * ceilingRatio;
  const floorBusyGpus = pool.gpus * floorRatio;
  const lastObserved = forecast.history[forecast.history.length - 1]?.value ?? 0;
  const dayOf = (step: number | null) => (step === null ? null : (forecast.points[step - 1]?.day ?? null));
  const base = {
    pool: pool.pool,
    gpus: pool.gpus,
    ceilingRatio,
    floorRatio,
    capacityBusyGpus,
    floorBusyGpus,
    forecast,
  };
  if (lastObserved >= capacityBusyGpus) {
    const today = forecast.history[forecast.history.length - 1]?.day ?? null;
    return { ...base, state: "already", exhaustionDay: today, exhaustionEarliest: today, exhaustionLatest: today };
  }
  const crossing = firstCrossing(forecast.points, capacityBusyGpus);
  return {
    ...base,
    state: crossing.step === null ? "not-within-horizon" : "forecast",
    exhaustionDay: dayOf(crossing.step),
    exhaustionEarliest: dayOf(crossing.earliestStep),
    exhaustionLatest: dayOf(crossing.latestStep),
  };
}

/** GPU kinds of the GPUs the recommendations free in a pool, most frequent first. */
function reclaimableKinds(pool: string, snapshot: FleetSnapshot, recommendations: Recommendations): string[] {
  const gpuModel = new Map(
    snapshot.nodes
      .filter((node) => node.pool === pool)
      .flatMap((node) => node.gpus.map((gpu) => [gpu.uuid, gpu.gpuModel] as const)),
  );
  const uuids = [
    ...recommendations.consolidation.freedGpus.map((g) => g.uuid),
    ...recommendations.idle.totals.withScaleToZero.gpuUuids,
  ];
  const counts = new Map<string, number>();
  for (const uuid of uuids) {
    const kind = gpuModel.get(uuid);
    if (kind !== undefined) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([kind]) => kind);
}

const fmt = (value: number) => formatNumber(value, 1);

/**
 * What to do in one pool next quarter, against two lines: the compute ceiling (headroom for the
 * latency SLO) and the utilization floor (the cost objective). GPUs needed = ⌈the highest upper
 * bound of the peak forecast over the horizon ÷ ceiling⌉, so the pool stays at or under its ceiling
 * on the worst day the interval allows. More than installed: buy the difference, of the pool's most
 * numerous GPU kind. Otherwise, only a pool whose upper bound stays under the floor (GPUs × floor)
 * all horizon long is under-utilized: its surplus (installed − needed) can go, but only as far as the
 * recommendations can free GPUs now without breaking a constraint (memory packing, spread,
 * disruption budget); what they free is what to free. A pool between floor and ceiling meets both
 * objectives: hold.
 */
export function poolAction(
  headroom: PoolHeadroom,
  pool: PoolSupply,
  reclaimable: number,
  snapshot: FleetSnapshot,
  recommendations: Recommendations,
): PoolAction {
  const { forecast, ceilingRatio, floorRatio, floorBusyGpus } = headroom;
  const worstUpper = Math.max(0, ...forecast.points.map((p) => p.upper));
  const neededGpus = Math.max(1, Math.ceil(worstUpper / ceilingRatio - 1e-9));
  const mainKind = pool.byGpuModel[0]?.gpuModel ?? "unknown";
  const ceiling = `${Math.round(ceilingRatio * 100)} %`;
  const floor = `${Math.round(floorRatio * 100)} %`;
  const basis = `the forecast peak over the next ${forecast.points.length} days reaches ${fmt(worstUpper)} busy GPUs at the interval's upper bound (${forecast.method.kind}, trend ${formatNumber(forecast.trendPerDay, 3)} GPUs/day); at the ${ceiling} compute ceiling (the utilization at which a GPU still meets its latency SLO) that needs ${neededGpus} GPU(s), the pool has ${pool.gpus}`;
  if (neededGpus > pool.gpus) {
    const when =
      headroom.state === "already"
        ? "it is already over its ceiling at peak"
        : `headroom runs out around ${headroom.exhaustionDay ?? "the end of the quarter"} (between ${headroom.exhaustionEarliest ?? "?"} and ${headroom.exhaustionLatest ?? "after the horizon"})`;
    return {
      pool: pool.pool,
      action: "buy",
      gpus: neededGpus - pool.gpus,
      gpuModel: mainKind,
      neededGpus,
      why: `${basis}; ${when}.`,
    };
  }
  if (worstUpper >= floorBusyGpus - 1e-9) {
    return {
      pool: pool.pool,
      action: "hold",
      gpus: 0,
      gpuModel: mainKind,
      neededGpus,
      why: `${basis}; the peak stays between the ${floor} utilization floor (${fmt(floorBusyGpus)} busy GPUs) and the ceiling, so the pool meets its cost objective with headroom for its latency SLO: hold.`,
    };
  }
  const surplus = pool.gpus - neededGpus;
  const underFloor = `${basis}; even the upper bound stays under the ${floor} utilization floor (${fmt(floorBusyGpus)} busy GPUs): under-utilized`;
  if (surplus > 0 && reclaimable > 0) {
    const gpus = Math.min(surplus, reclaimable);
    const kind = reclaimableKinds(pool.pool, snapshot, recommendations)[0] ?? mainKind;
    return {
      pool: pool.pool,
      action: "free",
      gpus,
      gpuModel: kind,
      neededGpus,
      why: `${underFloor}, a surplus of ${surplus}; the consolidation and idle-eviction plan frees ${reclaimable} now without breaking a constraint, so free ${gpus}.`,
    };
  }
  const reason =
    surplus > 0
      ? `${underFloor}, a surplus of ${surplus}, but no GPU can be freed now without breaking a placement constraint (the replicas' memory does not pack tighter): hold, and look at the fragmentation section.`
      : `${underFloor}, but the pool cannot shrink below the ${neededGpus} GPU(s) its peak needs: hold.`;
  return { pool: pool.pool, action: "hold", gpus: 0, gpuModel: mainKind, neededGpus, why: reason };
}

/** One sentence over every pool's action. */
export function planSummary(actions: readonly PoolAction[], horizonDays: number): string {
  const parts = actions
    .filter((a) => a.action !== "hold")
    .map((a) => `${a.action} ${a.gpus} × ${a.gpuModel} ${a.action === "buy" ? "for" : "from"} pool ${a.pool}`);
  const held = actions.filter((a) => a.action === "hold").map((a) => a.pool);
  const head = parts.length === 0 ? "no GPUs to buy or free" : parts.join("; ");
  return `Next ${horizonDays} days: ${head}${held.length > 0 ? `; hold ${held.map((p) => `pool ${p}`).join(", ")}` : ""}.`;
}
