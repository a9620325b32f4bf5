/**
 * Latency distributions for writing history quickly: rather than drawing every one of a month's
 * millions of requests, each model's request distribution is drawn once per load level (and once
 * more under the incident) into histogram shares at the agent's bucket bounds; a history step then
 * mixes the tables of its load and incident share. Tables are built lazily and cached per writer.
 */
import { drawRequestAtLoad } from "./fleet-model.js";
import { createRandom, hashSeed } from "./random.js";
import type { ScenarioIncident, ScenarioModel } from "./scenario.js";

/** The histograms the history writes, in this order (the agent's e2e, queue, prefill, decode, ttft). */
export const LATENCY_KINDS = ["e2e", "queue", "prefill", "decode", "ttft"] as const;
export type LatencyKind = (typeof LATENCY_KINDS)[number];

/** Load levels 0, 0.05, …, 0.95 (the fleet model caps load at 0.95). */
const LEVEL_STEP = 0.05;
const LEVELS = 20;

/** A request distribution: per kind, the cumulative share at or below each bound (the last, +Inf, is exactly 1) and the mean. */
export interface LatencyTable {
  readonly cumulative: readonly Float64Array[];
  readonly means: readonly number[];
  readonly meanPromptTokens: number;
  readonly meanCompletionTokens: number;
}

function valuesOf(request: ReturnType<typeof drawRequestAtLoad>): readonly number[] {
  return [request.e2eSeconds, request.queueSeconds, request.prefillSeconds, request.decodeSeconds, request.ttftSeconds];
}

/** Draws `samples` requests of `model` at `load` (under `incident` when given) into a table. */
export function buildLatencyTable(
  model: ScenarioModel,
  load: number,
  incident: ScenarioIncident | null,
  bounds: readonly number[],
  samples: number,
  seed: number,
): LatencyTable {
  const random = createRandom(seed);
  const counts = LATENCY_KINDS.map(() => new Float64Array(bounds.length + 1));
  const sums = LATENCY_KINDS.map(() => 0);
  let prompt = 0;
  let completion = 0;
  for (let i = 0; i < samples; i++) {
    const request = drawRequestAtLoad(model, load, incident, random);
    prompt += request.promptTokens;
    completion += request.completionTokens;
    valuesOf(request).forEach((value, k) => {
      let slot = 0;
      while (slot < bounds.length && value > (bounds[slot] as number)) slot++;
      const slots = counts[k] as Float64Array;
      slots[slot] = (slots[slot] as number) + 1;
      sums[k] = (sums[k] as number) + value;
    });
  }
  const cumulative = counts.map((slots) => {
    const shares = new Float64Array(slots.length);
    let running = 0;
    for (let j = 0; j < slots.length; j++) {
      running += slots[j] as number;
      shares[j] = running / samples;
    }
    shares[slots.length - 1] = 1;
    return shares;
  });
  return {
    cumulative,
    means: sums.map((sum) => sum / samples),
    meanPromptTokens: prompt / samples,
    meanCompletionTokens: completion / samples,
  };
}

/** A weighted mix of tables, written into reusable arrays. */
export interface Mixture {
  readonly cumulative: Float64Array[];
  readonly means: number[];
  meanPromptTokens: number;
  meanCompletionTokens: number;
}

/** Builds tables on first use for each (model, level, incident) and mixes them per step. */
export class LatencyTables {
  /** Per model: tables by level × 2 + (1 under the incident). */
  private readonly cache = new Map<ScenarioModel, (LatencyTable | undefined)[]>();
  private readonly mixture: Mixture;

  constructor(
    private readonly bounds: readonly number[],
    private readonly samples: number,
    private readonly seed: number,
  ) {
    this.mixture = {
      cumulative: LATENCY_KINDS.map(() => new Float64Array(bounds.length + 1)),
      means: LATENCY_KINDS.map(() => 0),
      meanPromptTokens: 0,
      meanCompletionTokens: 0,
    };
  }

  /**
   * The distribution at `load` (linear between the two nearest levels) with `incidentShare` of the
   * requests under `incident`. The returned object is reused by the next call.
   */
  mix(model: ScenarioModel, load: number, incident: ScenarioIncident | null, incidentShare: number): Mixture {
    const position = Math.min(LEVELS - 1, Math.max(0, load / LEVEL_STEP));
    const low = Math.floor(position);
    const high = Math.min(LEVELS - 1, low + 1);
    const upper = position - low;
    const parts: [LatencyTable, number][] = [];
    const share = incident === null ? 0 : incidentShare;
    for (const [level, levelWeight] of [
      [low, 1 - upper],
      [high, upper],
    ] as const) {
      if (levelWeight > 0 || level === low) {
        if (share < 1) parts.push([this.table(model, level, null), levelWeight * (1 - share)]);
        if (share > 0 && incident) parts.push([this.table(model, level, incident), levelWeight * share]);
      }
    }
    const { cumulative, means } = this.mixture;
    let prompt = 0;
    let completion = 0;
    LATENCY_KINDS.forEach((_, k) => {
      const into = cumulative[k] as Float64Array;
      into.fill(0);
      let mean = 0;
      for (const [table, weight] of parts) {
        const from = table.cumulative[k] as Float64Array;
        for (let j = 0; j < into.length; j++) into[j] = (into[j] as number) + weight * (from[j] as number);
        mean += weight * (table.means[k] as number);
      }
      into[into.length - 1] = 1;
      means[k] = mean;
    });
    for (const [table, weight] of parts) {
      prompt += weight * table.meanPromptTokens;
      completion += weight * table.meanCompletionTokens;
    }
    this.mixture.meanPromptTokens = prompt;
    this.mixture.meanCompletionTokens = completion;
    return this.mixture;
  }

  private table(model: ScenarioModel, level: number, incident: ScenarioIncident | null): LatencyTable {
    let tables = this.cache.get(model);
    if (!tables) this.cache.set(model, (tables = []));
    const slot = level * 2 + (incident === null ? 0 : 1);
    let table = tables[slot];
    if (!table) {
      table = buildLatencyTable(
        model,
        level * LEVEL_STEP,
        incident,
        this.bounds,
        this.samples,
        hashSeed(this.seed, "history", model.name, level, incident === null ? 0 : 1),
      );
      tables[slot] = table;
    }
    return table;
  }
}
