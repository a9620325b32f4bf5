import type { SpansConfig } from "../../common/config/schema.js";
import type { Logger } from "../../common/log.js";
import { buildNodePodIndex, type NodePodIndex } from "../collectors/pods/node-pod-index.js";
import type { PodAttribution } from "../collectors/pods/pod-attribution.js";
import type { Attributes, DecodedTraces } from "../receivers/otlp-model.js";
import type { ConsumeResult, SpanConsumer } from "../receivers/span-consumer.js";
import { resolveResourceIdentity, UNKNOWN_MODEL, type ResourceIdentity } from "./identity/model-identity.js";
import { peerIp } from "./identity/peer-address.js";
import { UnattributedSpans } from "./identity/unattributed-spans.js";
import type { LlmSpan } from "./llm-span.js";
import { bucketsWithThresholds, LlmSeriesStore, type LlmSeriesLabels } from "./llm-series-store.js";
import { PROFILES, type RuntimeProfile } from "../profiles/span-profiles.js";
import type { SpanJoin } from "../profiles/runtime-profile.js";
import { BoundedRegExp } from "../../common/config/safe-regex.js";

/** Span outcomes counted for `inferwatch_otlp_spans_total`. */
export type SpanOutcome = "recorded" | "ignored" | "rejected";

/** Options for {@link SpanMetricsProcessor}. */
export interface SpanMetricsProcessorOptions {
  readonly config: SpansConfig;
  /** The pods this agent knows (kubelet holders, and this node's pods with their addresses from the Kubernetes API). */
  readonly attribution: () => PodAttribution;
  /** The models a pod's scraped runtime pages report (the runtime scraper's), for pods without a model label. */
  readonly runtimeModels?: (namespace: string, pod: string) => ReadonlySet<string>;
  /** Forwarding stage after metrics, if any. */
  readonly next?: SpanConsumer;
  readonly profiles?: readonly RuntimeProfile[];
  readonly log?: Logger;
  readonly now?: () => number;
}

const NO_MODELS: ReadonlySet<string> = new Set();

/**
 * Turns received spans into LLM request metrics: each span goes to the first runtime profile that
 * claims it; the request is recorded under (model, runtime, namespace, pod, tier). The model is the
 * span's own, else what the resource's pod, the connection's peer pod, that pod's runtime page or
 * a non-placeholder service.name names (identity/model-identity.ts), else "unknown", which is
 * counted by runtime and reason. Spans no profile claims are counted and ignored.
 */
export class SpanMetricsProcessor implements SpanConsumer {
  readonly store: LlmSeriesStore;
  readonly outcomes: Record<SpanOutcome, number> = { recorded: 0, ignored: 0, rejected: 0 };
  private readonly tierRules: readonly { readonly pattern: RegExp; readonly tier: string }[];
  private readonly tierCache = new Map<string, string>();
  private podIndex: { source: PodAttribution; index: NodePodIndex } | undefined;
  /** Spans recorded under model="unknown", by runtime and reason. */
  readonly unattributed: UnattributedSpans;
  private readonly profiles: readonly RuntimeProfile[];
  /** The joins of the profiles whose requests span several separately sent spans (Triton's). */
  private readonly joins: ReadonlyMap<RuntimeProfile, SpanJoin>;
  private readonly now: () => number;

  constructor(private readonly options: SpanMetricsProcessorOptions) {
    const { config } = options;
    this.store = new LlmSeriesStore({
      latencyBuckets: bucketsWithThresholds(config.buckets, config.sloThresholds),
      tpotBuckets: bucketsWithThresholds(config.tpotBuckets, []),
      maxSeries: config.maxSeriesPerMetric,
      ttlMs: config.seriesTtl,
      ...(options.now ? { now: options.now } : {}),
    });
    this.tierRules = config.tiers.map((rule) => ({ pattern: new BoundedRegExp(rule.model), tier: rule.tier }));
    this.profiles = options.profiles ?? PROFILES;
    this.joins = new Map(
      this.profiles.flatMap((profile) => (profile.createJoin ? [[profile, profile.createJoin()] as const] : [])),
    );
    this.now = options.now ?? Date.now;
    this.unattributed = new UnattributedSpans(options.log);
  }

  /** `peer`: the sending connection's `address:port` (receivers pass it; see identity/peer-address.ts). */
  consume(traces: DecodedTraces, peer?: string): ConsumeResult {
    let rejected = 0;
    const nowMs = this.now();
    for (const join of this.joins.values()) join.observe(traces, nowMs);
    const sender = peerIp(peer);
    for (const resourceSpans of traces.resourceSpans) {
      const identity = this.identify(resourceSpans.resource, sender);
      for (const span of resourceSpans.spans) {
        const profile = this.profiles.find((candidate) => candidate.claims(span));
        if (!profile) {
          this.outcomes.ignored++;
          continue;
        }
        const converted = profile.toLlmSpan(span, resourceSpans.resource);
        const join = this.joins.get(profile);
        const llm = converted && join ? join.complete(converted, span) : converted;
        if (!llm) {
          this.outcomes.rejected++;
          rejected++;
          continue;
        }
        this.store.record(this.labelsOf(llm, identity), llm);
        this.outcomes.recorded++;
      }
    }
    this.outcomes.rejected += traces.rejectedSpans;
    const downstream = this.options.next?.consume(traces, peer);
    const total = rejected + traces.rejectedSpans;
    if (total === 0) return downstream ?? { rejectedSpans: 0 };
    const message = traces.rejectReason ?? `${rejected} LLM request span(s) lacked a usable end-to-end latency`;
    return { rejectedSpans: total, message };
  }

  private labelsOf(span: LlmSpan, identity: ResourceIdentity): LlmSeriesLabels {
    const model = span.model ?? identity.model;
    if (model === undefined) this.unattributed.add(span.runtime, identity.reason ?? "no_pod_identity");
    const named = model ?? UNKNOWN_MODEL;
    return {
      model: named,
      runtime: span.runtime,
      namespace: identity.namespace,
      pod: identity.pod,
      tier: this.tierOf(named),
    };
  }

  /** Resolves a resource's pod and model once per resource; the pod index is rebuilt only when the attribution changes. */
  private identify(resource: Attributes, sender: string | undefined): ResourceIdentity {
    const attribution = this.options.attribution();
    if (this.podIndex?.source !== attribution)
      this.podIndex = { source: attribution, index: buildNodePodIndex(attribution) };
    const runtimeModels = this.options.runtimeModels ?? (() => NO_MODELS);
    return resolveResourceIdentity(resource, sender, { pods: this.podIndex.index, runtimeModels });
  }

  private tierOf(model: string): string {
    const cached = this.tierCache.get(model);
    if (cached !== undefined) return cached;
    const tier = this.tierRules.find((rule) => rule.pattern.test(model))?.tier ?? this.options.config.defaultTier;
    if (this.tierCache.size < this.options.config.maxSeriesPerMetric) this.tierCache.set(model, tier);
    return tier;
  }
}
