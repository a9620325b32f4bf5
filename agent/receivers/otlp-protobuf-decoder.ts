/**
 * Decodes an OTLP/protobuf ExportTraceServiceRequest body into DecodedTraces, by hand, in one pass.
 *
 * Field numbers are those of opentelemetry-proto (opentelemetry/proto/collector/trace/v1/trace_service.proto,
 * trace/v1/trace.proto, common/v1/common.proto, resource/v1/resource.proto), checked against the
 * protobufjs code generated from them that @opentelemetry/otlp-transformer ships.
 *
 * Hot-path rules: an attribute's key is read first and its value bytes are skipped unread unless the
 * filter keeps the key, so prompt text is never turned into a string; ids become hex through a table;
 * fixed64 times are read as two uint32 halves (no BigInt). Structure errors throw OtlpDecodeError;
 * a span whose ids have the wrong length is counted in rejectedSpans instead.
 */
import { asStackOverflowDecodeError, bytesToHex } from "./otlp-decode-support.js";
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
import { WIRE_FIXED64, WIRE_LEN, WIRE_VARINT, WireReader } from "../../common/protobuf/reader.js";
import { KeyCache } from "./otlp-key-cache.js";

// Tags (field number << 3 | wire type) of the fields this decoder reads.
const TAG_RESOURCE_SPANS = (1 << 3) | WIRE_LEN; // ExportTraceServiceRequest.resource_spans
const TAG_RS_RESOURCE = (1 << 3) | WIRE_LEN; // ResourceSpans.resource
const TAG_RS_SCOPE_SPANS = (2 << 3) | WIRE_LEN; // ResourceSpans.scope_spans
const TAG_RESOURCE_ATTRIBUTES = (1 << 3) | WIRE_LEN; // Resource.attributes
const TAG_SS_SPANS = (2 << 3) | WIRE_LEN; // ScopeSpans.spans
const TAG_KV_KEY = (1 << 3) | WIRE_LEN; // KeyValue.key
const TAG_KV_VALUE = (2 << 3) | WIRE_LEN; // KeyValue.value
const TAG_LIST_VALUES = (1 << 3) | WIRE_LEN; // ArrayValue.values and KeyValueList.values
const TAG_STATUS_CODE = (3 << 3) | WIRE_VARINT; // Status.code

// Field numbers of the messages read with a switch (trace.proto, common.proto). Plain module constants,
// not an enum: an enum compiles to an object whose properties every `case` would load.
const SPAN_TRACE_ID = 1;
const SPAN_SPAN_ID = 2;
const SPAN_PARENT_SPAN_ID = 4;
const SPAN_NAME = 5;
const SPAN_KIND = 6;
const SPAN_START_TIME = 7;
const SPAN_END_TIME = 8;
const SPAN_ATTRIBUTES = 9;
const SPAN_EVENTS = 11;
const SPAN_STATUS = 15;
const EVENT_TIME = 1;
const EVENT_NAME = 2;
const EVENT_ATTRIBUTES = 3;
const ANY_STRING = 1;
const ANY_BOOL = 2;
const ANY_INT = 3;
const ANY_DOUBLE = 4;
const ANY_ARRAY = 5;
const ANY_KVLIST = 6;
const ANY_BYTES = 7;

// Bit masks of field numbers, for skipField's `lenFields`.
const FIELD_1 = 1 << 1;
const FIELD_2 = 1 << 2;
const FIELD_3 = 1 << 3;

/**
 * Decodes an OTLP/protobuf ExportTraceServiceRequest. Only attributes whose key `filter` keeps are
 * decoded; the body is not retained by the result. Throws OtlpDecodeError on malformed input or when
 * the body holds more than `limits.maxSpans` spans.
 */
export function decodeOtlpProtobuf(
  body: Uint8Array,
  filter: AttributeFilter,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): DecodedTraces {
  try {
    return new ProtobufTraceDecoder(body, filter, limits).decode();
  } catch (error) {
    throw asStackOverflowDecodeError(error);
  }
}

class ProtobufTraceDecoder {
  private readonly r: WireReader;
  private readonly keys: KeyCache;
  private spanCount = 0;
  private rejectedSpans = 0;
  private rejectReason: string | undefined;

  constructor(
    body: Uint8Array,
    filter: AttributeFilter,
    private readonly limits: DecodeLimits,
  ) {
    this.r = new WireReader(body, OtlpDecodeError);
    this.keys = new KeyCache(this.r, filter);
  }

  decode(): DecodedTraces {
    const r = this.r;
    const resourceSpans: DecodedResourceSpans[] = [];
    while (r.more()) {
      const tag = r.tag();
      if (tag === TAG_RESOURCE_SPANS) resourceSpans.push(this.resourceSpans());
      else this.skipField(tag, "ExportTraceServiceRequest", FIELD_1);
    }
    const result = { resourceSpans, rejectedSpans: this.rejectedSpans };
    return this.rejectReason === undefined ? result : { ...result, rejectReason: this.rejectReason };
  }

  /**
   * Skips a field this decoder does not read. A field whose number is in `lenFields` (bit n = field n)
   * must be length-delimited: the schema says so, and a mismatch means a corrupt or foreign body.
   */
  private skipField(tag: number, message: string, lenFields: number): void {
    const wireType = tag & 7;
    const field = tag >>> 3;
    if (field < 31 && (lenFields & (1 << field)) !== 0) this.r.expect(wireType, WIRE_LEN, message, `field ${field}`);
    this.r.skip(wireType);
  }

  // Each message reader below starts at its length prefix: enter() narrows the reader to the
  // message, and restoring `limit` leaves it just past the message.

  private resourceSpans(): DecodedResourceSpans {
    const r = this.r;
    const outer = r.enter();
    const resource = new Map<string, AttributeValue>();
    const spans: DecodedSpan[] = [];
    while (r.more()) {
      const tag = r.tag();
      if (tag === TAG_RS_SCOPE_SPANS) this.scopeSpans(spans);
      else if (tag === TAG_RS_RESOURCE) this.resource(resource);
      else this.skipField(tag, "ResourceSpans", FIELD_1 | FIELD_2 | FIELD_3);
    }
    r.limit = outer;
    return { resource, spans };
  }

  private resource(into: Map<string, AttributeValue>): void {
    const r = this.r;
    const outer = r.enter();
    while (r.more()) {
      const tag = r.tag();
      if (tag === TAG_RESOURCE_ATTRIBUTES) this.keyValue(into);
      else this.skipField(tag, "Resource", FIELD_1);
    }
    r.limit = outer;
  }

  private scopeSpans(into: DecodedSpan[]): void {
    const r = this.r;
    const outer = r.enter();
    while (r.more()) {
      const tag = r.tag();
      if (tag === TAG_SS_SPANS) {
        if (++this.spanCount > this.limits.maxSpans)
          throw new OtlpDecodeError(`more than ${this.limits.maxSpans} spans in one request`);
        const span = this.span();
        if (span !== undefined) into.push(span);
      } else this.skipField(tag, "ScopeSpans", FIELD_1 | FIELD_2 | FIELD_3);
    }
    r.limit = outer;
  }

  /** Reads one Span; undefined (and counted as rejected) when its ids have the wrong length. */
  private span(): DecodedSpan | undefined {
    const r = this.r;
    const outer = r.enter();
    let traceIdAt = 0;
    let traceIdLength = 0;
    let spanIdAt = 0;
    let spanIdLength = 0;
    let parentIdAt = 0;
    let parentIdLength = 0;
    let name = "";
    let kind = 0;
    let startTimeMs = 0;
    let endTimeMs = 0;
    const attributes = new Map<string, AttributeValue>();
    const events: DecodedEvent[] = [];
    let statusCode: StatusCode = 0;
    while (r.more()) {
      const tag = r.tag();
      const wireType = tag & 7;
      switch (tag >>> 3) {
        case SPAN_TRACE_ID:
          r.expect(wireType, WIRE_LEN, "Span", "trace_id");
          traceIdLength = r.length();
          traceIdAt = r.pos;
          r.pos += traceIdLength;
          break;
        case SPAN_SPAN_ID:
          r.expect(wireType, WIRE_LEN, "Span", "span_id");
          spanIdLength = r.length();
          spanIdAt = r.pos;
          r.pos += spanIdLength;
          break;
        case SPAN_PARENT_SPAN_ID:
          r.expect(wireType, WIRE_LEN, "Span", "parent_span_id");
          parentIdLength = r.length();
          parentIdAt = r.pos;
          r.pos += parentIdLength;
          break;
        case SPAN_NAME:
          r.expect(wireType, WIRE_LEN, "Span", "name");
          name = r.string(this.limits.maxStringBytes);
          break;
        case SPAN_KIND:
          r.expect(wireType, WIRE_VARINT, "Span", "kind");
          r.varint();
          kind = r.lo | 0;
          break;
        case SPAN_START_TIME:
          r.expect(wireType, WIRE_FIXED64, "Span", "start_time_unix_nano");
          startTimeMs = r.fixed64NanosAsMs();
          break;
        case SPAN_END_TIME:
          r.expect(wireType, WIRE_FIXED64, "Span", "end_time_unix_nano");
          endTimeMs = r.fixed64NanosAsMs();
          break;
        case SPAN_ATTRIBUTES:
          r.expect(wireType, WIRE_LEN, "Span", "attributes");
          this.keyValue(attributes);
          break;
        case SPAN_EVENTS:
          r.expect(wireType, WIRE_LEN, "Span", "events");
          events.push(this.event());
          break;
        case SPAN_STATUS:
          r.expect(wireType, WIRE_LEN, "Span", "status");
          statusCode = this.statusCode(statusCode);
          break;
        default:
          r.skip(wireType);
      }
    }
    r.limit = outer;
    const reason =
      traceIdLength !== 0 && traceIdLength !== 16
        ? `trace_id of ${traceIdLength} bytes (expected 16)`
        : spanIdLength !== 0 && spanIdLength !== 8
          ? `span_id of ${spanIdLength} bytes (expected 8)`
          : parentIdLength !== 0 && parentIdLength !== 8
            ? `parent_span_id of ${parentIdLength} bytes (expected 8)`
            : undefined;
    if (reason !== undefined) {
      this.rejectedSpans++;
      this.rejectReason ??= reason;
      return undefined;
    }
    const bytes = r.bytes;
    return {
      traceId: bytesToHex(bytes, traceIdAt, traceIdLength),
      spanId: bytesToHex(bytes, spanIdAt, spanIdLength),
      parentSpanId: bytesToHex(bytes, parentIdAt, parentIdLength),
      name,
      kind,
      startTimeMs,
      endTimeMs,
      attributes,
      events,
      statusCode,
    };
  }

  private event(): DecodedEvent {
    const r = this.r;
    const outer = r.enter();
    let name = "";
    let timeMs = 0;
    const attributes = new Map<string, AttributeValue>();
    while (r.more()) {
      const tag = r.tag();
      const wireType = tag & 7;
      switch (tag >>> 3) {
        case EVENT_TIME:
          r.expect(wireType, WIRE_FIXED64, "Event", "time_unix_nano");
          timeMs = r.fixed64NanosAsMs();
          break;
        case EVENT_NAME:
          r.expect(wireType, WIRE_LEN, "Event", "name");
          name = r.string(this.limits.maxStringBytes);
          break;
        case EVENT_ATTRIBUTES:
          r.expect(wireType, WIRE_LEN, "Event", "attributes");
          this.keyValue(attributes);
          break;
        default:
          r.skip(wireType);
      }
    }
    r.limit = outer;
    return { name, timeMs, attributes };
  }

  /** Reads a Status and returns its code (unknown codes read as 0, unset); `previous` survives a Status without one. */
  private statusCode(previous: StatusCode): StatusCode {
    const r = this.r;
    const outer = r.enter();
    let code = previous;
    while (r.more()) {
      const tag = r.tag();
      if (tag === TAG_STATUS_CODE) {
        const value = r.varint();
        code = value === 1 || value === 2 ? value : 0;
      } else {
        if (tag >>> 3 === 3) r.expect(tag & 7, WIRE_VARINT, "Status", "code");
        this.skipField(tag, "Status", FIELD_2);
      }
    }
    r.limit = outer;
    return code;
  }

  /**
   * Reads a KeyValue into `into`. The key is read first (it may follow the value on the wire); the
   * value is decoded only when the filter keeps the key, otherwise its bytes are never looked at.
   */
  private keyValue(into: Map<string, AttributeValue>): void {
    const r = this.r;
    const outer = r.enter();
    let keyAt = 0;
    let keyLength = 0;
    let valueAt = -1;
    while (r.more()) {
      const tag = r.tag();
      if (tag === TAG_KV_KEY) {
        keyLength = r.length();
        keyAt = r.pos;
        r.pos += keyLength;
      } else if (tag === TAG_KV_VALUE) {
        valueAt = r.pos;
        const valueLength = r.length();
        r.pos += valueLength;
      } else this.skipField(tag, "KeyValue", FIELD_1 | FIELD_2);
    }
    const end = r.pos;
    // A key longer than any kept string cannot be on an allow-list: it is dropped without being decoded.
    const key =
      valueAt >= 0 && keyLength <= this.limits.maxStringBytes ? this.keys.keptKey(keyAt, keyLength) : undefined;
    if (key !== undefined) {
      r.pos = valueAt;
      const value = this.anyValue(1);
      if (value !== undefined) into.set(key, value);
    }
    r.pos = end;
    r.limit = outer;
  }

  /**
   * Reads an AnyValue at nesting `depth` (1 = an attribute's value). Arrays keep their scalar items;
   * key-value lists and bytes are checked for structure but not kept (the model has no place for them).
   */
  private anyValue(depth: number): AttributeValue | undefined {
    if (depth > this.limits.maxDepth)
      throw new OtlpDecodeError(`attribute value nested deeper than ${this.limits.maxDepth} levels`);
    const r = this.r;
    const outer = r.enter();
    let value: AttributeValue | undefined;
    while (r.more()) {
      const tag = r.tag();
      const wireType = tag & 7;
      switch (tag >>> 3) {
        case ANY_STRING:
          r.expect(wireType, WIRE_LEN, "AnyValue", "string_value");
          value = r.string(this.limits.maxStringBytes);
          break;
        case ANY_BOOL:
          r.expect(wireType, WIRE_VARINT, "AnyValue", "bool_value");
          value = r.varint() !== 0;
          break;
        case ANY_INT:
          r.expect(wireType, WIRE_VARINT, "AnyValue", "int_value");
          r.varint();
          value = r.lastAsInt64();
          break;
        case ANY_DOUBLE:
          r.expect(wireType, WIRE_FIXED64, "AnyValue", "double_value");
          value = r.double();
          break;
        case ANY_ARRAY:
          r.expect(wireType, WIRE_LEN, "AnyValue", "array_value");
          value = this.arrayValue(depth);
          break;
        case ANY_KVLIST:
          r.expect(wireType, WIRE_LEN, "AnyValue", "kvlist_value");
          this.checkKeyValueList(depth);
          value = undefined;
          break;
        case ANY_BYTES:
          r.expect(wireType, WIRE_LEN, "AnyValue", "bytes_value");
          r.skip(wireType);
          value = undefined;
          break;
        default:
          r.skip(wireType);
      }
    }
    r.limit = outer;
    return value;
  }

  /** Reads an ArrayValue whose AnyValue sits at `depth`; items sit one level deeper. */
  private arrayValue(depth: number): (string | number | boolean)[] {
    const r = this.r;
    const outer = r.enter();
    const items: (string | number | boolean)[] = [];
    while (r.more()) {
      const tag = r.tag();
      if (tag === TAG_LIST_VALUES) {
        const item = this.anyValue(depth + 1);
        if (item !== undefined && typeof item !== "object") items.push(item);
      } else this.skipField(tag, "ArrayValue", FIELD_1);
    }
    r.limit = outer;
    return items;
  }

  /** Walks a KeyValueList inside a kept value, only to bound its depth and check its structure. */
  private checkKeyValueList(depth: number): void {
    const r = this.r;
    const outer = r.enter();
    while (r.more()) {
      const tag = r.tag();
      if (tag === TAG_LIST_VALUES) {
        const entryOuter = r.enter();
        while (r.more()) {
          const inner = r.tag();
          if (inner === TAG_KV_VALUE) this.anyValue(depth + 1);
          else this.skipField(inner, "KeyValue", FIELD_1 | FIELD_2);
        }
        r.limit = entryOuter;
      } else this.skipField(tag, "KeyValueList", FIELD_1);
    }
    r.limit = outer;
  }
}
