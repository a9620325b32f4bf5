/**
 * The spool under failing disk calls: node:fs/promises is wrapped so that writes can fail with
 * ENOSPC (partly written first, as a real disk-full write is), a directory fsync can fail, or the
 * segment files can be held to a small "disk" capacity. Every other call goes to the real filesystem.
 */
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import type * as FsPromises from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DiskSpool, type DiskFullEvent, type DiskSpoolOptions } from "../../../agent/exporters/spool/disk-spool.js";
import { drain } from "./spool-drain.js";

const faults = vi.hoisted(() => ({
  /** Writes put half their bytes down, then fail with ENOSPC. */
  failWrites: false,
  /** fsync of a directory handle fails with EIO. */
  failDirSync: false,
  /** The most bytes the .seg files of a directory may hold together; a write past it fails with ENOSPC. */
  capacity: Number.POSITIVE_INFINITY,
  /** With a capacity: a write that only partly fits returns the bytes it wrote (as write(2) does), and only a write with no room fails. */
  shortWrites: false,
  /** Every handle opened, and whether it was closed. */
  opened: [] as { path: string; closed: boolean }[],
}));

vi.mock("node:fs/promises", async (importOriginal) => {
  const real = await importOriginal<typeof FsPromises>();
  const enospc = (): Error =>
    Object.assign(new Error("ENOSPC: no space left on device, write"), {
      code: "ENOSPC",
      errno: -28,
      syscall: "write",
    });
  const segmentBytesIn = async (dir: string): Promise<number> => {
    const names = (await real.readdir(dir)).filter((name) => name.endsWith(".seg"));
    return (await Promise.all(names.map((name) => real.stat(join(dir, name))))).reduce((sum, s) => sum + s.size, 0);
  };
  const open = async (...args: Parameters<typeof real.open>): Promise<Awaited<ReturnType<typeof real.open>>> => {
    const handle = await real.open(...args);
    const path = String(args[0]);
    const entry = { path, closed: false };
    faults.opened.push(entry);
    return new Proxy(handle, {
      get(target, prop) {
        if (prop === "close") {
          return async () => {
            entry.closed = true;
            return target.close();
          };
        }
        if (prop === "sync" && faults.failDirSync && !path.endsWith(".seg")) {
          return async () => {
            throw Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO", errno: -5, syscall: "fsync" });
          };
        }
        if (prop === "write" && path.endsWith(".seg")) {
          return async (buffer: Buffer, offset: number, length: number, position: number) => {
            let room = length;
            if (faults.failWrites) room = Math.floor(length / 2);
            if (Number.isFinite(faults.capacity)) {
              const size = (await target.stat()).size;
              const growth = Math.max(0, position + length - size);
              room = Math.min(
                room,
                length - growth + Math.max(0, faults.capacity - (await segmentBytesIn(dirname(path)))),
              );
            }
            if (room >= length) return target.write(buffer, offset, length, position);
            if (room > 0 && faults.shortWrites) return target.write(buffer, offset, room, position);
            if (room > 0) await target.write(buffer, offset, room, position);
            throw enospc();
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  };
  return { ...real, open, default: { ...real, open } };
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "inferwatch-spool-faults-"));
  Object.assign(faults, {
    failWrites: false,
    failDirSync: false,
    capacity: Number.POSITIVE_INFINITY,
    shortWrites: false,
    opened: [],
  });
});
afterEach(async () => {
  Object.assign(faults, {
    failWrites: false,
    failDirSync: false,
    capacity: Number.POSITIVE_INFINITY,
    shortWrites: false,
  });
  await rm(dir, { recursive: true, force: true });
});

const openSpool = (options: Partial<DiskSpoolOptions> = {}): Promise<DiskSpool> =>
  DiskSpool.open({ dir, maxBytes: 1024 * 1024, segmentBytes: 4096, fsync: "always", ...options });

async function segmentFiles(): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.endsWith(".seg")).sort();
}

describe("disk spool under disk faults", () => {
  it("a failed append (disk full) cuts its segment back and keeps it: no new segment per failure, the cause in the error", async () => {
    let spool = await openSpool();
    await spool.append(Buffer.from("r0"), 1);
    await spool.append(Buffer.from("r1"), 1);
    const [segment] = await segmentFiles();
    const goodSize = (await stat(join(dir, segment as string))).size;
    faults.failWrites = true;
    for (let i = 0; i < 10; i++)
      await expect(spool.append(Buffer.from(`lost-${i}-some-payload`), 1)).rejects.toThrow(/ENOSPC/);
    // A long outage leaves the one segment, holding exactly its good records.
    expect(await segmentFiles()).toEqual([segment]);
    expect((await stat(join(dir, segment as string))).size).toBe(goodSize);
    expect(spool.stats()).toMatchObject({ bytes: goodSize, pendingPoints: 2, appendedPoints: 2 });
    faults.failWrites = false;
    expect(await spool.append(Buffer.from("r2"), 1)).toBe(true);
    expect(await segmentFiles()).toEqual([segment]);
    await spool.close();
    spool = await openSpool();
    // Nothing torn was left behind, and nothing good was lost.
    expect(spool.stats()).toMatchObject({ corrupt: 0, pendingPoints: 3 });
    expect(await drain(spool)).toEqual(["r0", "r1", "r2"]);
    await spool.close();
  });

  it("a directory fsync that fails while a segment is started closes the segment's file and leaves no file behind", async () => {
    const spool = await openSpool();
    faults.failDirSync = true;
    await expect(spool.append(Buffer.from("r0"), 1)).rejects.toThrow(/EIO/);
    const segmentHandles = faults.opened.filter((entry) => entry.path.endsWith(".seg"));
    expect(segmentHandles.length).toBeGreaterThan(0);
    expect(segmentHandles.filter((entry) => !entry.closed)).toEqual([]);
    expect(await segmentFiles()).toEqual([]);
    expect(spool.stats()).toMatchObject({ bytes: 0, pendingPoints: 0 });
    faults.failDirSync = false;
    expect(await spool.append(Buffer.from("r1"), 1)).toBe(true);
    expect(await drain(spool)).toEqual(["r1"]);
    await spool.close();
  });

  it.each([
    ["a write past the room fails with ENOSPC", false],
    ["a write past the room is cut short, the next one fails with ENOSPC", true],
  ])(
    "on a full disk (%s), deletes the oldest closed segments, whole, to keep the newest, counts them apart and names ENOSPC",
    async (_name, shortWrites) => {
      // Room for three 4 KiB segments on the disk; the spool's own bound (1 MiB) is far away.
      Object.assign(faults, { capacity: 3 * 4096, shortWrites });
      const events: DiskFullEvent[] = [];
      const spool = await openSpool({ onDiskFull: (event) => events.push(event) });
      const names = Array.from({ length: 200 }, (_, i) => `r${String(i).padStart(3, "0")}-${"x".repeat(100)}`);
      for (const name of names) expect(await spool.append(Buffer.from(name), 1)).toBe(true);
      const stats = spool.stats();
      expect(stats.droppedDiskFullPoints).toBeGreaterThan(0);
      expect(stats.droppedPoints).toBe(0);
      expect(stats.appendedPoints).toBe(200);
      expect(stats.pendingPoints + stats.droppedDiskFullPoints).toBe(200);
      expect(events.length).toBeGreaterThan(0);
      expect(events.every((event) => event.code === "ENOSPC" && event.isWritten && event.droppedSegments >= 1)).toBe(
        true,
      );
      expect(events.reduce((sum, event) => sum + event.droppedPoints, 0)).toBe(stats.droppedDiskFullPoints);
      // What is left is the newest, in order, up to the last point appended.
      const left = await drain(spool);
      expect(left).toEqual(names.slice(200 - left.length));
      await spool.close();
    },
  );

  it("names ENOSPC when a record cut short cannot be written and nothing older is left to delete", async () => {
    Object.assign(faults, { capacity: 100, shortWrites: true });
    const events: DiskFullEvent[] = [];
    const spool = await openSpool({ onDiskFull: (event) => events.push(event) });
    await expect(spool.append(Buffer.alloc(500, 1), 1)).rejects.toThrow(/ENOSPC: no space left on device/);
    expect(events).toEqual([]);
    expect(spool.stats()).toMatchObject({ bytes: 0, pendingPoints: 0 });
    await spool.close();
  });

  it("on a disk with less room than one segment, acknowledged records give their space back: nothing is lost while the reader keeps up", async () => {
    faults.capacity = 200;
    let spool = await openSpool();
    for (let i = 0; i < 40; i++) {
      const name = `r${String(i).padStart(2, "0")}-padding-padding`;
      expect(await spool.append(Buffer.from(name), 1)).toBe(true);
      expect(await drain(spool)).toEqual([name]);
      expect(spool.stats().bytes).toBe(0);
    }
    expect(spool.stats()).toMatchObject({ appendedPoints: 40, pendingPoints: 0, droppedPoints: 0 });
    expect(await segmentFiles()).toEqual([]);
    await spool.close();
    // After a restart, what is appended is numbered past the saved cursor and replayed, never skipped.
    spool = await openSpool();
    expect(spool.stats().pendingPoints).toBe(0);
    await spool.append(Buffer.from("after"), 1);
    await spool.close();
    spool = await openSpool();
    expect(spool.stats().pendingPoints).toBe(1);
    expect(await drain(spool)).toEqual(["after"]);
    await spool.close();
  });
});
