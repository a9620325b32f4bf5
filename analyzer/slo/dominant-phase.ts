/**
 * Which phase makes a latency SLO's slow requests slow, and the lever that follows. A request's
 * latency is its time queued in the runtime, its prefill (prompt processing up to the first
 * token) and its decode (one step per output token); each is cured differently, so the diagnosis
 * looks only at the requests above the SLO threshold.
 */

export type Phase = "queue" | "prefill" | "decode";

export const PHASES: readonly Phase[] = ["queue", "prefill", "decode"];

/** What each phase being dominant means and what to do about it. */
export const PHASE_LEVERS: { readonly [P in Phase]: { readonly bound: `${P}-bound`; readonly lever: string } } = {
  queue: { bound: "queue-bound", lever: "scale out or rebalance" },
  prefill: { bound: "prefill-bound", lever: "prefix caching, chunked prefill, shorter prompts" },
  decode: { bound: "decode-bound", lever: "speculative decoding, quantization, smaller batches" },
};

/** One phase's time summed over requests, seconds, and how many requests reported the phase. */
export interface PhaseSum {
  readonly sumSeconds: number;
  readonly count: number;
}

/** A cumulative histogram bucket: `count` observations at most `le` seconds; the last has le = Infinity. */
export interface CumulativeBucket {
  readonly le: number;
  readonly count: number;
}

/**
 * The evidence, from one of two sources:
 * - `slow-requests`: exact sums and counts over the requests above the threshold only (from spans);
 * - `histograms`: an estimate from each phase's histogram over all requests of the window (the
 *   increase of `inferwatch_llm_{queue,prefill,decode}_duration_seconds_bucket`) and the share of
 *   slow requests (bad ÷ total of the latency SLO over the same window). Each phase's mean over the
 *   slow requests is taken as the mean of its slowest `slowShare` of observations, i.e. assuming
 *   the slow requests are those with the longest phases; it overstates phases that are long in
 *   requests that are fast overall.
 * A phase a runtime does not report is left out or given zero requests; it is not diagnosed.
 */
export type PhaseEvidence =
  | { readonly kind: "slow-requests"; readonly phases: { readonly [P in Phase]?: PhaseSum } }
  | {
      readonly kind: "histograms";
      readonly slowShare: number;
      readonly phases: { readonly [P in Phase]?: readonly CumulativeBucket[] };
    };

export interface DominantPhaseInput {
  readonly evidence: PhaseEvidence;
  /**
   * Mean number of requests waiting in a replica's queue, from the runtimes' own gauge as the agent
   * exports it (`inferwatch_llm_queue_depth`: vLLM `num_requests_waiting`, TGI `tgi_queue_size`,
   * Triton pending requests; the evaluation passes the latest value). At least one waiting request
   * confirms a queue diagnosis; none contradicts it. Reported alongside the diagnosis whatever the phase.
   */
  readonly queueDepth?: number;
}

/** A diagnosis, or no data (no slow requests, or no phase reported). Nulls instead of undefined: it goes to JSON. */
export type DominantPhaseResult =
  | { readonly state: "no-data"; readonly reason: "no-slow-requests" | "no-phase-data" }
  | {
      readonly state: "diagnosed";
      readonly phase: Phase;
      readonly bound: `${Phase}-bound`;
      readonly lever: string;
      /** Each phase's share of the slow requests' summed phase means (0..1); null when not reported. */
      readonly shares: { readonly [P in Phase]: number | null };
      /** Each phase's mean over the slow requests, seconds (estimated for `histograms`). */
      readonly meanSeconds: { readonly [P in Phase]: number | null };
      /** "high" when the phase holds most of the slow time, or a queue diagnosis the queue depth confirms. */
      readonly confidence: "high" | "low";
      readonly basis: "slow-requests" | "histogram-estimate";
      readonly queueDepth: number | null;
    };

/** Requests waiting per replica at or above which the queue gauges confirm a queue-bound diagnosis. */
const CONFIRMING_QUEUE_DEPTH = 1;

/**
 * The mean of the largest `share` (0..1) of a histogram's observations, seconds, assuming
 * observations spread evenly within each bucket; those in the +Inf bucket are taken at its lower
 * bound, as Prometheus's `histogram_quantile` does. Undefined without observations.
 */
export function tailMeanSeconds(buckets: readonly CumulativeBucket[], share: number): number | undefined {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  const wanted = Math.min(Math.max(share, 0), 1) * total;
  if (!(total > 0) || !(wanted > 0)) return undefined;
  let remaining = wanted;
  let sum = 0;
  for (let i = sorted.length - 1; i >= 0 && remaining > 0; i--) {
    const bucket = sorted[i] as CumulativeBucket;
    const lower = i === 0 ? 0 : (sorted[i - 1] as CumulativeBucket).le;
    const below = i === 0 ? 0 : (sorted[i - 1] as CumulativeBucket).count;
    const inBucket = Math.max(bucket.count - below, 0);
    if (inBucket === 0) continue;
    const taken = Math.min(inBucket, remaining);
    // The top `taken` of `inBucket` evenly spread observations span the bucket's top taken/inBucket.
    const mean = Number.isFinite(bucket.le) ? bucket.le - ((bucket.le - lower) * taken) / (2 * inBucket) : lower;
    sum += taken * mean;
    remaining -= taken;
  }
  return sum / (wanted - remaining);
}

function phaseMeans(evidence: PhaseEvidence): { readonly [P in Phase]: number | null } {
  const mean = (phase: Phase): number | null => {
    if (evidence.kind === "slow-requests") {
      const sum = evidence.phases[phase];
      return sum && sum.count > 0 && Number.isFinite(sum.sumSeconds) ? Math.max(sum.sumSeconds, 0) / sum.count : null;
    }
    const buckets = evidence.phases[phase];
    return (buckets && tailMeanSeconds(buckets, evidence.slowShare)) ?? null;
  };
  return { queue: mean("queue"), prefill: mean("prefill"), decode: mean("decode") };
}

/**
 * The dominant phase of a latency SLO's slow requests: the phase with the largest mean time over
 * them, with each phase's share of the summed means and the lever for that phase.
 */
export function dominantPhase(input: DominantPhaseInput): DominantPhaseResult {
  const { evidence } = input;
  if (evidence.kind === "histograms" && !(evidence.slowShare > 0))
    return { state: "no-data", reason: "no-slow-requests" };
  const means = phaseMeans(evidence);
  const reported = PHASES.filter((phase) => means[phase] !== null);
  if (evidence.kind === "slow-requests" && reported.length === 0) {
    const anyCounted = PHASES.some((phase) => (evidence.phases[phase]?.count ?? 0) > 0);
    return { state: "no-data", reason: anyCounted ? "no-phase-data" : "no-slow-requests" };
  }
  const totalMean = reported.reduce((sum, phase) => sum + (means[phase] as number), 0);
  if (!(totalMean > 0)) return { state: "no-data", reason: "no-phase-data" };
  const share = (phase: Phase): number | null => (means[phase] === null ? null : means[phase] / totalMean);
  const shares = { queue: share("queue"), prefill: share("prefill"), decode: share("decode") };
  const phase = reported.reduce((best, candidate) =>
    (shares[candidate] as number) > (shares[best] as number) ? candidate : best,
  );
  const queueDepth = input.queueDepth !== undefined && Number.isFinite(input.queueDepth) ? input.queueDepth : null;
  const isMajority = (shares[phase] as number) > 0.5;
  const confidence =
    phase === "queue" && queueDepth !== null
      ? queueDepth >= CONFIRMING_QUEUE_DEPTH
        ? "high"
        : "low"
      : isMajority
        ? "high"
        : "low";
  return {
    state: "diagnosed",
    phase,
    bound: PHASE_LEVERS[phase].bound,
    lever: PHASE_LEVERS[phase].lever,
    shares,
    meanSeconds: means,
    confidence,
    basis: evidence.kind === "slow-requests" ? "slow-requests" : "histogram-estimate",
    queueDepth,
  };
}
