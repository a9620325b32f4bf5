/**
 * The part of an OTLP ExportTraceServiceRequest the agent keeps, after decoding. Both decoders
 * (protobuf and JSON) produce exactly this shape. Attribute values are kept only for keys the
 * allow-list names: every other attribute is skipped while decoding and never materialised, so
 * prompt and completion text cannot reach metrics, logs, snapshots or forwarded spans.
 */

/** An attribute value, reduced to what the runtime profiles read. Arrays keep scalar items only. */
export type AttributeValue = string | number | boolean | readonly (string | number | boolean)[];

/** Allow-listed attributes of a span, event or resource. */
export type Attributes = ReadonlyMap<string, AttributeValue>;

/** A span event (Triton carries its timings as events named QUEUE_START, COMPUTE_START, …). */
export interface DecodedEvent {
  readonly name: string;
  /** Unix time in milliseconds, fractional (nanosecond precision is not needed for phases). */
  readonly timeMs: number;
  readonly attributes: Attributes;
}

/** OTLP Status.code: 0 unset, 1 ok, 2 error. */
export type StatusCode = 0 | 1 | 2;

export interface DecodedSpan {
  /** 32 lowercase hex characters; empty when the sender left it out. */
  readonly traceId: string;
  /** 16 lowercase hex characters. */
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  /** OTLP SpanKind as an integer (0 unspecified … 5 consumer). */
  readonly kind: number;
  readonly startTimeMs: number;
  readonly endTimeMs: number;
  readonly attributes: Attributes;
  readonly events: readonly DecodedEvent[];
  readonly statusCode: StatusCode;
}

/** Spans of one resource (one process of one runtime), scopes flattened. */
export interface DecodedResourceSpans {
  readonly resource: Attributes;
  readonly spans: readonly DecodedSpan[];
}

/** What a decoder returns for one request body. */
export interface DecodedTraces {
  readonly resourceSpans: readonly DecodedResourceSpans[];
  /** Spans present in the body but dropped while decoding (e.g. an invalid id), with the first reason. */
  readonly rejectedSpans: number;
  readonly rejectReason?: string;
}

/** Decides which attribute keys are decoded; everything else is skipped unread. */
export type AttributeFilter = (key: string) => boolean;

/** An undecodable body: the receiver answers 400 (HTTP) or INVALID_ARGUMENT (gRPC) with this message. */
export class OtlpDecodeError extends Error {}

/** Limits every decoder enforces, so hostile input costs bounded memory and time. */
export interface DecodeLimits {
  /** Deepest nesting of AnyValue (arrays and key-value lists) accepted. */
  readonly maxDepth: number;
  /** Longest attribute string kept; longer values are truncated (they are never prompt text: see the filter). */
  readonly maxStringBytes: number;
  /** Most spans in one request. */
  readonly maxSpans: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxDepth: 8, maxStringBytes: 4096, maxSpans: 100_000 };
