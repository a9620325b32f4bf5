/**
 * A durable, bounded, append-only spool of opaque records (batches of points), read back in the
 * order they were appended.
 *
 * Layout: `<dir>/<seq>.seg` segment files of CRC-framed records (spool-format.ts), written only at
 * their end, and `<dir>/cursor.json`, the first record not yet acknowledged by the reader. A segment
 * is deleted once the reader has passed it — the open one too, when the reader has acknowledged all of
 * it (the next append opens a new one). Records are never rewritten in place; a failed append cuts
 * its segment back to the last good record and keeps it open, so a disk-full outage adds no files.
 *
 * Durability (write-then-ack): append() resolves only after the record is written with one write()
 * and, with the default fsync policy "always", flushed with fdatasync() (a new segment's directory
 * entry is fsynced too). A process killed with SIGKILL after append() resolved loses nothing — the
 * kernel holds the written bytes even without fsync; fsync extends that to power loss and kernel
 * crashes. The cursor is written atomically (temporary file, rename) but not fsynced: a stale cursor
 * after a crash only makes the reader see records again, which the InfluxDB sink tolerates because
 * its points are idempotent (same series and timestamp overwrite).
 *
 * Bound: the segment files never hold more than `maxBytes` together. An append that would pass it
 * first deletes the oldest segments, whole, and counts their unacknowledged points as dropped; the
 * newest data is kept. A record larger than `maxBytes` is refused and counted.
 *
 * Full disk: the same policy, the newest kept. An append the disk refuses (ENOSPC, or EDQUOT on a
 * quota) deletes the oldest closed segment, whole, and tries again, until it is written or no
 * closed segment is left; the points deleted are counted apart (`droppedDiskFullPoints`) and
 * `onDiskFull` is told, with the error's code. The open segment is never deleted for room: it holds
 * the newest points but the one being appended. A write the kernel cuts short is carried on until
 * the kernel says why (a disk that fills mid-write answers a short write first, then ENOSPC).
 *
 * Torn writes: at open, every segment is scanned; a record cut short or failing its checksum ends
 * the segment's readable part (the newest segment is truncated there), and is counted in `corrupt`.
 */
import {
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  stat,
  truncate,
  unlink,
  writeFile,
  type FileHandle,
} from "node:fs/promises";
import { join } from "node:path";
import { encodeRecord, HEADER_BYTES, recordPayload, scanSegment, type RecordExtent } from "./spool-format.js";
import { KIB, MIB } from "../../../common/units.js";

/** Options of DiskSpool.open. */
export interface DiskSpoolOptions {
  readonly dir: string;
  /** The most bytes the segment files may hold together. */
  readonly maxBytes: number;
  /** Size at which a segment is closed and a new one started; default maxBytes ÷ 8 (4 KiB to 16 MiB). */
  readonly segmentBytes?: number;
  /** "always": fdatasync every append before it resolves (default); "never": leave it to the kernel. */
  readonly fsync?: "always" | "never";
  /** Told each time a full disk made the spool delete its oldest segments to write the newest points. */
  readonly onDiskFull?: (event: DiskFullEvent) => void;
}

/** What the spool did about a full disk. */
export interface DiskFullEvent {
  /** The error code the disk answered with: ENOSPC or EDQUOT. */
  readonly code: string;
  readonly dir: string;
  /** Segments deleted, oldest first, and the unacknowledged points they held. */
  readonly droppedSegments: number;
  readonly droppedPoints: number;
  /** Whether the record was written after all (false: no closed segment was left to delete). */
  readonly isWritten: boolean;
}

/** A reader position: segment and record index within it. */
export interface SpoolPosition {
  readonly seq: number;
  readonly index: number;
}

/** Records read from the cursor on, with the position just after the last one. */
export interface SpoolBatch {
  readonly payloads: readonly Buffer[];
  readonly points: number;
  readonly end: SpoolPosition;
}

/** The spool's own counters. */
export interface SpoolStats {
  /** Bytes the segment files hold. */
  readonly bytes: number;
  /** Points appended and not yet acknowledged. */
  readonly pendingPoints: number;
  /** Points appended since open. */
  readonly appendedPoints: number;
  /** Unacknowledged points deleted to keep the bound (or refused as larger than it), since open. */
  readonly droppedPoints: number;
  /** Unacknowledged points deleted to make room on a full disk, since open. */
  readonly droppedDiskFullPoints: number;
  /** Segments found at open with a torn or corrupt tail, whose bad bytes were skipped. */
  readonly corrupt: number;
}

interface Segment {
  readonly seq: number;
  readonly path: string;
  size: number;
  readonly records: RecordExtent[];
}

const SEGMENT = /^(\d{16})\.seg$/;
const CURSOR_FILE = "cursor.json";

/** An error's code and message (e.g. "ENOSPC: no space left on device, write"), for the thrown message. */
function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  return code !== undefined && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}

/** The code of a disk-full error (no space, or over a quota) behind `err`, else undefined. */
function diskFullCode(err: unknown): string | undefined {
  for (let at: unknown = err, depth = 0; at instanceof Error && depth < 4; at = at.cause, depth++) {
    const code = "code" in at ? at.code : undefined;
    if (code === "ENOSPC" || code === "EDQUOT") return code;
  }
  return undefined;
}

function segmentName(seq: number): string {
  return `${String(seq).padStart(16, "0")}.seg`;
}

/** See the module comment. One instance per directory; not safe for two processes at once. */
export class DiskSpool {
  private readonly segments: Segment[] = [];
  private cursor: SpoolPosition = { seq: 0, index: 0 };
  private active: { segment: Segment; file: FileHandle } | undefined;
  private nextSeq = 1;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly segmentBytes: number;
  private totals = {
    bytes: 0,
    pendingPoints: 0,
    appendedPoints: 0,
    droppedPoints: 0,
    droppedDiskFullPoints: 0,
    corrupt: 0,
  };
  private isClosed = false;

  private constructor(private readonly options: DiskSpoolOptions) {
    if (!(options.maxBytes > HEADER_BYTES))
      throw new RangeError(`spool: maxBytes must be more than ${HEADER_BYTES}, got ${options.maxBytes}`);
    this.segmentBytes = options.segmentBytes ?? Math.min(16 * MIB, Math.max(4 * KIB, Math.floor(options.maxBytes / 8)));
  }

  /** Opens (creating) the spool in `options.dir`, scanning what an earlier process left there. */
  static async open(options: DiskSpoolOptions): Promise<DiskSpool> {
    const spool = new DiskSpool(options);
    await spool.load();
    return spool;
  }

  stats(): SpoolStats {
    return { ...this.totals };
  }

  /**
   * Appends one record of `points` points; resolves once it is written (and fsynced under the
   * "always" policy). Returns false when the record alone is larger than the bound (it is counted
   * as dropped). Throws when the disk write fails; the record is then not in the spool.
   */
  append(payload: Uint8Array, points: number): Promise<boolean> {
    return this.locked(async () => {
      const record = encodeRecord(payload, points);
      if (record.length > this.options.maxBytes) {
        this.totals.droppedPoints += points;
        return false;
      }
      if (this.active && this.active.segment.size > 0 && this.active.segment.size + record.length > this.segmentBytes)
        await this.closeActive();
      while (this.totals.bytes + record.length > this.options.maxBytes && this.segments.length > 0)
        await this.dropOldest("bound");
      let freed: { segments: number; points: number; code: string } | undefined;
      for (;;) {
        try {
          await this.writeRecord(record, points);
          break;
        } catch (err) {
          const code = diskFullCode(err);
          const closed = this.segments[0];
          if (code === undefined || closed === undefined || closed === this.active?.segment) {
            if (freed !== undefined)
              this.options.onDiskFull?.({
                code: freed.code,
                dir: this.options.dir,
                droppedSegments: freed.segments,
                droppedPoints: freed.points,
                isWritten: false,
              });
            throw err;
          }
          // Keep the newest: make room by deleting the oldest closed segment, whole, and try again.
          freed ??= { segments: 0, points: 0, code };
          freed.segments++;
          freed.points += await this.dropOldest("disk-full");
        }
      }
      if (freed !== undefined)
        this.options.onDiskFull?.({
          code: freed.code,
          dir: this.options.dir,
          droppedSegments: freed.segments,
          droppedPoints: freed.points,
          isWritten: true,
        });
      return true;
    });
  }

  /** Writes one encoded record at the end of the open segment (opening one when none is), fsynced by the policy. */
  private async writeRecord(record: Buffer, points: number): Promise<void> {
    const { segment, file } = this.active ?? (await this.openSegment());
    try {
      // A short write is carried on, so a disk that fills mid-record answers with its error (ENOSPC).
      for (let written = 0; written < record.length;) {
        const { bytesWritten } = await file.write(record, written, record.length - written, segment.size + written);
        if (bytesWritten === 0) throw new Error(`short write (${written} of ${record.length} bytes, then none)`);
        written += bytesWritten;
      }
      if (this.options.fsync !== "never") await file.datasync();
    } catch (err) {
      await this.undoPartialWrite(segment, file);
      throw new Error(`spool: cannot append to ${segment.path}: ${describeError(err)}`, { cause: err });
    }
    segment.records.push({ offset: segment.size, size: record.length, points });
    segment.size += record.length;
    this.totals.bytes += record.length;
    this.totals.pendingPoints += points;
    this.totals.appendedPoints += points;
  }

  /**
   * Records from the cursor on, in append order, up to `maxPoints` points (at least one record when
   * any is pending); null when nothing is pending. Reading does not move the cursor: commit() does.
   */
  peek(maxPoints: number): Promise<SpoolBatch | null> {
    return this.locked(async () => {
      const payloads: Buffer[] = [];
      let points = 0;
      let end: SpoolPosition | undefined;
      for (const segment of this.segments) {
        if (segment.seq < this.cursor.seq) continue;
        const from = segment.seq === this.cursor.seq ? this.cursor.index : 0;
        let to = from;
        while (
          to < segment.records.length &&
          (payloads.length + to - from === 0 || points + (segment.records[to] as RecordExtent).points <= maxPoints)
        ) {
          points += (segment.records[to] as RecordExtent).points;
          to++;
        }
        if (to === from) {
          if (from < segment.records.length) break;
          continue;
        }
        const first = segment.records[from] as RecordExtent;
        const last = segment.records[to - 1] as RecordExtent;
        const bytes = await this.readRange(segment, first.offset, last.offset + last.size - first.offset);
        for (let i = from; i < to; i++) {
          const extent = segment.records[i] as RecordExtent;
          payloads.push(recordPayload(bytes, { offset: extent.offset - first.offset, size: extent.size }));
        }
        end = { seq: segment.seq, index: to };
        if (to < segment.records.length) break;
      }
      return end === undefined ? null : { payloads, points, end };
    });
  }

  /**
   * Acknowledges every record before `position` (a batch's `end`): the cursor moves there, is saved,
   * and segments wholly before it are deleted. A position behind the cursor (its records were
   * dropped meanwhile) changes nothing.
   */
  commit(position: SpoolPosition): Promise<void> {
    return this.locked(async () => {
      if (position.seq < this.cursor.seq || (position.seq === this.cursor.seq && position.index <= this.cursor.index))
        return;
      for (const segment of this.segments) {
        if (segment.seq > position.seq) break;
        const from =
          segment.seq === this.cursor.seq
            ? this.cursor.index
            : segment.seq > this.cursor.seq
              ? 0
              : segment.records.length;
        const to = segment.seq === position.seq ? position.index : segment.records.length;
        for (let i = from; i < to; i++) this.totals.pendingPoints -= (segment.records[i] as RecordExtent).points;
      }
      this.cursor = position;
      while (this.segments.length > 0) {
        const oldest = this.segments[0] as Segment;
        const isPassed =
          oldest.seq < position.seq || (oldest.seq === position.seq && position.index >= oldest.records.length);
        if (!isPassed) break;
        // The open segment too, once all of it is acknowledged: its space goes back at once (on a disk
        // with less room than one segment it would otherwise fill the disk with acknowledged records).
        // The next append starts a new segment, numbered past the cursor, which is how it stays unread.
        if (this.active?.segment === oldest) await this.closeActive();
        await this.deleteOldest();
      }
      const tmp = join(this.options.dir, `${CURSOR_FILE}.tmp`);
      const offset = this.offsetOf(this.cursor);
      await writeFile(tmp, JSON.stringify({ seq: this.cursor.seq, offset }));
      await rename(tmp, join(this.options.dir, CURSOR_FILE));
    });
  }

  /** Closes the open segment; further calls fail. Idempotent. */
  close(): Promise<void> {
    return this.locked(async () => {
      this.isClosed = true;
      await this.closeActive();
    });
  }

  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (this.isClosed) throw new Error(`spool ${this.options.dir} is closed`);
      return fn();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private offsetOf(position: SpoolPosition): number {
    const segment = this.segments.find((s) => s.seq === position.seq);
    const record = segment?.records[position.index];
    return record ? record.offset : (segment?.size ?? 0);
  }

  private async readRange(segment: Segment, offset: number, length: number): Promise<Buffer> {
    const file = this.active?.segment === segment ? this.active.file : await open(segment.path, "r");
    try {
      const bytes = Buffer.alloc(length);
      const { bytesRead } = await file.read(bytes, 0, length, offset);
      if (bytesRead !== length) throw new Error(`spool: ${segment.path} ends before offset ${offset + length}`);
      return bytes;
    } finally {
      if (this.active?.file !== file) await file.close();
    }
  }

  /**
   * After a failed write the segment may end in part of the record: it is cut back to its last good
   * size and stays open, so that a disk-full outage reuses it rather than leaving a new empty segment
   * per failed append. Only when that cut fails too is the segment closed as it is (its torn tail is
   * detected and skipped at the next open, and the next append starts a new segment).
   */
  private async undoPartialWrite(segment: Segment, file: FileHandle): Promise<void> {
    try {
      await file.truncate(segment.size);
      return;
    } catch {
      const size = (await stat(segment.path).catch(() => ({ size: segment.size }))).size;
      this.totals.bytes += size - segment.size;
      segment.size = size;
      await this.closeActive().catch(() => undefined);
    }
  }

  private async openSegment(): Promise<{ segment: Segment; file: FileHandle }> {
    const seq = this.nextSeq++;
    const segment: Segment = { seq, path: join(this.options.dir, segmentName(seq)), size: 0, records: [] };
    const file = await open(segment.path, "wx+");
    if (this.options.fsync !== "never") {
      try {
        const dir = await open(this.options.dir, "r");
        await dir.sync().finally(() => dir.close());
      } catch (err) {
        // The new segment is not known durable: it is not used, its handle is closed and the (empty) file removed.
        await file.close().catch(() => undefined);
        await unlink(segment.path).catch(() => undefined);
        throw new Error(`spool: cannot sync the directory ${this.options.dir}: ${describeError(err)}`, { cause: err });
      }
    }
    this.segments.push(segment);
    this.active = { segment, file };
    return this.active;
  }

  private async closeActive(): Promise<void> {
    const active = this.active;
    this.active = undefined;
    await active?.file.close();
  }

  /** Deletes the oldest segment, counting its unacknowledged points as dropped for `why`; returns how many. */
  private async dropOldest(why: "bound" | "disk-full"): Promise<number> {
    const oldest = this.segments[0] as Segment;
    if (this.active?.segment === oldest) await this.closeActive();
    const from =
      oldest.seq < this.cursor.seq ? oldest.records.length : oldest.seq === this.cursor.seq ? this.cursor.index : 0;
    let unacknowledged = 0;
    for (let i = from; i < oldest.records.length; i++) unacknowledged += (oldest.records[i] as RecordExtent).points;
    if (why === "bound") this.totals.droppedPoints += unacknowledged;
    else this.totals.droppedDiskFullPoints += unacknowledged;
    this.totals.pendingPoints -= unacknowledged;
    await this.deleteOldest();
    if (this.cursor.seq <= oldest.seq) this.cursor = { seq: this.segments[0]?.seq ?? this.nextSeq, index: 0 };
    return unacknowledged;
  }

  private async deleteOldest(): Promise<void> {
    const oldest = this.segments.shift() as Segment;
    this.totals.bytes -= oldest.size;
    await unlink(oldest.path).catch((err: unknown) => {
      if (!(err instanceof Error && "code" in err && err.code === "ENOENT")) throw err;
    });
  }

  private async load(): Promise<void> {
    const dir = this.options.dir;
    await mkdir(dir, { recursive: true });
    const names = (await readdir(dir)).filter((name) => SEGMENT.test(name)).sort();
    for (const [i, name] of names.entries()) {
      const path = join(dir, name);
      const bytes = await readFile(path);
      const scan = scanSegment(bytes);
      if (scan.isTorn) {
        this.totals.corrupt++;
        // Only the newest segment can end in a write cut short; it is cut back to its last good record.
        if (i === names.length - 1) await truncate(path, scan.goodBytes);
      }
      const seq = Number(SEGMENT.exec(name)?.[1]);
      this.segments.push({
        seq,
        path,
        size: scan.isTorn && i === names.length - 1 ? scan.goodBytes : bytes.length,
        records: scan.records,
      });
      this.nextSeq = seq + 1;
    }
    this.totals.bytes = this.segments.reduce((sum, s) => sum + s.size, 0);
    this.cursor = await this.loadCursor();
    for (const segment of this.segments) {
      if (segment.seq < this.cursor.seq) continue;
      const from = segment.seq === this.cursor.seq ? this.cursor.index : 0;
      for (let i = from; i < segment.records.length; i++)
        this.totals.pendingPoints += (segment.records[i] as RecordExtent).points;
    }
  }

  /** The saved cursor mapped onto the scanned segments; the first record when it is missing or unreadable. */
  private async loadCursor(): Promise<SpoolPosition> {
    const first: SpoolPosition = { seq: this.segments[0]?.seq ?? this.nextSeq, index: 0 };
    let saved: { seq?: unknown; offset?: unknown };
    try {
      saved = JSON.parse(await readFile(join(this.options.dir, CURSOR_FILE), "utf8")) as {
        seq?: unknown;
        offset?: unknown;
      };
    } catch {
      return first;
    }
    if (typeof saved.seq !== "number" || typeof saved.offset !== "number") return first;
    const { seq, offset } = saved as { seq: number; offset: number };
    // New segments are numbered past the saved cursor even when a drain deleted every segment:
    // numbered below it (from 1 again), a later open would take them for acknowledged ones.
    if (Number.isSafeInteger(seq)) this.nextSeq = Math.max(this.nextSeq, seq + 1);
    const segment = this.segments.find((s) => s.seq >= seq);
    if (segment === undefined) return { seq: this.nextSeq, index: 0 };
    if (segment.seq > seq) return { seq: segment.seq, index: 0 };
    const index = segment.records.findIndex((record) => record.offset >= offset);
    return { seq, index: index < 0 ? segment.records.length : index };
  }
}
