/**
 * The attribute-key cache of the OTLP protobuf decoder (the wire reader itself is shared, in
 * common/protobuf/reader.ts).
 */
import type { WireReader } from "../../common/protobuf/reader.js";
import type { AttributeFilter } from "./otlp-model.js";

const KEY_CACHE_SLOTS = 256; // power of two
const KEY_CACHE_MAX_BYTES = 128;

/**
 * Remembers the string and filter verdict of each attribute key seen in one body, keyed by its bytes:
 * OTLP repeats the same dozen keys on every span, so this saves a UTF-8 decode and a filter call per
 * attribute. One instance per decode call (the filter may differ between calls).
 */
export class KeyCache {
  private readonly keyViews: (DataView | undefined)[] = new Array<DataView | undefined>(KEY_CACHE_SLOTS).fill(
    undefined,
  );
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
