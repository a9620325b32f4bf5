/**
 * The on-disk record format of the spool, pure: a 12-byte header — payload length (u32 LE), point
 * count (u32 LE), CRC-32 of the count and payload (u32 LE) — then the payload. A record whose header
 * or payload is cut short, or whose checksum does not match, ends the readable part of its segment:
 * that is how a torn final write (the process killed mid-write, or a power loss before fsync) is
 * detected and skipped.
 */
import { crc32 } from "node:zlib";

/** Bytes of a record header. */
export const HEADER_BYTES = 12;

/** Where one record lies in its segment. */
export interface RecordExtent {
  /** Offset of the header in the segment. */
  readonly offset: number;
  /** Header plus payload, bytes. */
  readonly size: number;
  readonly points: number;
}

/** What scanning a segment found: its good records, and the offset where the good part ends. */
export interface SegmentScan {
  readonly records: RecordExtent[];
  readonly goodBytes: number;
  /** True when bytes after `goodBytes` are not a whole, valid record (a torn or corrupt tail). */
  readonly isTorn: boolean;
}

function checksum(points: number, payload: Uint8Array): number {
  const count = Buffer.alloc(4);
  count.writeUInt32LE(points, 0);
  return crc32(payload, crc32(count));
}

/** One record: header and payload in one buffer, so that it is written with one write(). */
export function encodeRecord(payload: Uint8Array, points: number): Buffer {
  if (!Number.isInteger(points) || points < 0 || points > 0xffff_ffff)
    throw new RangeError(`spool: point count out of range: ${points}`);
  const record = Buffer.alloc(HEADER_BYTES + payload.length);
  record.writeUInt32LE(payload.length, 0);
  record.writeUInt32LE(points, 4);
  record.writeUInt32LE(checksum(points, payload), 8);
  record.set(payload, HEADER_BYTES);
  return record;
}

/** The payload of the record at `extent` in `segment` bytes (no checks: scanSegment made them). */
export function recordPayload(bytes: Buffer, extent: Pick<RecordExtent, "offset" | "size">): Buffer {
  return bytes.subarray(extent.offset + HEADER_BYTES, extent.offset + extent.size);
}

/** Scans a whole segment's bytes; stops at the first record that is cut short or fails its checksum. */
export function scanSegment(bytes: Buffer): SegmentScan {
  const records: RecordExtent[] = [];
  let offset = 0;
  while (offset + HEADER_BYTES <= bytes.length) {
    const length = bytes.readUInt32LE(offset);
    const points = bytes.readUInt32LE(offset + 4);
    const sum = bytes.readUInt32LE(offset + 8);
    const end = offset + HEADER_BYTES + length;
    if (end > bytes.length) break;
    if (checksum(points, bytes.subarray(offset + HEADER_BYTES, end)) !== sum) break;
    records.push({ offset, size: HEADER_BYTES + length, points });
    offset = end;
  }
  return { records, goodBytes: offset, isTorn: offset < bytes.length };
}
