/**
 * A minimal protobuf wire-format writer (https://protobuf.dev/programming-guides/encoding/), the
 * counterpart of reader.ts, for the few messages the project encodes by hand (the OTLP receivers'
 * responses and google.rpc.Status). Varint and length-delimited fields only; no BigInt, so an
 * integer field holds a non-negative safe integer.
 */
import { WIRE_LEN, WIRE_VARINT } from "./reader.js";

/** Appends protobuf fields to a growing byte list (for small messages: a few dozen bytes). */
export class WireWriter {
  private readonly bytes: number[] = [];

  /** A non-negative integer below 2^53 as a varint (int32/int64 fields of non-negative values). */
  varintField(field: number, value: number): this {
    this.tag(field, WIRE_VARINT);
    this.varint(value);
    return this;
  }

  /** A length-delimited field: bytes, or an embedded message already written (`finish()`). */
  bytesField(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.varint(value.byteLength);
    for (const byte of value) this.bytes.push(byte);
    return this;
  }

  /** A string field, UTF-8 encoded. */
  stringField(field: number, value: string): this {
    return this.bytesField(field, Buffer.from(value, "utf8"));
  }

  /** The message written so far. */
  finish(): Buffer {
    return Buffer.from(this.bytes);
  }

  private tag(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  private varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`protobuf: cannot write ${value} as a varint`);
    let rest = value;
    while (rest >= 0x80) {
      this.bytes.push((rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    this.bytes.push(rest);
  }
}
