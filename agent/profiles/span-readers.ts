/**
 * Small pure readers shared by the runtime profiles. Every reader returns undefined for a
 * missing key, a value of the wrong type, NaN, an infinity or a negative duration/count, so a
 * profile never has to re-check what it gets.
 */
import type { LlmSpan } from "../processors/llm-span.js";
import type { AttributeValue, Attributes, DecodedSpan } from "../receivers/otlp-model.js";

/** Non-empty string attribute. */
export function readString(attributes: Attributes, key: string): string | undefined {
  const value = attributes.get(key);
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

/** Non-negative finite number attribute (seconds, when the runtime documents seconds). */
export function readSeconds(attributes: Attributes, key: string): number | undefined {
  const value = attributes.get(key);
  return typeof value === "number" && isNonNegative(value) ? value : undefined;
}

/** Non-negative integer attribute (a token count). */
export function readCount(attributes: Attributes, key: string): number | undefined {
  const value = attributes.get(key);
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

/** First of `keys` that reads as a count: current and deprecated semconv names side by side. */
export function readFirstCount(attributes: Attributes, keys: readonly string[]): number | undefined {
  for (const key of keys) {
    const count = readCount(attributes, key);
    if (count !== undefined) return count;
  }
  return undefined;
}

/** Span wall-clock duration in seconds (negative when the sender's clock is broken). */
export function spanDurationSeconds(span: DecodedSpan): number {
  return (span.endTimeMs - span.startTimeMs) / 1000;
}

/** Time of the first event named `name`, Unix ms. */
export function eventTimeMs(span: DecodedSpan, name: string): number | undefined {
  return span.events.find((event) => event.name === name)?.timeMs;
}

/** Seconds from event `from` to event `to`; undefined if either is missing. */
export function secondsBetweenEvents(span: DecodedSpan, from: string, to: string): number | undefined {
  const startMs = eventTimeMs(span, from);
  const endMs = eventTimeMs(span, to);
  return startMs === undefined || endMs === undefined ? undefined : (endMs - startMs) / 1000;
}

/** True for a finite number ≥ 0. */
export function isNonNegative(value: number | undefined): value is number {
  return value !== undefined && Number.isFinite(value) && value >= 0;
}

/**
 * Finish reasons in any shape a runtime sends them: vLLM's JSON string (`'["stop"]'`), the
 * semconv string array, or a bare string (`"abort"`).
 */
export function finishReasons(value: AttributeValue | undefined): string[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value.map(String);
  if (typeof value !== "string") return [String(value)];
  const trimmed = value.trim();
  if (trimmed.startsWith("[")) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (Array.isArray(parsed)) return parsed.map(String);
    } catch {
      // Not JSON after all: fall through and treat it as one reason.
    }
  }
  return trimmed.length > 0 ? [trimmed] : [];
}

/** Finish reasons that mean the request failed (vLLM's FinishReason values "abort" and "error"). */
const ERROR_FINISH_REASONS: ReadonlySet<string> = new Set(["abort", "error"]);

/** Whether any finish reason marks the request as failed. */
export function hasErrorFinishReason(value: AttributeValue | undefined): boolean {
  return finishReasons(value).some((reason) => ERROR_FINISH_REASONS.has(reason.toLowerCase()));
}

const OPTIONAL_FIELDS = [
  "queueSeconds",
  "prefillSeconds",
  "decodeSeconds",
  "ttftSeconds",
  "tpotSeconds",
  "promptTokens",
  "completionTokens",
] as const satisfies readonly (keyof LlmSpan)[];

type OptionalField = (typeof OPTIONAL_FIELDS)[number];

/** What a profile measured; undefined, NaN or negative values are dropped by {@link buildLlmSpan}. */
export type LlmSpanMeasurements = { readonly [K in OptionalField]?: number | undefined };

/** The fields every LlmSpan carries, with e2e still unchecked. */
export interface LlmSpanIdentity {
  readonly runtime: LlmSpan["runtime"];
  readonly model: string | undefined;
  readonly span: DecodedSpan;
  readonly e2eSeconds: number | undefined;
  readonly isError: boolean;
}

/**
 * Assembles an LlmSpan: undefined when e2e is missing, NaN or negative (the span is skipped);
 * each optional field is kept only when it is a finite number ≥ 0.
 */
export function buildLlmSpan(identity: LlmSpanIdentity, measured: LlmSpanMeasurements): LlmSpan | undefined {
  const { runtime, model, span, e2eSeconds, isError } = identity;
  if (!isNonNegative(e2eSeconds)) return undefined;
  const optional: { -readonly [K in OptionalField]?: number } = {};
  for (const field of OPTIONAL_FIELDS) {
    const value = measured[field];
    if (isNonNegative(value)) optional[field] = value;
  }
  return { runtime, model, traceId: span.traceId, endTimeMs: span.endTimeMs, e2eSeconds, isError, ...optional };
}
