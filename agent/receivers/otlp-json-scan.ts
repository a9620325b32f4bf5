/**
 * The look an OTLP/JSON body gets before it is parsed: one pass over its bytes that refuses nesting
 * deeper than any OTLP trace request has and counts what JSON.parse would allocate, so a nesting
 * bomb is refused after a few dozen bytes and a wide one is charged its cost to the in-flight budget
 * before the heap pays it (the receiver: otlp-http-receiver.ts).
 */
import { DEFAULT_DECODE_LIMITS, OtlpDecodeError, type DecodeLimits } from "./otlp-model.js";

/** What a linear scan of a JSON text counted, before anything of it is allocated. */
export interface JsonShape {
  /** Deepest nesting of arrays and objects. */
  readonly depth: number;
  /** Arrays and objects. */
  readonly containers: number;
  /** Commas and colons: about one per member or element. */
  readonly separators: number;
}

/**
 * Deepest nesting of arrays and objects a valid OTLP/JSON trace request can have with AnyValue
 * nested `maxDepth` levels: 11 containers enclose an attribute's AnyValue (request, resourceSpans,
 * ResourceSpans, scopeSpans, ScopeSpans, spans, Span, events, Event, attributes, KeyValue); each
 * AnyValue level adds at most 4 (AnyValue, kvlistValue, values, KeyValue) and the innermost 3
 * (AnyValue, arrayValue or kvlistValue, values). opentelemetry-proto, opentelemetry/proto/trace/v1/trace.proto
 * and common/v1/common.proto.
 */
export function maxOtlpJsonNesting(limits: DecodeLimits): number {
  return 11 + 4 * (limits.maxDepth - 1) + 3;
}

/**
 * Scans the UTF-8 bytes of an OTLP/JSON body once (strings skipped) and throws OtlpDecodeError as
 * soon as the nesting passes {@link maxOtlpJsonNesting}: a body of `[`×10⁷ is refused after 43
 * bytes instead of being parsed into ten million arrays. Every character the scan looks at is ASCII,
 * and UTF-8 never uses an ASCII byte inside a multi-byte character, so bytes are enough: the receiver
 * scans the body before any string is made (a loop over bytes is also several times faster than
 * one over a string's char codes). Returns the shape for {@link estimateJsonParseBytes}. Linear,
 * allocation-free.
 */
export function scanOtlpJson(bytes: Uint8Array, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): JsonShape {
  const maxNesting = maxOtlpJsonNesting(limits);
  let depth = 0;
  let deepest = 0;
  let containers = 0;
  let separators = 0;
  const length = bytes.length;
  for (let i = 0; i < length; i++) {
    const c = bytes[i];
    if (c === 0x22) {
      // A string: skip to its closing quote, stepping over escapes.
      for (i++; i < length; i++) {
        const d = bytes[i];
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      containers++;
      if (++depth > maxNesting)
        throw new OtlpDecodeError(
          `JSON nested deeper than ${maxNesting} levels (at position ${i}); no OTLP trace request is`,
        );
      if (depth > deepest) deepest = depth;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    } else if (c === 0x2c || c === 0x3a) {
      separators++;
    }
  }
  return { depth: deepest, containers, separators };
}

/** Heap V8 takes per parsed container and per member or element, bytes (measured with JSON.parse on Node 20: 43 for an empty array, 67 for an empty object). */
const HEAP_PER_CONTAINER = 72;
const HEAP_PER_SEPARATOR = 16;

/**
 * An upper estimate of what decoding a JSON text of `textLength` characters with this shape
 * allocates: the text as a string, the parsed strings (at most the text again) and a few tens of
 * bytes per array, object and member. The HTTP receiver charges it to the in-flight budget before
 * parsing, so ten million empty arrays in 20 MB cost their 700 MB in the budget, not in the heap.
 */
export function estimateJsonParseBytes(shape: JsonShape, textLength: number): number {
  return 2 * textLength + HEAP_PER_CONTAINER * shape.containers + HEAP_PER_SEPARATOR * shape.separators;
}
