/**
 * The runtime profiles in the order the span processor tries them, and the attribute
 * allow-lists the OTLP decoders are built with. The allow-list is the privacy boundary: it is
 * exactly the keys some profile reads, so prompt, completion and user attributes are never
 * decoded (test/agent/profiles/allow-list.test.ts keeps it that way).
 */
import type { DecodedSpan } from "../receivers/otlp-model.js";
import { GENAI_SEMCONV_PROFILE } from "./genai/spans.js";
import { COMMON_RESOURCE_ATTRIBUTES, type RuntimeProfile } from "./runtime-profile.js";
import { SGLANG_PROFILE } from "./sglang/spans.js";
import { TGI_PROFILE } from "./tgi/spans.js";
import { TRITON_PROFILE } from "./triton/spans.js";
import { VLLM_PROFILE } from "./vllm/spans.js";

/** Profiles in claim order: runtime-specific first, the generic GenAI semconv profile last. */
export const PROFILES: readonly RuntimeProfile[] = [
  VLLM_PROFILE,
  SGLANG_PROFILE,
  TGI_PROFILE,
  TRITON_PROFILE,
  GENAI_SEMCONV_PROFILE,
];

/** The first profile that claims the span, or undefined when it is not an LLM request span. */
export function profileFor(
  span: DecodedSpan,
  profiles: readonly RuntimeProfile[] = PROFILES,
): RuntimeProfile | undefined {
  return profiles.find((profile) => profile.claims(span));
}

/** Span and event attribute keys the decoders keep: the union of what the profiles read. */
export function allowedSpanAttributes(profiles: readonly RuntimeProfile[] = PROFILES): ReadonlySet<string> {
  return new Set(profiles.flatMap((profile) => profile.spanAttributes));
}

/** Resource attribute keys the decoders keep: the common ones plus what the profiles read. */
export function allowedResourceAttributes(profiles: readonly RuntimeProfile[] = PROFILES): ReadonlySet<string> {
  return new Set([...COMMON_RESOURCE_ATTRIBUTES, ...profiles.flatMap((profile) => profile.resourceAttributes)]);
}

export type { RuntimeProfile } from "./runtime-profile.js";
export { COMMON_RESOURCE_ATTRIBUTES } from "./runtime-profile.js";
