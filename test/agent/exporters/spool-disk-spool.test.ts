import { appendFile, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DiskSpool, type DiskSpoolOptions } from "../../../agent/exporters/spool/disk-spool.js";
import { encodeRecord, HEADER_BYTES } from "../../../agent/exporters/spool/spool-format.js";
import { drain } from "./spool-drain.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "inferwatch-spool-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A record whose payload names it, `points` points. */
const payload = (name: string): Buffer => Buffer.from(name);

async function openSpool(options: Partial<DiskSpoolOptions> = {}): Promise<DiskSpool> {
  return DiskSpool.open({ dir, maxBytes: 1024 * 1024, fsync: "always", ...options });
}

async function segmentFiles(): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.endsWith(".seg")).sort();
}

describe("disk spool", () => {
  it("gives records back in append order, in batches of at most maxPoints points", async () => {
    const spool = await openSpool({ segmentBytes: 64 });
    for (let i = 0; i < 20; i++) expect(await spool.append(payload(`r${i}`), 3)).toBe(true);
    expect((await segmentFiles()).length).toBeGreaterThan(1);
    const first = await spool.peek(7);
    expect(first?.payloads.map(String)).toEqual(["r0", "r1"]);
    expect(first?.points).toBe(6);
    // Peeking again without a commit gives the same records.
    expect((await spool.peek(7))?.payloads.map(String)).toEqual(["r0", "r1"]);
    await spool.commit(first?.end ?? { seq: 0, index: 0 });
    expect(await drain(spool, 7)).toEqual(Array.from({ length: 18 }, (_, i) => `r${i + 2}`));
    expect(spool.stats().pendingPoints).toBe(0);
    await spool.close();
  });

  it("a batch always holds at least one record, even one larger than maxPoints", async () => {
    const spool = await openSpool();
    await spool.append(payload("big"), 500);
    const batch = await spool.peek(10);
    expect(batch?.payloads.map(String)).toEqual(["big"]);
    expect(batch?.points).toBe(500);
    await spool.close();
  });

  it("deletes segments once the reader has passed them", async () => {
    const spool = await openSpool({ segmentBytes: 64 });
    for (let i = 0; i < 20; i++) await spool.append(payload(`r${i}`), 1);
    const before = spool.stats().bytes;
    await drain(spool);
    expect(spool.stats().bytes).toBeLessThan(before);
    expect((await segmentFiles()).length).toBeLessThanOrEqual(1);
    await spool.close();
  });

  it("deletes the open segment too once all of it is acknowledged; what comes after is still replayed after a restart", async () => {
    let spool = await openSpool();
    for (let i = 0; i < 3; i++) await spool.append(payload(`r${i}`), 1);
    expect(await segmentFiles()).toHaveLength(1);
    expect(await drain(spool)).toEqual(["r0", "r1", "r2"]);
    expect(await segmentFiles()).toEqual([]);
    expect(spool.stats()).toMatchObject({ bytes: 0, pendingPoints: 0 });
    await spool.append(payload("r3"), 1);
    await spool.append(payload("r4"), 1);
    await spool.close();
    spool = await openSpool();
    expect(spool.stats().pendingPoints).toBe(2);
    expect(await drain(spool)).toEqual(["r3", "r4"]);
    await spool.close();
  });

  it("after a reopen, replays exactly the records not yet committed, in order", async () => {
    let spool = await openSpool({ segmentBytes: 64 });
    for (let i = 0; i < 10; i++) await spool.append(payload(`r${i}`), 2);
    const batch = await spool.peek(8);
    await spool.commit(batch?.end ?? { seq: 0, index: 0 });
    await spool.close();
    spool = await openSpool({ segmentBytes: 64 });
    expect(spool.stats().pendingPoints).toBe(12);
    await spool.append(payload("after"), 1);
    expect(await drain(spool)).toEqual(["r4", "r5", "r6", "r7", "r8", "r9", "after"]);
    await spool.close();
  });

  it("without its cursor file, replays every record still on disk (at least once, never fewer)", async () => {
    let spool = await openSpool();
    for (let i = 0; i < 4; i++) await spool.append(payload(`r${i}`), 1);
    const batch = await spool.peek(2);
    await spool.commit(batch?.end ?? { seq: 0, index: 0 });
    await spool.close();
    await unlink(join(dir, "cursor.json"));
    spool = await openSpool();
    expect(await drain(spool)).toEqual(["r0", "r1", "r2", "r3"]);
    await spool.close();
  });

  it("never holds more than maxBytes; past the bound it drops the oldest records and counts their points", async () => {
    const maxBytes = 400;
    const spool = await openSpool({ maxBytes, segmentBytes: 100 });
    const record = HEADER_BYTES + "r00".length;
    for (let i = 0; i < 50; i++) {
      await spool.append(payload(`r${String(i).padStart(2, "0")}`), 5);
      const onDisk = (await Promise.all((await segmentFiles()).map((f) => stat(join(dir, f))))).reduce(
        (sum, s) => sum + s.size,
        0,
      );
      expect(onDisk).toBeLessThanOrEqual(maxBytes);
      expect(spool.stats().bytes).toBe(onDisk);
    }
    const kept = await drain(spool);
    // The newest records survive, in order, with no gap among them.
    expect(kept.at(-1)).toBe("r49");
    const firstKept = Number(kept[0]?.slice(1));
    expect(kept).toEqual(
      Array.from({ length: 50 - firstKept }, (_, i) => `r${String(firstKept + i).padStart(2, "0")}`),
    );
    expect(kept.length * record).toBeGreaterThan(maxBytes / 2);
    expect(spool.stats().droppedPoints).toBe(5 * firstKept);
    expect(spool.stats().appendedPoints).toBe(250);
    await spool.close();
  });

  it("does not count records the reader already committed as dropped when their segment goes", async () => {
    const spool = await openSpool({ maxBytes: 200, segmentBytes: 60 });
    for (let i = 0; i < 30; i++) {
      await spool.append(payload(`r${i}`), 1);
      await drain(spool);
    }
    expect(spool.stats().droppedPoints).toBe(0);
    await spool.close();
  });

  it("refuses a record larger than the whole bound and counts its points", async () => {
    const spool = await openSpool({ maxBytes: 64 });
    expect(await spool.append(Buffer.alloc(100), 7)).toBe(false);
    expect(spool.stats()).toMatchObject({ droppedPoints: 7, pendingPoints: 0, bytes: 0 });
    await spool.close();
  });

  it.each([
    ["a header cut short", (record: Buffer) => record.subarray(0, 7)],
    ["a payload cut short", (record: Buffer) => record.subarray(0, record.length - 3)],
    [
      "a payload that fails its checksum",
      (record: Buffer) => Buffer.concat([record.subarray(0, record.length - 1), Buffer.from("!")]),
    ],
  ])(
    "a torn final record (%s) left by a crash is detected, skipped and cut off; appends go on after it",
    async (_name, tear) => {
      let spool = await openSpool();
      for (let i = 0; i < 3; i++) await spool.append(payload(`r${i}`), 1);
      await spool.close();
      const [segment] = await segmentFiles();
      const path = join(dir, segment as string);
      const goodSize = (await stat(path)).size;
      await appendFile(path, tear(encodeRecord(payload("torn"), 1)));
      spool = await openSpool();
      expect(spool.stats()).toMatchObject({ corrupt: 1, pendingPoints: 3, bytes: goodSize });
      expect((await stat(path)).size).toBe(goodSize);
      await spool.append(payload("next"), 1);
      expect(await drain(spool)).toEqual(["r0", "r1", "r2", "next"]);
      await spool.close();
    },
  );

  it("a corrupt record inside an older segment ends that segment's readable part; later segments are read", async () => {
    let spool = await openSpool({ segmentBytes: 40 });
    for (let i = 0; i < 6; i++) await spool.append(payload(`r${i}`), 1);
    await spool.close();
    const [first] = await segmentFiles();
    const path = join(dir, first as string);
    const bytes = await readFile(path);
    bytes[bytes.length - 1] = 0x21;
    await writeFile(path, bytes);
    spool = await openSpool({ segmentBytes: 40 });
    expect(spool.stats().corrupt).toBe(1);
    // Records are 14 bytes, so segments of 40 bytes hold two: the first segment's second record, r1, is the corrupt one.
    expect(await drain(spool)).toEqual(["r0", "r2", "r3", "r4", "r5"]);
    await spool.close();
  });

  it("matches a simple queue model under any interleaving of appends, reads and reopens", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(fc.constant("append" as const), fc.constant("read" as const), fc.constant("reopen" as const)),
          { maxLength: 40 },
        ),
        async (ops) => {
          const root = await mkdtemp(join(tmpdir(), "inferwatch-spool-model-"));
          const options = { dir: root, maxBytes: 1 << 20, segmentBytes: 50, fsync: "never" as const };
          let spool = await DiskSpool.open(options);
          const model: string[] = [];
          let next = 0;
          try {
            for (const op of ops) {
              if (op === "append") {
                const name = `p${next++}`;
                await spool.append(Buffer.from(name), 1);
                model.push(name);
              } else if (op === "read") {
                const batch = await spool.peek(2);
                expect(batch?.payloads.map(String) ?? []).toEqual(model.slice(0, 2));
                if (batch) await spool.commit(batch.end);
                model.splice(0, batch?.payloads.length ?? 0);
              } else {
                await spool.close();
                spool = await DiskSpool.open(options);
              }
              expect(spool.stats().pendingPoints).toBe(model.length);
            }
          } finally {
            await spool.close();
            await rm(root, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
