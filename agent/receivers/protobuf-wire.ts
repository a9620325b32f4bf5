/**
 * A minimal protobuf wire-format reader (https://protobuf.dev/programming-guides/encoding/) for the
 * OTLP protobuf decoder. Every read is bounded by `limit`, the end of the message being decoded, so a
 * length that points past its parent, a truncated varint or an oversized varint is an OtlpDecodeError
 * naming the byte offset, never an out-of-bounds read. No BigInt: 64-bit values come as two uint32
 * halves.
 */
import { OtlpDecodeError, type AttributeFilter } from "./otlp-model.js";

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

const TWO_POW_32 = 4294967296;

/**
 * Buffer#utf8Slice: the native method behind Buffer#toString("utf8") without its argument handling,
 * about twice as fast on short strings. Undocumented but long-standing (protobufjs's reader uses it
 * too); toString is the fallback if it ever goes away.
 */
type SliceableBuffer = Buffer & { utf8Slice(start: number, end: number): string };
const HAS_UTF8_SLICE = typeof (Buffer.prototype as Partial<SliceableBuffer>).utf8Slice === "function";

/** Cursor over one request body. Not reentrant; one instance per decode call. */
export class WireReader {
  readonly bytes: Uint8Array;
  /** Zero-copy Buffer view of `bytes`, for native UTF-8 decoding. */
  readonly buffer: Buffer;
  readonly view: DataView;
  pos = 0;
  /** End (exclusive) of the message being read. */
  limit: number;
  /** Low and high 32 bits (unsigned) of the last varint read. */
  lo = 0;
  hi = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.limit = bytes.byteLength;
  }

  /** True while the current message has bytes left. */
  more(): boolean {
    return this.pos < this.limit;
  }

  /** Reads a varint; returns it as an unsigned Number (exact below 2^53) and keeps its halves in lo/hi. */
  varint(): number {
    const p = this.pos;
    if (p < this.limit) {
      const first = this.bytes[p] ?? 0;
      if (first < 0x80) {
        this.pos = p + 1;
        this.lo = first;
        this.hi = 0;
        return first;
      }
    }
    return this.varintSlow();
  }

  private varintSlow(): number {
    const bytes = this.bytes;
    const start = this.pos;
    let p = start;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (p >= this.limit) throw new OtlpDecodeError(`truncated varint at byte ${start}`);
      const b = bytes[p++] ?? 0;
      const bits = b & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= bits << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (7 * i - 32);
      if (b < 0x80) {
        this.pos = p;
        this.lo = lo >>> 0;
        this.hi = hi >>> 0;
        return this.hi * TWO_POW_32 + this.lo;
      }
    }
    throw new OtlpDecodeError(`varint longer than 10 bytes at byte ${start}`);
  }

  /** The last varint as a signed int64, rounded to the nearest double. */
  lastAsInt64(): number {
    return (this.hi | 0) * TWO_POW_32 + this.lo;
  }

  /** Reads a field tag; returns it whole (field number << 3 | wire type), rejecting field 0 and bad wire types. */
  tag(): number {
    const at = this.pos;
    const tag = this.varint();
    const wireType = tag & 7;
    if (tag < 8 || tag > 0xffffffff) throw new OtlpDecodeError(`invalid field number in tag at byte ${at}`);
    if (wireType === 3 || wireType === 4) throw new OtlpDecodeError(`unsupported group (wire type ${wireType}) at byte ${at}`);
    if (wireType > 5) throw new OtlpDecodeError(`invalid wire type ${wireType} at byte ${at}`);
    return tag;
  }

  /** Reads the length prefix of a length-delimited field and checks it fits in the current message. */
  length(): number {
    const at = this.pos;
    const length = this.varint();
    if (length > this.limit - this.pos) {
      throw new OtlpDecodeError(`length ${length} at byte ${at} runs past the end of its message`);
    }
    return length;
  }

  /**
   * Reads the length prefix of an embedded message and narrows `limit` to it. Returns the outer limit,
   * which the caller puts back once the message is read (leaving `pos` just past the message).
   */
  enter(): number {
    const length = this.length();
    const outer = this.limit;
    this.limit = this.pos + length;
    return outer;
  }

  /** Reads a length-delimited UTF-8 string, keeping at most `maxBytes` of it. */
  string(maxBytes: number): string {
    const length = this.length();
    const value = this.utf8(this.pos, length, maxBytes);
    this.pos += length;
    return value;
  }

  /** Reads a little-endian fixed32 (unsigned). */
  fixed32(): number {
    this.need(4);
    const value = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return value;
  }

  /** Reads a fixed64 and returns it divided by 1e6 (nanoseconds → milliseconds) without BigInt. */
  fixed64NanosAsMs(): number {
    this.need(8);
    const lo = this.view.getUint32(this.pos, true);
    const hi = this.view.getUint32(this.pos + 4, true);
    this.pos += 8;
    return hi * (TWO_POW_32 / 1e6) + lo / 1e6;
  }

  /** Reads a little-endian IEEE-754 double. */
  double(): number {
    this.need(8);
    const value = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return value;
  }

  /** Skips the value of a field of the given wire type, unread. */
  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.need(8);
        this.pos += 8;
        return;
      case WIRE_LEN: {
        const length = this.length(); // before reading pos: `pos += length()` would add to the old pos
        this.pos += length;
        return;
      }
      case WIRE_FIXED32:
        this.need(4);
        this.pos += 4;
        return;
      default:
        throw new OtlpDecodeError(`invalid wire type ${wireType} before byte ${this.pos}`);
    }
  }

  /** Throws unless `wireType` is what the schema gives field `field` of `message`. */
  expect(wireType: number, expected: number, message: string, field: string): void {
    if (wireType !== expected) {
      throw new OtlpDecodeError(`${message}.${field} has wire type ${wireType}, expected ${expected}, before byte ${this.pos}`);
    }
  }

  /** Decodes `length` bytes at `start` as UTF-8, keeping at most `maxBytes` (cut at a character boundary). */
  utf8(start: number, length: number, maxBytes: number): string {
    let end = start + length;
    if (length > maxBytes) {
      end = start + maxBytes;
      // Back off continuation bytes (10xxxxxx) so a multi-byte character is not split.
      while (end > start && ((this.bytes[end] ?? 0) & 0xc0) === 0x80) end--;
    }
    return HAS_UTF8_SLICE ? (this.buffer as SliceableBuffer).utf8Slice(start, end) : this.buffer.toString("utf8", start, end);
  }

  private need(n: number): void {
    if (this.limit - this.pos < n) throw new OtlpDecodeError(`truncated ${n}-byte field at byte ${this.pos}`);
  }
}

const KEY_CACHE_SLOTS = 256; // power of two
const KEY_CACHE_MAX_BYTES = 128;

/**
 * Remembers the string and filter verdict of each attribute key seen in one body, keyed by its bytes:
 * OTLP repeats the same dozen keys on every span, so this saves a UTF-8 decode and a filter call per
 * attribute. One instance per decode call (the filter may differ between calls).
 */
export class KeyCache {
  private readonly keyViews: (DataView | undefined)[] = new Array<DataView | undefined>(KEY_CACHE_SLOTS).fill(undefined);
  private readonly keys: string[] = new Array<string>(KEY_CACHE_SLOTS).fill("");
  private readonly verdicts: boolean[] = new Array<boolean>(KEY_CACHE_SLOTS).fill(false);

  constructor(
    private readonly reader: WireReader,
    private readonly filter: AttributeFilter,
  ) {}

  /** The key in `length` bytes at `start` when the filter keeps it, else undefined. */
  keptKey(start: number, length: number): string | undefined {
    const bytes = this.reader.bytes;
    if (length > KEY_CACHE_MAX_BYTES) {
      const key = this.reader.utf8(start, length, length);
      return this.filter(key) ? key : undefined;
    }
    // Hash a sample of the key (length, first byte, last four bytes): keys sharing a prefix such as
    // "gen_ai.latency." differ at the end. The full comparison below makes collisions harmless.
    const last = start + length - 1;
    let hash = Math.imul(length, 0x9e3779b1) ^ (bytes[start] ?? 0);
    hash = Math.imul(hash ^ (bytes[last] ?? 0), 16777619);
    hash = Math.imul(hash ^ (bytes[last - 1] ?? 0), 16777619);
    hash = Math.imul(hash ^ (bytes[last - 2] ?? 0), 16777619);
    hash = Math.imul(hash ^ (bytes[last - 3] ?? 0), 16777619);
    const slot = (hash ^ (hash >>> 16)) & (KEY_CACHE_SLOTS - 1);
    const cached = this.keyViews[slot];
    if (cached !== undefined && cached.byteLength === length) {
      // Compare four bytes at a time; the last word overlaps the previous one when length % 4 != 0.
      const view = this.reader.view;
      let same = true;
      if (length >= 4) {
        for (let i = 0; i < length; i += 4) {
          const at = i + 4 <= length ? i : length - 4;
          if (cached.getUint32(at) !== view.getUint32(start + at)) {
            same = false;
            break;
          }
        }
      } else {
        for (let i = 0; i < length; i++) {
          if (cached.getUint8(i) !== bytes[start + i]) {
            same = false;
            break;
          }
        }
      }
      if (same) return this.verdicts[slot] === true ? this.keys[slot] : undefined;
    }
    const key = this.reader.utf8(start, length, length);
    const kept = this.filter(key);
    const copy = new Uint8Array(length); // a copy: Buffer#slice would return a view of the body
    copy.set(bytes.subarray(start, start + length));
    this.keyViews[slot] = new DataView(copy.buffer);
    this.keys[slot] = key;
    this.verdicts[slot] = kept;
    return kept ? key : undefined;
  }
}
