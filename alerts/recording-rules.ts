/**
 * The recorded 5-minute increases that long SLO windows are summed from, in the alert rules
 * (slo-rules.ts) and in the analyzer alike (analyzer/slo/slo-counts.ts): per model (and `le` for
 * histogram buckets, `status` for requests), `sum by (…) (increase(<counter>[5m]))`, evaluated every
 * 5 minutes so that consecutive points tile time and `sum_over_time(<rule>[30d])` is the period's
 * count. This is Sloth's optimized long window (slok/sloth examples/_gen: `slo:sli_error:ratio_rate30d`
 * from the 5-minute series) applied to counts rather than ratios, so quiet and busy hours weigh
 * what their traffic weighs (slok/sloth#241). Histogram buckets are kept only at the SLO thresholds
 * for the latency families (all buckets for the phase histograms, which the dominant-phase diagnosis
 * reads whole).
 */
import { familiesOf, recordedName, SLO_FAMILIES, type SloFamily } from "../analyzer/slo/slo-counts.js";
import { listSlos, type SloConfig } from "../common/slo/spec.js";
import { RECORDED_INCREASE_MS } from "../common/conventions.js";
import { leSetMatcher, selector } from "../common/promql.js";
import { scaled, type RecordingRule, type RuleContext, type RuleGroup } from "./rule-model.js";

/** The group's name; it must come before the SLO groups that read it (promtool evaluates groups in file order). */
export const INCREASE_GROUP = "inferwatch-recorded-increases";

/** The thresholds a bucket family is kept at; undefined for the families kept whole. */
function familyThresholds(config: Pick<SloConfig, "classes">, family: SloFamily): number[] | undefined {
  const slos = listSlos(config);
  if (family === "latencyBuckets") return slos.flatMap((slo) => (slo.kind === "latency" ? [slo.thresholdSeconds] : []));
  if (family === "ttftBuckets") return slos.flatMap((slo) => (slo.kind === "ttft" ? [slo.thresholdSeconds] : []));
  return undefined;
}

/** The recording group of every family the configuration's SLOs and diagnosis read. */
export function increaseRecordingGroup(context: RuleContext, config: Pick<SloConfig, "classes">): RuleGroup {
  const window = scaled(context, RECORDED_INCREASE_MS);
  const rules = familiesOf(config).map((family): RecordingRule => {
    const { metric, by } = SLO_FAMILIES[family];
    const thresholds = familyThresholds(config, family);
    const series = thresholds === undefined ? metric : selector(metric, [leSetMatcher(thresholds)]);
    return { record: recordedName(family), expr: `sum by (${by.join(", ")}) (increase(${series}[${window}]))` };
  });
  return { name: INCREASE_GROUP, interval: window, rules };
}
