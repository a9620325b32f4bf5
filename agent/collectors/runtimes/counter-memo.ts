import { clampRatio, type GaugeField, type ModelGauges } from "./runtime-gauges.js";

/** Counters whose increases between scrapes go to the request series (finished requests and tokens). */
export const REQUEST_COUNT_FIELDS = [
  "requestsOk",
  "requestsFailed",
  "promptTokens",
  "completionTokens",
] as const satisfies readonly GaugeField[];
export type RequestCountField = (typeof REQUEST_COUNT_FIELDS)[number];

/** What a runtime counted for one model between two scrapes. Only fields the page reports are present. */
export type RequestIncrements = { readonly [F in RequestCountField]?: number };

/** The previous scrape of one (target, model): its counters and the figures derived then. */
export interface RowMemo {
  readonly counters: { readonly [F in GaugeField]?: number };
  readonly hitRatio: number | undefined;
  readonly meanQueueSeconds: number | undefined;
  readonly meanComputeSeconds: number | undefined;
}

/** Figures derived from a row and the previous scrape of the same (target, model). */
export interface DerivedFigures {
  readonly prefixCacheHitRatio?: number;
  readonly meanQueueSeconds?: number;
  readonly meanComputeSeconds?: number;
  /** Absent on the first scrape of a (target, model): that scrape is the baseline. */
  readonly increments?: RequestIncrements;
}

/**
 * Increase of a counter between two readings. A lower reading means the runtime restarted and
 * counted again from zero, so the whole reading is the increase (Prometheus's reset rule).
 */
export function counterIncrease(previous: number, current: number): number {
  return current < previous ? current : current - previous;
}

/**
 * `part ÷ whole` over the increases between two scrapes: with no increase of `whole` the previous
 * value stands; on the first scrape, or after a reset of either counter, the ratio since the
 * runtime started. Undefined when either counter is missing.
 */
function ratioBetween(
  previous: RowMemo | undefined,
  gauges: ModelGauges,
  part: GaugeField,
  whole: GaugeField,
  previousValue: number | undefined,
  transform: (value: number) => number,
): number | undefined {
  const p = gauges[part];
  const w = gauges[whole];
  if (p === undefined || w === undefined) return undefined;
  const pp = previous?.counters[part];
  const pw = previous?.counters[whole];
  const isReset = pp === undefined || pw === undefined || p < pp || w < pw;
  const dp = isReset ? p : p - pp;
  const dw = isReset ? w : w - pw;
  if (dw > 0) return transform(dp / dw);
  return isReset ? undefined : previousValue;
}

/**
 * Derives, pure, what one scrape of a (target, model) adds to the previous one: the prefix-cache
 * hit ratio over the queries in between (the runtime's own hit-rate gauge where it has no
 * counters), the mean queue and compute seconds of the requests finished in between (Triton's
 * cumulative duration counters), and the increases of the request and token counters.
 */
export function deriveFigures(
  previous: RowMemo | undefined,
  gauges: ModelGauges,
): { memo: RowMemo; figures: DerivedFigures } {
  const counterRatio = ratioBetween(
    previous,
    gauges,
    "prefixCacheHits",
    "prefixCacheQueries",
    previous?.hitRatio,
    clampRatio,
  );
  const hitRatio = counterRatio ?? gauges.prefixCacheHitRatio;
  const meanQueueSeconds = ratioBetween(
    previous,
    gauges,
    "queueSecondsTotal",
    "timedRequests",
    previous?.meanQueueSeconds,
    (v) => Math.max(0, v),
  );
  const meanComputeSeconds = ratioBetween(
    previous,
    gauges,
    "computeSecondsTotal",
    "timedRequests",
    previous?.meanComputeSeconds,
    (v) => Math.max(0, v),
  );
  let increments: RequestIncrements | undefined;
  if (previous !== undefined) {
    const counted: { [F in RequestCountField]?: number } = {};
    for (const field of REQUEST_COUNT_FIELDS) {
      const current = gauges[field];
      const before = previous.counters[field];
      if (current !== undefined) counted[field] = before === undefined ? current : counterIncrease(before, current);
    }
    increments = counted;
  }
  const { model: _model, ...counters } = gauges;
  const memo: RowMemo = { counters, hitRatio: counterRatio, meanQueueSeconds, meanComputeSeconds };
  return {
    memo,
    figures: {
      ...(hitRatio === undefined ? {} : { prefixCacheHitRatio: hitRatio }),
      ...(meanQueueSeconds === undefined ? {} : { meanQueueSeconds }),
      ...(meanComputeSeconds === undefined ? {} : { meanComputeSeconds }),
      ...(increments === undefined ? {} : { increments }),
    },
  };
}
