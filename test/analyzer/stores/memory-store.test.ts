import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { counterIncrease } from "../../../analyzer/fleet/utilization.js";
import { MemoryStore, type MemoryStoreOptions } from "../../../analyzer/stores/memory-store.js";
import { waitFor } from "../../fixtures/wait.js";

const T0 = Date.UTC(2024, 0, 1);
const SMALL_TIERS = [
  { stepMs: 1_000, retentionMs: 10_000 },
  { stepMs: 10_000, retentionMs: 1_000_000 },
];

/** A counter sampled every `everyMs` from T0, growing by `perSample` (or by the function's value). */
function counter(
  store: MemoryStore,
  labels: Record<string, string>,
  samples: number,
  everyMs: number,
  perSample: (i: number) => number = () => 1,
  name = "req_total",
): void {
  let value = 0;
  for (let i = 0; i < samples; i++) {
    value += i === 0 ? 0 : perSample(i);
    store.ingest(name, labels, value, T0 + i * everyMs);
  }
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "inferwatch-memstore-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("increase", () => {
  it("sums the per-series increase by the kept labels, as sum by (…) (increase(…)) does", async () => {
    const store = new MemoryStore();
    counter(store, { model: "a", status: "ok" }, 61, 60_000, () => 2);
    counter(store, { model: "a", status: "error" }, 61, 60_000, () => 1);
    counter(store, { model: "b", status: "ok" }, 61, 60_000, () => 5);
    const atMs = T0 + 60 * 60_000;
    expect(await store.increase({ metric: "req_total", windowMs: 3_600_000, atMs, by: ["model"] })).toEqual([
      { labels: { model: "a" }, value: 180 },
      { labels: { model: "b" }, value: 300 },
    ]);
    expect(
      await store.increase({ metric: "req_total", windowMs: 3_600_000, atMs, by: [], match: { status: "ok" } }),
    ).toEqual([{ labels: {}, value: 420 }]);
    expect(
      await store.increase({ metric: "req_total", windowMs: 3_600_000, atMs, by: ["model"], match: { model: "c" } }),
    ).toEqual([]);
    expect(store.queryCount).toBe(3);
  });

  it("gives counterIncrease's answer for a reset and an unaligned window (extrapolation included)", async () => {
    const store = new MemoryStore({ windowStart: "exclusive" });
    const values = [5, 9, 14, 2, 6, 11, 15];
    values.forEach((value, i) => store.ingest("req_total", {}, value, T0 + 7_000 + i * 15_000));
    const atMs = T0 + 100_000;
    const windowMs = 80_000;
    const expected = counterIncrease(
      values.map((value, i) => ({ atMs: T0 + 7_000 + i * 15_000, value })),
      { startMs: atMs - windowMs, endMs: atMs },
    );
    const [row] = await store.increase({ metric: "req_total", windowMs, atMs, by: [] });
    expect(row?.value).toBeCloseTo(expected?.increase as number, 12);
  });

  it.each([
    ["inclusive", "[t − w, t], as Prometheus 2.x: both edge samples, the exact difference", [{ labels: {}, value: 1 }]],
    ["exclusive", "(t − w, t], as Prometheus 3.x: one sample, no data", []],
  ] as const)("windowStart %s selects %s", async (windowStart, _what, expected) => {
    const store = new MemoryStore({ windowStart });
    counter(store, {}, 13, 300_000);
    expect(await store.increase({ metric: "req_total", windowMs: 300_000, atMs: T0 + 12 * 300_000, by: [] })).toEqual(
      expected,
    );
  });

  it("leaves out series with fewer than two samples in the window, and gives 0 for a flat counter", async () => {
    const store = new MemoryStore();
    store.ingest("req_total", { model: "once" }, 3, T0);
    counter(store, { model: "flat" }, 10, 10_000, () => 0);
    expect(await store.increase({ metric: "req_total", windowMs: 60_000, atMs: T0 + 90_000, by: ["model"] })).toEqual([
      { labels: { model: "flat" }, value: 0 },
    ]);
  });
});

describe("tiers", () => {
  it("answers from the finest tier that covers the window: 1 s points for the last 10 s, 10 s points before", async () => {
    const store = new MemoryStore({ tiers: SMALL_TIERS, stalenessMs: 3_000 });
    counter(store, {}, 121, 1_000);
    const endMs = T0 + 120_000;
    const recent = await store.range({ metric: "req_total", startMs: endMs - 5_000, endMs, stepMs: 1_000 });
    expect(recent[0]?.samples.map((s) => s.value)).toEqual([115, 116, 117, 118, 119, 120]);
    const older = await store.range({
      metric: "req_total",
      startMs: endMs - 40_000,
      endMs: endMs - 35_000,
      stepMs: 1_000,
    });
    // The fine tier no longer holds that span; the 10 s tier has the point at 80 s, fresh for 3 s.
    expect(older[0]?.samples).toEqual([0, 1, 2, 3].map((i) => ({ atMs: endMs - 40_000 + i * 1_000, value: 80 })));
  });

  it("keeps counters exact at the retained points, so a long window over the coarse tier is still exact", async () => {
    const store = new MemoryStore({ tiers: SMALL_TIERS });
    counter(store, {}, 601, 1_000, (i) => i % 7);
    const total = Array.from({ length: 601 }, (_, i) => (i === 0 ? 0 : i % 7));
    const atMs = T0 + 600_000;
    const expected = total.slice(301).reduce((a, b) => a + b, 0);
    expect(await store.increase({ metric: "req_total", windowMs: 300_000, atMs, by: [] })).toEqual([
      { labels: {}, value: expected },
    ]);
  });

  it("stays within its ring buffers however long it is fed", async () => {
    const store = new MemoryStore({ tiers: SMALL_TIERS });
    counter(store, {}, 20_000, 1_000);
    const atMs = T0 + 19_999_000;
    // The coarse tier keeps 1,000 s: a window longer than that only sees what is left.
    const [row] = await store.range({ metric: "req_total", startMs: atMs - 2_000_000, endMs: atMs, stepMs: 10_000 });
    expect(row?.samples.length).toBeLessThanOrEqual(102);
    expect(row?.samples[0]?.atMs).toBeGreaterThanOrEqual(atMs - 1_020_000);
  });
});

describe("latest and range", () => {
  it("returns the newest sample no older than the staleness window", async () => {
    const store = new MemoryStore({ stalenessMs: 300_000 });
    store.ingest("gpu_util_ratio", { gpu: "0" }, 0.5, T0);
    store.ingest("gpu_util_ratio", { gpu: "1" }, 0.7, T0 + 200_000);
    expect(await store.latest({ metric: "gpu_util_ratio", atMs: T0 + 300_000 })).toEqual([
      { labels: { gpu: "0" }, value: 0.5 },
      { labels: { gpu: "1" }, value: 0.7 },
    ]);
    expect(await store.latest({ metric: "gpu_util_ratio", atMs: T0 + 300_001 })).toEqual([
      { labels: { gpu: "1" }, value: 0.7 },
    ]);
    expect(await store.latest({ metric: "gpu_util_ratio", atMs: T0 - 1 })).toEqual([]);
  });

  it("steps a range from its start to its end, leaving out steps without a fresh sample", async () => {
    const store = new MemoryStore({ stalenessMs: 15_000 });
    for (const [t, v] of [
      [0, 1],
      [10_000, 2],
      [40_000, 3],
    ])
      store.ingest("g", {}, v as number, T0 + (t as number));
    const [row] = await store.range({ metric: "g", startMs: T0, endMs: T0 + 40_000, stepMs: 10_000 });
    expect(row?.samples).toEqual([
      { atMs: T0, value: 1 },
      { atMs: T0 + 10_000, value: 2 },
      { atMs: T0 + 20_000, value: 2 },
      { atMs: T0 + 40_000, value: 3 },
    ]);
  });
});

describe("bounds", () => {
  it("refuses new series past maxSeries and counts them, while known series go on", () => {
    const store = new MemoryStore({ maxSeries: 2 });
    expect(store.ingest("a", { x: "1" }, 1, T0)).toBe("stored");
    expect(store.ingest("a", { x: "2" }, 1, T0)).toBe("stored");
    expect(store.ingest("a", { x: "3" }, 1, T0)).toBe("series-limit");
    expect(store.ingest("b", {}, 1, T0)).toBe("series-limit");
    expect(store.ingest("a", { x: "1" }, 2, T0 + 1)).toBe("stored");
    expect(store.seriesAppender("c", {})).toBeNull();
    expect(store.stats()).toEqual({ series: 2, samplesStored: 3, refusedSeriesLimit: 3, refusedOutOfOrder: 0 });
  });

  it("refuses samples that are not newer than their series' newest and counts them", () => {
    const store = new MemoryStore();
    store.ingest("a", {}, 1, T0 + 10);
    expect(store.ingest("a", {}, 2, T0 + 10)).toBe("out-of-order");
    expect(store.ingest("a", {}, 2, T0 + 5)).toBe("out-of-order");
    expect(store.stats().refusedOutOfOrder).toBe(2);
  });

  it("treats label order as irrelevant to a series' identity", () => {
    const store = new MemoryStore({ maxSeries: 1 });
    store.ingest("a", { x: "1", y: "2" }, 1, T0);
    expect(store.ingest("a", { y: "2", x: "1" }, 2, T0 + 1)).toBe("stored");
  });

  it.each<[string, MemoryStoreOptions]>([
    ["tiers coarsest first", { tiers: [...SMALL_TIERS].reverse() }],
    ["a retention shorter than its step", { tiers: [{ stepMs: 10_000, retentionMs: 1_000 }] }],
    ["a zero series cap", { maxSeries: 0 }],
  ])("refuses options with %s", (_what, options) => {
    expect(() => new MemoryStore(options)).toThrow();
  });
});

describe("exposition", () => {
  it("stores a scraped /metrics with the extra labels, at the scrape time unless a line has its own", async () => {
    const store = new MemoryStore();
    const text = [
      "# HELP req_total Requests.",
      "# TYPE req_total counter",
      'req_total{model="a",status="ok"} 7',
      'req_total{model="b",status="ok"} 3 1704067100000',
      "",
    ].join("\n");
    expect(store.ingestExposition(text, T0, { instance: "node-1:9400" })).toBe(2);
    expect(await store.latest({ metric: "req_total", atMs: T0 })).toEqual([
      { labels: { instance: "node-1:9400", model: "a", status: "ok" }, value: 7 },
      { labels: { instance: "node-1:9400", model: "b", status: "ok" }, value: 3 },
    ]);
    expect(() => store.ingestExposition("req_total{model=a} 1\n", T0 + 1)).toThrow(/line 1/);
  });
});

describe("persistence", () => {
  async function answers(store: MemoryStore): Promise<unknown[]> {
    const atMs = T0 + 599_000;
    return Promise.all([
      store.increase({ metric: "req_total", windowMs: 5_000, atMs, by: ["model"] }),
      store.increase({ metric: "req_total", windowMs: 300_000, atMs, by: ["model"] }),
      store.range({ metric: "req_total", startMs: atMs - 600_000, endMs: atMs, stepMs: 7_000 }),
      store.latest({ metric: "req_total", atMs }),
    ]);
  }

  it("saves and loads back the same answers, atomically (no temporary file left)", async () => {
    const options = { tiers: SMALL_TIERS, stalenessMs: 1_000 };
    const store = new MemoryStore(options);
    counter(store, { model: "a" }, 600, 1_000, (i) => i % 5);
    counter(store, { model: 'quote"and\\slash\nnewline' }, 600, 1_000, () => 0.25);
    const path = join(dir, "store.bin");
    await writeFile(path, "an older file");
    await store.save(path);
    expect(await readdir(dir)).toEqual(["store.bin"]);
    const loaded = await MemoryStore.load(path, options);
    expect(loaded.state).toBe("loaded");
    expect(await answers(loaded.store)).toEqual(await answers(store));
    expect(loaded.store.stats().series).toBe(2);
    // The loaded store goes on ingesting where the saved one stopped, and keeps giving the same
    // answers: its tiers' pending samples are committed as they would have been.
    expect(loaded.store.ingest("req_total", { model: "a" }, 1e6, T0 + 599_000)).toBe("out-of-order");
    for (let i = 600; i <= 605; i++) {
      for (const target of [store, loaded.store]) target.ingest("req_total", { model: "a" }, 1e6 + i, T0 + i * 1_000);
    }
    const later = (target: MemoryStore) =>
      target.range({
        metric: "req_total",
        startMs: T0 + 597_000,
        endMs: T0 + 605_000,
        stepMs: 1_000,
        match: { model: "a" },
      });
    expect((await later(loaded.store))[0]?.samples).toHaveLength(9);
    expect(await later(loaded.store)).toEqual(await later(store));
  });

  it("rebuilds the tiers by replaying the samples when it is loaded with other tiers", async () => {
    const store = new MemoryStore({ tiers: SMALL_TIERS });
    counter(store, { model: "a" }, 600, 1_000);
    const path = join(dir, "store.bin");
    await store.save(path);
    const loaded = await MemoryStore.load(path, { tiers: [{ stepMs: 60_000, retentionMs: 3_600_000 }] });
    expect(loaded.state).toBe("loaded");
    const atMs = T0 + 540_000;
    expect(await loaded.store.increase({ metric: "req_total", windowMs: 300_000, atMs, by: [] })).toEqual([
      { labels: {}, value: 300 },
    ]);
  });

  it("starts empty without error when there is no file yet", async () => {
    const loaded = await MemoryStore.load(join(dir, "none.bin"));
    expect(loaded.state).toBe("missing");
    expect(loaded.store.stats().series).toBe(0);
  });

  it.each<[string, () => Buffer]>([
    ["random bytes", () => Buffer.from("definitely not a store file")],
    ["a truncated file", () => Buffer.alloc(0)],
    ["another format", () => gzipSync(Buffer.from('{"format":"something-else","version":1}\n'))],
    [
      "a record claiming more points than it has",
      () =>
        gzipSync(
          Buffer.from(
            `${JSON.stringify({ format: "inferwatch-memory-store", version: 1, tiers: SMALL_TIERS, series: 1 })}\n${JSON.stringify(
              {
                name: "a",
                labels: {},
                lastAtMs: 1,
                tiers: [
                  { points: 5, hasPending: true, droppedThroughMs: null },
                  { points: 0, hasPending: false, droppedThroughMs: null },
                ],
              },
            )}\n`,
          ),
        ),
    ],
  ])("a corrupt file (%s) gives an empty store and a clear error, not a crash", async (_what, bytes) => {
    const path = join(dir, "store.bin");
    await writeFile(path, bytes());
    const loaded = await MemoryStore.load(path, { tiers: SMALL_TIERS });
    expect(loaded.state).toBe("corrupt");
    expect(loaded.state === "corrupt" && loaded.error.message).toMatch(
      new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is not a readable store file`),
    );
    expect(loaded.store.stats().series).toBe(0);
  });

  it("a damaged byte inside a valid file is caught", async () => {
    const store = new MemoryStore({ tiers: SMALL_TIERS });
    counter(store, { model: "a" }, 100, 1_000);
    const path = join(dir, "store.bin");
    await store.save(path);
    const bytes = await readFile(path);
    const middle = Math.floor(bytes.length / 2);
    bytes.writeUInt8(bytes.readUInt8(middle) ^ 0xff, middle);
    await writeFile(path, bytes);
    expect((await MemoryStore.load(path, { tiers: SMALL_TIERS })).state).toBe("corrupt");
  });

  it("persists on a timer, reports failed saves without throwing, and flushes on stop", async () => {
    const store = new MemoryStore();
    counter(store, { model: "a" }, 10, 1_000);
    const path = join(dir, "store.bin");
    const persister = store.startPersisting(path, 20);
    await waitFor(() => existsSync(path), 2_000);
    store.ingest("req_total", { model: "late" }, 1, T0);
    await persister.stop({ flush: true });
    await persister.stop();
    expect((await MemoryStore.load(path)).store.stats().series).toBe(2);

    const errors: Error[] = [];
    const failing = store.startPersisting(join(dir, "missing-dir", "store.bin"), 10, (err) => errors.push(err));
    await waitFor(() => errors.length >= 2, 2_000);
    await failing.stop();
    expect(errors[0]?.message).toMatch(/memory store: saving to .*missing-dir/);
  });
});
