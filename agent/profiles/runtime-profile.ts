import type { LlmSpan } from "../processors/llm-span.js";
import type { Attributes, DecodedSpan, DecodedTraces } from "../receivers/otlp-model.js";

/**
 * How one inference runtime's spans become {@link LlmSpan}s. A new runtime is a new file that
 * exports one of these and is listed in `PROFILES` (./index.ts).
 */
export interface RuntimeProfile {
  readonly runtime: LlmSpan["runtime"];
  /**
   * Every span and event attribute key this profile reads. The union over all profiles is the
   * decoders' allow-list: a key not listed here is never decoded, so a profile cannot read it.
   * Never list prompt, completion or user keys.
   */
  readonly spanAttributes: readonly string[];
  /** Resource attribute keys this profile reads beyond {@link COMMON_RESOURCE_ATTRIBUTES}. */
  readonly resourceAttributes: readonly string[];
  /** Whether this profile owns the span. Cheap: a name or key lookup, no parsing. */
  claims(span: DecodedSpan): boolean;
  /**
   * Pure conversion of a claimed span. Undefined when the span lacks what an LlmSpan needs
   * (a non-negative end-to-end latency); a missing or invalid phase only leaves that field out.
   */
  toLlmSpan(span: DecodedSpan, resource: Attributes): LlmSpan | undefined;
  /**
   * For a runtime whose request is told by several spans that arrive apart (Triton's model span and
   * its `compute` span): a new, bounded join state, one per span processor.
   */
  createJoin?(): SpanJoin;
}

/** Completes a profile's LlmSpans with spans of the same request that arrive separately. */
export interface SpanJoin {
  /** Keeps, bounded in count and age, the spans of `traces` that later ones may need. Called once per batch, first. */
  observe(traces: DecodedTraces, nowMs: number): void;
  /** `llm` (converted from `span`, a span this profile claimed) completed from what observe() kept. */
  complete(llm: LlmSpan, span: DecodedSpan): LlmSpan;
}

/**
 * Resource attributes the span processor needs whatever the runtime: the service and the
 * Kubernetes identity it matches against this node's pods to resolve a model when the span has
 * none (processors/identity/model-identity.ts).
 */
export const COMMON_RESOURCE_ATTRIBUTES = [
  "service.name",
  "service.instance.id",
  "k8s.pod.name",
  "k8s.pod.uid",
  "k8s.namespace.name",
  "k8s.container.name",
] as const;
