/**
 * Helpers shared by the OTLP decoders. Ids: the protobuf decoder turns id bytes into lowercase hex,
 * the JSON decoder checks and lowercases the hex strings OTLP/JSON carries (case-insensitive hex,
 * not base64: https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding).
 */
import { OtlpDecodeError } from "./otlp-model.js";

/** Char codes of the two lowercase hex digits of every byte: entries 2b and 2b+1 belong to byte b. */
const HEX_DIGIT_CODES: Uint16Array = (() => {
  const digits = "0123456789abcdef";
  const codes = new Uint16Array(512);
  for (let byte = 0; byte < 256; byte++) {
    codes[2 * byte] = digits.charCodeAt(byte >> 4);
    codes[2 * byte + 1] = digits.charCodeAt(byte & 15);
  }
  return codes;
})();

/** Scratch char-code arrays, one per id length, reused across calls (the decoders are synchronous). */
const scratchByLength = new Map<number, number[]>();

/**
 * Lowercase hex of `length` bytes of `bytes` from `start`. Ids are 8 or 16 bytes; one
 * String.fromCharCode over a reused array is several times faster than concatenating pairs.
 */
export function bytesToHex(bytes: Uint8Array, start: number, length: number): string {
  if (length === 0) return "";
  let codes = scratchByLength.get(length);
  if (codes === undefined) {
    codes = new Array<number>(2 * length).fill(0);
    if (length <= 64) scratchByLength.set(length, codes);
  }
  for (let i = 0; i < length; i++) {
    const at = 2 * (bytes[start + i] ?? 0);
    codes[2 * i] = HEX_DIGIT_CODES[at] ?? 0;
    codes[2 * i + 1] = HEX_DIGIT_CODES[at + 1] ?? 0;
  }
  return String.fromCharCode.apply(null, codes);
}

/**
 * `text` in lowercase when it is exactly `chars` hex digits (either case), else undefined.
 * Already-lowercase ids, which is what SDKs send, come back as the same string without copying.
 */
export function normalizeHexId(text: string, chars: number): string | undefined {
  if (text.length !== chars) return undefined;
  let hasUpper = false;
  for (let i = 0; i < chars; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 48 && c <= 57) || (c >= 97 && c <= 102)) continue;
    if (c >= 65 && c <= 70) {
      hasUpper = true;
      continue;
    }
    return undefined;
  }
  return hasUpper ? text.toLowerCase() : text;
}

/** `text` cut to at most `maxBytes` of UTF-8, at a character boundary. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let size = c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
    let units = 1;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        size = 4;
        units = 2;
      }
    }
    if (bytes + size > maxBytes) return text.slice(0, i);
    bytes += size;
    i += units - 1;
  }
  return text;
}

/**
 * Turns the RangeError of a call stack overflow into an OtlpDecodeError, and returns any other error
 * unchanged. The decoders recurse once per level of AnyValue nesting, bounded by DecodeLimits.maxDepth;
 * this keeps a limit configured beyond what the stack holds (thousands of levels) a 400, not a crash.
 */
export function asStackOverflowDecodeError(error: unknown): unknown {
  if (error instanceof RangeError && error.message.includes("call stack")) {
    return new OtlpDecodeError("attribute values nested too deep to decode", { cause: error });
  }
  return error;
}
