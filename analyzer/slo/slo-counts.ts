/**
 * Counting an SLO's events per window from a store, in as few and as small answers as the store
 * allows: per window one query per metric for every model at once, filtered to the buckets at the
 * SLO thresholds (never all of a histogram's buckets), summed by model in the store.
 *
 * Two sources: the raw counters (`increase(…[w])`), and the recorded 5-minute increases that
 * `inferwatch rules` generates, read as `sum_over_time(…[w])` — a day or a month is then the sum of
 * a few hundred recorded points per model instead of a day of samples of every pod. Short windows
 * are always counted raw (a 5-minute recording is up to 5 minutes late), long ones from the
 * recording when the store has it.
 */
import { increaseRuleName, METRICS, RECORDED_INCREASE_MS } from "../../common/conventions.js";
import { leValues } from "../../common/promql.js";
import type { LabeledValue, MetricStore, QueryContext } from "../stores/metric-store.js";
import type { Phase } from "./dominant-phase.js";
import { listSlos, type SloConfig } from "../../common/slo/spec.js";
import { HOUR_MS, DAY_MS } from "../../common/units.js";

/** Increases of one histogram over one window, keyed by model (and le for buckets). */
export interface WindowCounts {
  readonly buckets: ReadonlyMap<string, LabeledValue[]>;
  readonly counts: ReadonlyMap<string, number>;
}

/** Every metric's increases over one window. */
export interface WindowAnswers {
  readonly latency: WindowCounts;
  readonly ttft: WindowCounts | undefined;
  readonly requests: ReadonlyMap<string, LabeledValue[]>;
}

/** Where a family of counts came from. */
export type CountSource = "recorded" | "raw";

/** One family of counters an SLO evaluation reads, with the labels its recording keeps. */
interface Family {
  readonly metric: string;
  readonly by: readonly string[];
}

export const PHASE_METRICS: Readonly<Record<Phase, string>> = {
  queue: METRICS.llmQueueDuration.name,
  prefill: METRICS.llmPrefillDuration.name,
  decode: METRICS.llmDecodeDuration.name,
};

/** The counter families of the SLO evaluation and of the dominant-phase diagnosis. */
export const SLO_FAMILIES = {
  latencyBuckets: { metric: `${METRICS.llmRequestDuration.name}_bucket`, by: ["model", "le"] },
  latencyCount: { metric: `${METRICS.llmRequestDuration.name}_count`, by: ["model"] },
  ttftBuckets: { metric: `${METRICS.llmTimeToFirstToken.name}_bucket`, by: ["model", "le"] },
  ttftCount: { metric: `${METRICS.llmTimeToFirstToken.name}_count`, by: ["model"] },
  requests: { metric: METRICS.llmRequests.name, by: ["model", "status"] },
  queueBuckets: { metric: `${PHASE_METRICS.queue}_bucket`, by: ["model", "le"] },
  prefillBuckets: { metric: `${PHASE_METRICS.prefill}_bucket`, by: ["model", "le"] },
  decodeBuckets: { metric: `${PHASE_METRICS.decode}_bucket`, by: ["model", "le"] },
} as const satisfies Record<string, Family>;
export type SloFamily = keyof typeof SLO_FAMILIES;

/** The recording rule of a family. */
export function recordedName(family: SloFamily): string {
  const { metric, by } = SLO_FAMILIES[family];
  return increaseRuleName(metric, by);
}

/** Windows of at least a day are long: counted from recordings when present, refreshed less often. */
export const LONG_WINDOW_MIN_MS = DAY_MS;

/** The families an evaluation of `config` reads (TTFT only when a class has a TTFT SLO). */
export function familiesOf(config: Pick<SloConfig, "classes">): SloFamily[] {
  const hasTtft = listSlos(config).some((slo) => slo.kind === "ttft");
  return [
    "latencyBuckets",
    "latencyCount",
    ...(hasTtft ? (["ttftBuckets", "ttftCount"] as const) : []),
    "requests",
    "queueBuckets",
    "prefillBuckets",
    "decodeBuckets",
  ];
}

function byModel(values: readonly LabeledValue[]): Map<string, LabeledValue[]> {
  const grouped = new Map<string, LabeledValue[]>();
  for (const value of values) {
    const model = value.labels["model"] ?? "";
    const list = grouped.get(model) ?? [];
    list.push(value);
    grouped.set(model, list);
  }
  return grouped;
}

function sumByModel(values: readonly LabeledValue[]): Map<string, number> {
  const sums = new Map<string, number>();
  for (const value of values)
    sums.set(value.labels["model"] ?? "", (sums.get(value.labels["model"] ?? "") ?? 0) + value.value);
  return sums;
}

/** A family's increases over one window from the chosen source, `le` restricted to `le` when given. */
export function countFamily(
  store: MetricStore,
  family: SloFamily,
  windowMs: number,
  atMs: number,
  source: CountSource,
  context: QueryContext,
  le?: readonly string[],
): Promise<LabeledValue[]> {
  const { metric, by } = SLO_FAMILIES[family];
  const oneOf = le === undefined ? {} : { oneOf: { le } };
  // A recorded point covers the 5 minutes before it: a window shorter than that cannot be read from
  // it. The window leaves out a point exactly at its start (Prometheus 2.x would take it), whose 5
  // minutes lie before the window.
  if (source === "recorded" && windowMs >= RECORDED_INCREASE_MS) {
    return store.overTime(
      { metric: recordedName(family), fn: "sum", windowMs: windowMs - 1, atMs, by, ...oneOf },
      context,
    );
  }
  return store.increase({ metric, windowMs, atMs, by, ...oneOf }, context);
}

/**
 * Every SLO family's increases over each window of `windowsMs` at `atMs`: per window three queries
 * (bucket at the thresholds, count, requests), five with a TTFT SLO, whatever the number of SLOs.
 * `sources` says per family whether to read the recording (missing: raw).
 */
export async function countWindows(
  store: MetricStore,
  config: Pick<SloConfig, "classes">,
  atMs: number,
  windowsMs: readonly number[],
  sources: Partial<Record<SloFamily, CountSource>>,
  context: QueryContext = {},
): Promise<Map<number, WindowAnswers>> {
  const slos = listSlos(config);
  const hasTtft = slos.some((slo) => slo.kind === "ttft");
  const latencyLe = leValues(slos.flatMap((slo) => (slo.kind === "latency" ? [slo.thresholdSeconds] : [])));
  const ttftLe = leValues(slos.flatMap((slo) => (slo.kind === "ttft" ? [slo.thresholdSeconds] : [])));
  const perWindow = new Map<number, WindowAnswers>();
  await Promise.all(
    windowsMs.map(async (windowMs) => {
      const ask = (family: SloFamily, le?: readonly string[]) =>
        countFamily(store, family, windowMs, atMs, sources[family] ?? "raw", context, le);
      const [buckets, counts, ttftBuckets, ttftCounts, requests] = await Promise.all([
        ask("latencyBuckets", latencyLe),
        ask("latencyCount"),
        hasTtft ? ask("ttftBuckets", ttftLe) : Promise.resolve([]),
        hasTtft ? ask("ttftCount") : Promise.resolve([]),
        ask("requests"),
      ]);
      perWindow.set(windowMs, {
        latency: { buckets: byModel(buckets), counts: sumByModel(counts) },
        ttft: hasTtft ? { buckets: byModel(ttftBuckets), counts: sumByModel(ttftCounts) } : undefined,
        requests: byModel(requests),
      });
    }),
  );
  return perWindow;
}

export type PhaseBuckets = Readonly<Record<Phase, ReadonlyMap<string, LabeledValue[]>>>;

/** The last hour's phase histograms by model, for the dominant-phase diagnosis (three queries). */
export async function countPhases(
  store: MetricStore,
  atMs: number,
  sources: Partial<Record<SloFamily, CountSource>>,
  context: QueryContext = {},
): Promise<PhaseBuckets> {
  const [queue, prefill, decode] = await Promise.all(
    (["queueBuckets", "prefillBuckets", "decodeBuckets"] as const).map((family) =>
      countFamily(store, family, HOUR_MS, atMs, sources[family] ?? "raw", context),
    ),
  );
  return { queue: byModel(queue ?? []), prefill: byModel(prefill ?? []), decode: byModel(decode ?? []) };
}

/**
 * Which families the store holds recorded (every rule of `config`'s families asked in one query),
 * as a source per family. A store without the recordings (memory, InfluxDB, a Prometheus without
 * the rules) reads everything raw.
 */
export async function detectSources(
  store: MetricStore,
  config: Pick<SloConfig, "classes">,
  atMs: number,
  context: QueryContext = {},
): Promise<Partial<Record<SloFamily, CountSource>>> {
  const families = familiesOf(config);
  const present = await store.hasSeries(families.map(recordedName), atMs, context);
  return Object.fromEntries(families.map((family) => [family, present.has(recordedName(family)) ? "recorded" : "raw"]));
}
