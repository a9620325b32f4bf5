/**
 * Decodes an OTLP/JSON ExportTraceServiceRequest body into DecodedTraces.
 *
 * Follows the OTLP/JSON rules (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding):
 * lowerCamelCase keys, ids as case-insensitive hex (not base64), 64-bit integers as decimal strings or
 * numbers, enums as integers, unknown fields ignored. Leniently also accepts the snake_case names and
 * enum names ("SPAN_KIND_SERVER") that the generic protobuf JSON mapping allows.
 *
 * The body is parsed with JSON.parse and walked with hand-written type checks (this is a hot path:
 * no schema library). Malformed structure throws OtlpDecodeError naming the JSON path; a span whose
 * ids are not hex of the right length is counted in rejectedSpans. Attribute values are only looked at
 * when the filter keeps their key.
 */
import { asStackOverflowDecodeError, normalizeHexId, truncateUtf8 } from "./otlp-decode-support.js";
import { scanOtlpJson } from "./otlp-json-scan.js";
import {
  DEFAULT_DECODE_LIMITS,
  OtlpDecodeError,
  type AttributeFilter,
  type AttributeValue,
  type DecodeLimits,
  type DecodedEvent,
  type DecodedResourceSpans,
  type DecodedSpan,
  type DecodedTraces,
  type StatusCode,
} from "./otlp-model.js";

type JsonObject = Record<string, unknown>;

/** SpanKind and Status.code names of trace.proto, by value. */
const SPAN_KIND_NAMES: readonly string[] = [
  "SPAN_KIND_UNSPECIFIED",
  "SPAN_KIND_INTERNAL",
  "SPAN_KIND_SERVER",
  "SPAN_KIND_CLIENT",
  "SPAN_KIND_PRODUCER",
  "SPAN_KIND_CONSUMER",
];
const STATUS_CODE_NAMES: readonly string[] = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];

/** A decimal integer as protobuf's JSON mapping writes 64-bit values (exponent notation is allowed too). */
const INTEGER_TEXT = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * Decodes an OTLP/JSON ExportTraceServiceRequest. Only attributes whose key `filter` keeps are read.
 * Throws OtlpDecodeError on JSON nested deeper than the OTLP model allows (before parsing it:
 * otlp-json-scan.ts), on invalid JSON, on a value of the wrong type (the message names its JSON
 * path) or when the body holds more than `limits.maxSpans` spans.
 */
export function decodeOtlpJson(
  text: string,
  filter: AttributeFilter,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): DecodedTraces {
  scanOtlpJson(Buffer.from(text, "utf8"), limits);
  return decodeScannedOtlpJson(text, filter, limits);
}

/** {@link decodeOtlpJson} for a text whose bytes scanOtlpJson (otlp-json-scan.ts) has already passed. */
export function decodeScannedOtlpJson(
  text: string,
  filter: AttributeFilter,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): DecodedTraces {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (error) {
    // V8's message quotes the text around the error, which may be prompt text: keep only the position,
    // and not the original error as a cause (it would reach logs).
    const position = error instanceof Error ? /at position (\d+)/.exec(error.message)?.[1] : undefined;
    throw new OtlpDecodeError(position === undefined ? "invalid JSON" : `invalid JSON at position ${position}`);
  }
  try {
    return new JsonTraceDecoder(filter, limits).request(root);
  } catch (error) {
    throw asStackOverflowDecodeError(error);
  }
}

/**
 * A field read under its lowerCamelCase name, else its snake_case one; JSON null counts as absent
 * (protobuf JSON mapping). Call sites read both names as plain property loads (`o.traceId, o.trace_id`):
 * objects JSON.parse builds from same-shaped input share a hidden class, so each site stays monomorphic,
 * where a helper taking the names as strings would make every lookup a megamorphic keyed load.
 */
function either(camel: unknown, snake: unknown): unknown {
  if (camel !== undefined && camel !== null) return camel;
  return snake === null ? undefined : snake;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

class JsonTraceDecoder {
  /** Path to the value being read, as alternating field names and array indices; formatted only on error. */
  private readonly trail: (string | number)[] = [];
  private spanCount = 0;
  private rejectedSpans = 0;
  private rejectReason: string | undefined;

  constructor(
    private readonly filter: AttributeFilter,
    private readonly limits: DecodeLimits,
  ) {}

  request(root: unknown): DecodedTraces {
    if (!isObject(root)) throw new OtlpDecodeError("body: expected a JSON object");
    const resourceSpans: DecodedResourceSpans[] = [];
    const items = this.array(either(root.resourceSpans, root.resource_spans), "resourceSpans");
    for (let i = 0; i < items.length; i++) {
      this.trail.push("resourceSpans", i);
      resourceSpans.push(this.resourceSpans(this.object(items[i])));
      this.leave(2);
    }
    const result = { resourceSpans, rejectedSpans: this.rejectedSpans };
    return this.rejectReason === undefined ? result : { ...result, rejectReason: this.rejectReason };
  }

  /** Drops the last `parts` entries of the trail (pop, not `length -=`, which V8 runs as a slow runtime call). */
  private leave(parts: 1 | 2): void {
    this.trail.pop();
    if (parts === 2) this.trail.pop();
  }

  /** Throws an OtlpDecodeError for `fieldName` of the value the trail names ("" = that value itself). */
  private fail(fieldName: string, expected: string): never {
    throw new OtlpDecodeError(`${this.path(fieldName)}: expected ${expected}`);
  }

  private path(fieldName: string): string {
    let path = "";
    for (const part of this.trail) path += typeof part === "number" ? `[${part}]` : path === "" ? part : `.${part}`;
    if (fieldName !== "") path += path === "" ? fieldName : `.${fieldName}`;
    return path === "" ? "body" : path;
  }

  /** `value` as an object; the current trail names it. */
  private object(value: unknown): JsonObject {
    if (!isObject(value)) this.fail("", "an object");
    return value;
  }

  // The readers below take JSON null as absent, as the protobuf JSON mapping does.

  private array(value: unknown, fieldName: string): readonly unknown[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) this.fail(fieldName, "an array");
    return value;
  }

  private string(value: unknown, fieldName: string): string {
    if (value === undefined || value === null) return "";
    if (typeof value !== "string") this.fail(fieldName, "a string");
    return value;
  }

  /** A fixed64 nanosecond time, as string or number, in milliseconds. */
  private nanosAsMs(value: unknown, fieldName: string): number {
    if (value === undefined || value === null) return 0;
    const nanos = this.int64(value, fieldName);
    if (nanos < 0) this.fail(fieldName, "an unsigned 64-bit integer");
    return nanos / 1e6;
  }

  private int64(value: unknown, fieldName: string): number {
    if (typeof value === "number" && Number.isInteger(value)) return value;
    if (typeof value === "string" && INTEGER_TEXT.test(value)) {
      const number = Number(value);
      if (Number.isInteger(number)) return number;
    }
    return this.fail(fieldName, "a 64-bit integer");
  }

  /** An enum as its integer or (leniently) its name in `names`. */
  private enumValue(value: unknown, fieldName: string, names: readonly string[]): number {
    if (value === undefined || value === null) return 0;
    if (typeof value === "number" && Number.isInteger(value)) return value;
    if (typeof value === "string") {
      const index = names.indexOf(value);
      if (index >= 0) return index;
    }
    return this.fail(fieldName, `an enum integer or one of ${names.join(", ")}`);
  }

  private resourceSpans(object: JsonObject): DecodedResourceSpans {
    const resource = new Map<string, AttributeValue>();
    if (object.resource !== undefined && object.resource !== null) {
      this.trail.push("resource");
      this.attributes(this.object(object.resource).attributes, resource);
      this.leave(1);
    }
    const spans: DecodedSpan[] = [];
    const scopes = this.array(either(object.scopeSpans, object.scope_spans), "scopeSpans");
    for (let i = 0; i < scopes.length; i++) {
      this.trail.push("scopeSpans", i);
      const scope = this.object(scopes[i]);
      const items = this.array(scope.spans, "spans");
      for (let j = 0; j < items.length; j++) {
        if (++this.spanCount > this.limits.maxSpans)
          throw new OtlpDecodeError(`more than ${this.limits.maxSpans} spans in one request`);
        this.trail.push("spans", j);
        const span = this.span(this.object(items[j]));
        if (span !== undefined) spans.push(span);
        this.leave(2);
      }
      this.leave(2);
    }
    return { resource, spans };
  }

  /** Reads one span; undefined (and counted as rejected) when an id is not hex of the right length. */
  private span(object: JsonObject): DecodedSpan | undefined {
    const traceIdText = this.string(either(object.traceId, object.trace_id), "traceId");
    const spanIdText = this.string(either(object.spanId, object.span_id), "spanId");
    const parentIdText = this.string(either(object.parentSpanId, object.parent_span_id), "parentSpanId");
    const attributes = new Map<string, AttributeValue>();
    this.attributes(object.attributes, attributes);
    const events: DecodedEvent[] = [];
    const eventItems = this.array(object.events, "events");
    for (let i = 0; i < eventItems.length; i++) {
      this.trail.push("events", i);
      events.push(this.event(this.object(eventItems[i])));
      this.leave(2);
    }
    const name = truncateUtf8(this.string(object.name, "name"), this.limits.maxStringBytes);
    const kind = this.enumValue(object.kind, "kind", SPAN_KIND_NAMES);
    const startTimeMs = this.nanosAsMs(
      either(object.startTimeUnixNano, object.start_time_unix_nano),
      "startTimeUnixNano",
    );
    const endTimeMs = this.nanosAsMs(either(object.endTimeUnixNano, object.end_time_unix_nano), "endTimeUnixNano");
    let statusCode: StatusCode = 0;
    if (object.status !== undefined && object.status !== null) {
      this.trail.push("status");
      const code = this.enumValue(this.object(object.status).code, "code", STATUS_CODE_NAMES);
      statusCode = code === 1 || code === 2 ? code : 0;
      this.leave(1);
    }
    const traceId = traceIdText === "" ? "" : normalizeHexId(traceIdText, 32);
    const spanId = spanIdText === "" ? "" : normalizeHexId(spanIdText, 16);
    const parentSpanId = parentIdText === "" ? "" : normalizeHexId(parentIdText, 16);
    if (traceId === undefined || spanId === undefined || parentSpanId === undefined) {
      const [field, text, digits] =
        traceId === undefined
          ? ["traceId", traceIdText, 32]
          : spanId === undefined
            ? ["spanId", spanIdText, 16]
            : ["parentSpanId", parentIdText, 16];
      this.rejectedSpans++;
      this.rejectReason ??= `${field} of ${text.length} characters is not ${digits} hex digits`;
      return undefined;
    }
    return {
      traceId,
      spanId,
      parentSpanId,
      name,
      kind,
      startTimeMs,
      endTimeMs,
      attributes,
      events,
      statusCode,
    };
  }

  private event(object: JsonObject): DecodedEvent {
    const attributes = new Map<string, AttributeValue>();
    this.attributes(object.attributes, attributes);
    return {
      name: truncateUtf8(this.string(object.name, "name"), this.limits.maxStringBytes),
      timeMs: this.nanosAsMs(either(object.timeUnixNano, object.time_unix_nano), "timeUnixNano"),
      attributes,
    };
  }

  /** Reads a KeyValue array into `into`, decoding values of kept keys only. */
  private attributes(value: unknown, into: Map<string, AttributeValue>): void {
    const items = this.array(value, "attributes");
    for (let i = 0; i < items.length; i++) {
      this.trail.push("attributes", i);
      const keyValue = this.object(items[i]);
      const key = this.string(keyValue.key, "key");
      // A key longer than any kept string cannot be on an allow-list, as in the protobuf decoder.
      if (truncateUtf8(key, this.limits.maxStringBytes) === key && this.filter(key)) {
        const raw = keyValue.value;
        if (raw !== undefined && raw !== null) {
          this.trail.push("value");
          const decoded = this.anyValue(raw, 1);
          this.leave(1);
          if (decoded !== undefined) into.set(key, decoded);
        }
      }
      this.leave(2);
    }
  }

  /**
   * Reads an AnyValue at nesting `depth` (1 = an attribute's value); the trail names it. Arrays keep
   * their scalar items; key-value lists and bytes are checked but not kept, as in the protobuf decoder.
   */
  private anyValue(raw: unknown, depth: number): AttributeValue | undefined {
    if (depth > this.limits.maxDepth)
      throw new OtlpDecodeError(`${this.path("")}: nested deeper than ${this.limits.maxDepth} levels`);
    const object = this.object(raw);
    // One pass over the keys: an AnyValue holds one of seven fields, so its objects come in many
    // shapes, and probing each name in turn would be seven polymorphic lookups.
    for (const name in object) {
      const value = object[name];
      if (value === undefined || value === null) continue;
      switch (name) {
        case "stringValue":
        case "string_value":
          return truncateUtf8(this.string(value, "stringValue"), this.limits.maxStringBytes);
        case "intValue":
        case "int_value":
          return this.int64(value, "intValue");
        case "doubleValue":
        case "double_value":
          return this.double(value);
        case "boolValue":
        case "bool_value":
          return typeof value === "boolean" ? value : this.fail("boolValue", "a boolean");
        case "arrayValue":
        case "array_value":
          return this.arrayValue(value, depth);
        case "kvlistValue":
        case "kvlist_value":
          this.checkKeyValueList(value, depth);
          return undefined;
        case "bytesValue":
        case "bytes_value":
          this.string(value, "bytesValue");
          return undefined;
        default: // an unknown field: ignored
      }
    }
    return undefined;
  }

  /** A double as a JSON number, or as a string (protobuf JSON allows "NaN", "Infinity", "-Infinity", "1.5"). */
  private double(value: unknown): number {
    if (typeof value === "number") return value;
    if (typeof value === "string") {
      if (value === "NaN") return Number.NaN;
      const number = Number(value);
      if (value.trim() !== "" && !Number.isNaN(number)) return number;
    }
    return this.fail("doubleValue", "a number");
  }

  private arrayValue(raw: unknown, depth: number): (string | number | boolean)[] {
    this.trail.push("arrayValue");
    const items = this.array(this.object(raw).values, "values");
    const kept: (string | number | boolean)[] = [];
    for (let i = 0; i < items.length; i++) {
      this.trail.push("values", i);
      const item = this.anyValue(items[i], depth + 1);
      if (item !== undefined && typeof item !== "object") kept.push(item);
      this.leave(2);
    }
    this.leave(1);
    return kept;
  }

  /** Walks a KeyValueList inside a kept value, only to bound its depth and check its types. */
  private checkKeyValueList(raw: unknown, depth: number): void {
    this.trail.push("kvlistValue");
    const items = this.array(this.object(raw).values, "values");
    for (let i = 0; i < items.length; i++) {
      this.trail.push("values", i);
      const entry = this.object(items[i]);
      this.string(entry.key, "key");
      if (entry.value !== undefined && entry.value !== null) {
        this.trail.push("value");
        this.anyValue(entry.value, depth + 1);
        this.leave(1);
      }
      this.leave(2);
    }
    this.leave(1);
  }
}
