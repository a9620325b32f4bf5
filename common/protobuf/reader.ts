/**
 * A minimal protobuf wire-format reader (https://protobuf.dev/programming-guides/encoding/) for the
 * project's hand-written decoders (OTLP traces, kubelet pod-resources), so the agent needs neither
 * protobufjs nor @grpc/proto-loader at run time. Every read is bounded by `limit`, the end of the
 * message being decoded, so a length that points past its parent, a truncated varint or an oversized
 * varint is a decode error naming the byte offset, never an out-of-bounds read. The error's class is
 * the caller's choice (ProtobufDecodeError unless given). No BigInt: 64-bit values come as two uint32
 * halves.
 */

/** Malformed protobuf input, as WireReader reports it unless given another error class. */
export class ProtobufDecodeError extends Error {}

/** The error class a WireReader throws on malformed input. */
export type DecodeErrorClass = new (message: string) => Error;

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

/** Cursor over one message's bytes. Not reentrant; one instance per decode call. */
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

  /** What malformed input throws. */
  private readonly errorClass: DecodeErrorClass;

  constructor(bytes: Uint8Array, errorClass: DecodeErrorClass = ProtobufDecodeError) {
    this.bytes = bytes;
    this.errorClass = errorClass;
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
      if (p >= this.limit) throw new this.errorClass(`truncated varint at byte ${start}`);
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
    throw new this.errorClass(`varint longer than 10 bytes at byte ${start}`);
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
    if (tag < 8 || tag > 0xffffffff) throw new this.errorClass(`invalid field number in tag at byte ${at}`);
    if (wireType === 3 || wireType === 4)
      throw new this.errorClass(`unsupported group (wire type ${wireType}) at byte ${at}`);
    if (wireType > 5) throw new this.errorClass(`invalid wire type ${wireType} at byte ${at}`);
    return tag;
  }

  /** Reads the length prefix of a length-delimited field and checks it fits in the current message. */
  length(): number {
    const at = this.pos;
    const length = this.varint();
    if (length > this.limit - this.pos) {
      throw new this.errorClass(`length ${length} at byte ${at} runs past the end of its message`);
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
        throw new this.errorClass(`invalid wire type ${wireType} before byte ${this.pos}`);
    }
  }

  /** Throws unless `wireType` is what the schema gives field `field` of `message`. */
  expect(wireType: number, expected: number, message: string, field: string): void {
    if (wireType !== expected) {
      throw new this.errorClass(
        `${message}.${field} has wire type ${wireType}, expected ${expected}, before byte ${this.pos}`,
      );
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
    return HAS_UTF8_SLICE
      ? (this.buffer as SliceableBuffer).utf8Slice(start, end)
      : this.buffer.toString("utf8", start, end);
  }

  private need(n: number): void {
    if (this.limit - this.pos < n) throw new this.errorClass(`truncated ${n}-byte field at byte ${this.pos}`);
  }
}
