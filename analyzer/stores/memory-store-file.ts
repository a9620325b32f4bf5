/**
 * The memory store's file: what it held, so that a restart keeps the history.
 *
 * Format (version 1), the whole file gzip-compressed (gzip's CRC-32 and length catch a torn or
 * damaged file):
 *
 *   {"format":"inferwatch-memory-store","version":1,"tiers":[{"stepMs":…,"retentionMs":…},…],"series":N}\n
 *   then N records, each
 *     {"name":…,"labels":{…},"lastAtMs":…|null,"tiers":[{"points":n,"hasPending":bool,"droppedThroughMs":…|null},…]}\n
 *     and for each tier in order: n float64 times (ms since the epoch), then n float64 values,
 *     little-endian; when hasPending, the last point is the tier's pending sample.
 *
 * Writing is atomic: a temporary file in the same directory, flushed to disk, renamed over the old one.
 */
import { randomUUID } from "node:crypto";
import { open, readFile, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { constants, gunzip, gzip } from "node:zlib";
import { z } from "zod";
import { Tier, TieredSeries, tierCapacity, type TierSpec } from "./tiered-series.js";

const FORMAT = "inferwatch-memory-store";
const VERSION = 1;
const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** The file exists but does not hold a readable store. */
export class CorruptSnapshotError extends Error {
  constructor(path: string, reason: string, options?: ErrorOptions) {
    super(`memory store: ${path} is not a readable store file (${reason}); starting without its history`, options);
    this.name = "CorruptSnapshotError";
  }
}

const headerSchema = z.strictObject({
  format: z.literal(FORMAT),
  version: z.literal(VERSION),
  tiers: z
    .array(z.strictObject({ stepMs: z.number().int().positive(), retentionMs: z.number().int().positive() }))
    .min(1),
  series: z.number().int().nonnegative(),
});

const recordSchema = z.strictObject({
  name: z.string().min(1),
  labels: z.record(z.string(), z.string()),
  lastAtMs: z.number().nullable(),
  tiers: z.array(
    z.strictObject({
      points: z.number().int().nonnegative(),
      hasPending: z.boolean(),
      droppedThroughMs: z.number().nullable(),
    }),
  ),
});

/** What a file held. */
export interface LoadedSnapshot {
  /** Whether the file's tiers are the ones asked for; when not, the caller replays the samples. */
  readonly hasSameTiers: boolean;
  /** Each series under the file's own tiers. */
  readonly series: readonly TieredSeries[];
}

function sameTiers(a: readonly TierSpec[], b: readonly TierSpec[]): boolean {
  return (
    a.length === b.length &&
    a.every((tier, i) => tier.stepMs === b[i]?.stepMs && tier.retentionMs === b[i]?.retentionMs)
  );
}

function encodeSeries(series: TieredSeries): Buffer[] {
  const record = {
    name: series.name,
    labels: series.labels,
    lastAtMs: Number.isFinite(series.lastAtMs) ? series.lastAtMs : null,
    tiers: series.tiers.map((tier) => ({
      points: tier.size,
      hasPending: tier.size > tier.ring.length,
      droppedThroughMs: Number.isFinite(tier.droppedThroughMs) ? tier.droppedThroughMs : null,
    })),
  };
  const chunks = [Buffer.from(`${JSON.stringify(record)}\n`, "utf8")];
  for (const tier of series.tiers) {
    const data = Buffer.allocUnsafe(tier.size * 16);
    for (let i = 0; i < tier.size; i++) {
      data.writeDoubleLE(tier.timeAt(i), i * 8);
      data.writeDoubleLE(tier.valueAt(i), (tier.size + i) * 8);
    }
    chunks.push(data);
  }
  return chunks;
}

/** Writes the series to `path` atomically (temporary file, fsync, rename). */
export async function saveSnapshotFile(
  path: string,
  tiers: readonly TierSpec[],
  series: readonly TieredSeries[],
): Promise<void> {
  const header = { format: FORMAT, version: VERSION, tiers, series: series.length };
  const chunks = [Buffer.from(`${JSON.stringify(header)}\n`, "utf8"), ...series.flatMap(encodeSeries)];
  const compressed = await gzipAsync(Buffer.concat(chunks), { level: constants.Z_BEST_SPEED });
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${randomUUID()}.tmp`);
  try {
    const file = await open(temporary, "w", 0o600);
    try {
      await file.writeFile(compressed);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  } catch (err) {
    await unlink(temporary).catch(() => {});
    throw new Error(`memory store: saving to ${path}`, { cause: err });
  }
}

/** Reads back one line of JSON at `offset`; returns it and the offset after the newline. */
function readLine(data: Buffer, offset: number): { json: unknown; next: number } {
  const end = data.indexOf(0x0a, offset);
  if (end < 0) throw new Error(`no record at byte ${offset}`);
  try {
    return { json: JSON.parse(data.toString("utf8", offset, end)), next: end + 1 };
  } catch (err) {
    throw new Error(`record at byte ${offset} is not JSON`, { cause: err });
  }
}

function decodeTier(
  spec: TierSpec,
  meta: z.infer<typeof recordSchema>["tiers"][number],
  data: Buffer,
  offset: number,
): Tier {
  const committed = meta.points - (meta.hasPending ? 1 : 0);
  if (committed < 0 || committed > tierCapacity(spec))
    throw new Error(`tier of ${spec.stepMs} ms claims ${meta.points} points`);
  if (offset + meta.points * 16 > data.length) throw new Error(`truncated at byte ${offset}`);
  const tier = new Tier(spec);
  let previous = -Infinity;
  for (let i = 0; i < meta.points; i++) {
    const atMs = data.readDoubleLE(offset + i * 8);
    const value = data.readDoubleLE(offset + (meta.points + i) * 8);
    if (!(atMs > previous) || !Number.isFinite(atMs)) throw new Error(`times out of order at byte ${offset + i * 8}`);
    previous = atMs;
    if (i < committed) tier.commit(atMs, value);
    else tier.restorePending(atMs, value);
  }
  tier.droppedThroughMs = meta.droppedThroughMs ?? -Infinity;
  return tier;
}

function decode(data: Buffer, wanted: readonly TierSpec[]): LoadedSnapshot {
  const head = readLine(data, 0);
  const header = headerSchema.parse(head.json);
  let offset = head.next;
  const series: TieredSeries[] = [];
  for (let s = 0; s < header.series; s++) {
    const line = readLine(data, offset);
    const record = recordSchema.parse(line.json);
    if (record.tiers.length !== header.tiers.length)
      throw new Error(`series ${record.name} has ${record.tiers.length} tiers, the file ${header.tiers.length}`);
    offset = line.next;
    const restored = new TieredSeries(record.name, Object.freeze({ ...record.labels }), header.tiers);
    record.tiers.forEach((meta, i) => {
      restored.tiers[i] = decodeTier(header.tiers[i] as TierSpec, meta, data, offset);
      offset += meta.points * 16;
    });
    const newest = restored.tiers.map((tier) => (tier.size > 0 ? tier.timeAt(tier.size - 1) : -Infinity));
    restored.lastAtMs = Math.max(record.lastAtMs ?? -Infinity, ...newest);
    series.push(restored);
  }
  if (offset !== data.length) throw new Error(`${data.length - offset} bytes after the last series`);
  return { hasSameTiers: sameTiers(header.tiers, wanted), series };
}

/**
 * The series saved in `path`; null when there is no such file. Throws CorruptSnapshotError when the
 * file cannot be read back (damaged, truncated, another format); other errors (permissions) as they are.
 */
export async function loadSnapshotFile(path: string, wanted: readonly TierSpec[]): Promise<LoadedSnapshot | null> {
  let compressed: Buffer;
  try {
    compressed = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new Error(`memory store: reading ${path}`, { cause: err });
  }
  let data: Buffer;
  try {
    data = await gunzipAsync(compressed);
  } catch (err) {
    throw new CorruptSnapshotError(path, `not gzip or damaged: ${(err as Error).message}`, { cause: err });
  }
  try {
    return decode(data, wanted);
  } catch (err) {
    const reason = err instanceof z.ZodError ? z.prettifyError(err).replace(/\n/g, "; ") : (err as Error).message;
    throw new CorruptSnapshotError(path, reason, { cause: err });
  }
}
