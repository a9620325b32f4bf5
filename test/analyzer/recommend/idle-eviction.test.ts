import { describe, expect, it } from "vitest";
import type { FleetReplica } from "../../../analyzer/fleet/snapshot.js";
import {
  describeDuration,
  idleEvictionConfigSchema,
  recommendIdleEvictions,
  type IdleEvictionConfigInput,
  type IdleSnapshot,
} from "../../../analyzer/recommend/idle-eviction.js";
import type { IdleHistory } from "../../../analyzer/recommend/idle-history.js";
import { runtimeMetadataSchema } from "../../../analyzer/fleet/runtime-metadata.js";
import { GIB, fleet, node, replica } from "../../fixtures/fleets.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Thursday 8 January 2026, 14:00 UTC. */
const NOW = Date.UTC(2026, 0, 8, 14, 0);

const config = (input: IdleEvictionConfigInput = {}) => idleEvictionConfigSchema.parse(input);

/** A replica on its own GPU of node-0 (8 GPUs), last used `idleMinutes` ago (null: never served). */
function idleReplica(
  id: string,
  gpu: number,
  idleMinutes: number | null,
  overrides: Partial<FleetReplica> = {},
): FleetReplica {
  return replica({
    id,
    gpus: [`GPU-node-0-${gpu}`],
    lastRequestAtMs: idleMinutes === null ? null : NOW - idleMinutes * MINUTE,
    ...overrides,
  });
}

function snapshotOf(replicas: readonly FleetReplica[], runtime?: IdleSnapshot["runtime"]): IdleSnapshot {
  const snapshot = fleet({
    nodes: [node({ name: "node-0" }), node({ name: "node-1" }), node({ name: "batch-0", type: "l40s" })],
    replicas,
  });
  return runtime === undefined ? snapshot : { ...snapshot, runtime };
}

describe("idle-eviction config", () => {
  it("defaults: latency 30 min, batch 10 min, other tiers 30 min, one warm replica, 3 of 7 days, adapters 7 days, weights 30 days", () => {
    expect(config()).toEqual({
      tierTtl: { latency: 30 * MINUTE, batch: 10 * MINUTE },
      defaultTtl: 30 * MINUTE,
      minWarmReplicas: 1,
      models: {},
      holdBack: { lookbackDays: 7, minDaysWithTraffic: 3 },
      adapterUnusedDays: 7,
      weightsNotLoadedDays: 30,
    });
  });

  it("merges given tiers over the defaults and reads duration strings", () => {
    const parsed = config({ tierTtl: { batch: "5m", burst: "90s" }, models: { "llama-70b": { ttl: "2h" } } });
    expect(parsed.tierTtl).toEqual({ latency: 30 * MINUTE, batch: 5 * MINUTE, burst: 90_000 });
    expect(parsed.models).toEqual({ "llama-70b": { ttl: 2 * HOUR } });
  });

  it.each([
    ["a TTL that is not a duration", { defaultTtl: "soon" }],
    ["a model override that is not a duration", { models: { m: { ttl: "-5m" } } }],
    ["more days with traffic than days looked at", { holdBack: { lookbackDays: 7, minDaysWithTraffic: 8 } }],
    ["a negative warm minimum", { minWarmReplicas: -1 }],
  ])("refuses %s", (_name, input) => {
    expect(idleEvictionConfigSchema.safeParse(input).success).toBe(false);
  });
});

describe("time-to-live", () => {
  const ttlConfig = config({ minWarmReplicas: 0, models: { special: { ttl: "2h" } } });
  it.each([
    ["a latency replica idle 31 min is evicted (TTL 30 min)", { tier: "latency" }, 31, true],
    ["a latency replica idle 29 min stays (TTL 30 min)", { tier: "latency" }, 29, false],
    ["a batch replica idle 11 min is evicted (TTL 10 min)", { tier: "batch" }, 11, true],
    ["a batch replica idle 9 min stays (TTL 10 min)", { tier: "batch" }, 9, false],
    ["a replica of an unconfigured tier idle 31 min is evicted (default TTL 30 min)", { tier: "default" }, 31, true],
    ["a replica of an unconfigured tier idle 29 min stays (default TTL 30 min)", { tier: "default" }, 29, false],
    [
      "model special idle 90 min stays under its 2 h override, though its batch tier says 10 min",
      { tier: "batch", model: "special" },
      90,
      false,
    ],
    ["model special idle 121 min is evicted under its 2 h override", { tier: "batch", model: "special" }, 121, true],
    [
      "a replica with requests in the recent window is active even when its last request looks old",
      { tier: "batch", requestRate: 0.2 },
      60,
      false,
    ],
    [
      "a replica that never served and whose start is unknown counts as idle past any TTL",
      { tier: "latency" },
      null,
      true,
    ],
  ] as const)("%s", (_name, overrides, idleMinutes, isEvicted) => {
    const result = recommendIdleEvictions(
      snapshotOf([idleReplica("r-0", 0, idleMinutes, overrides)]),
      null,
      ttlConfig,
      NOW,
    );
    expect(result.evictions.map((e) => e.replicaId)).toEqual(isEvicted ? ["r-0"] : []);
  });

  it("reports the TTL and the idle time it applied, with a sentence", () => {
    const result = recommendIdleEvictions(
      snapshotOf([idleReplica("r-0", 0, 130, { tier: "batch" })]),
      null,
      config({ minWarmReplicas: 0 }),
      NOW,
    );
    expect(result.evictions[0]).toMatchObject({
      replicaId: "r-0",
      ttlMs: 10 * MINUTE,
      idleMs: 130 * MINUTE,
      idleSinceMs: NOW - 130 * MINUTE,
      memoryBytes: 8 * GIB,
      pool: "latency",
    });
    expect(result.evictions[0]?.reason).toBe(
      "idle for 2h10m, past the batch tier's TTL of 10m; llama-2-7b-awq keeps 0 warm replicas",
    );
  });

  it.each([
    ["started 5 min ago without a request: not idle yet", 5, []],
    ["started 40 min ago without a request: idle for 40 min", 40, ["r-0"]],
  ])("a never-served replica whose start the runtime reports, %s", (_name, startedMinutesAgo, evicted) => {
    const runtime = runtimeMetadataSchema.parse({ replicaStartedAtMs: { "r-0": NOW - startedMinutesAgo * MINUTE } });
    const result = recommendIdleEvictions(
      snapshotOf([idleReplica("r-0", 0, null)], runtime),
      null,
      config({ minWarmReplicas: 0 }),
      NOW,
    );
    expect(result.evictions.map((e) => e.replicaId)).toEqual(evicted);
  });
});

describe("warm minimum and pinned replicas", () => {
  const fourIdle = [
    idleReplica("r-a", 0, 40),
    idleReplica("r-b", 1, 120),
    idleReplica("r-c", 2, 60),
    idleReplica("r-d", 3, null),
  ];
  it.each([
    [
      "one warm replica keeps the most recently used (r-a) and evicts the rest, never-served last",
      1,
      ["r-a"],
      ["r-c", "r-b", "r-d"],
    ],
    ["two warm replicas keep r-a and r-c", 2, ["r-a", "r-c"], ["r-b", "r-d"]],
    ["no warm minimum evicts all four", 0, [], ["r-a", "r-c", "r-b", "r-d"]],
    ["a warm minimum above the replica count keeps all four", 5, ["r-a", "r-c", "r-b", "r-d"], []],
  ])("%s", (_name, minWarmReplicas, kept, evicted) => {
    const result = recommendIdleEvictions(snapshotOf(fourIdle), null, config({ minWarmReplicas }), NOW);
    expect(result.kept.map((k) => [k.replicaId, k.keptBecause])).toEqual(kept.map((id) => [id, "min-warm"]));
    expect(result.evictions.map((e) => e.replicaId)).toEqual(evicted);
  });

  it("an active replica counts as warm, so its idle sibling goes", () => {
    const result = recommendIdleEvictions(
      snapshotOf([idleReplica("r-active", 0, 1, { requestRate: 2 }), idleReplica("r-idle", 1, 40)]),
      null,
      config(),
      NOW,
    );
    expect(result.evictions.map((e) => e.replicaId)).toEqual(["r-idle"]);
    expect(result.kept).toEqual([]);
  });

  it("a per-model warm minimum overrides the fleet's", () => {
    const result = recommendIdleEvictions(
      snapshotOf(fourIdle),
      null,
      config({ models: { "llama-2-7b-awq": { minWarmReplicas: 3 } } }),
      NOW,
    );
    expect(result.evictions.map((e) => e.replicaId)).toEqual(["r-d"]);
  });

  it("a pinned replica idle for 5 h is never evicted and counts as the warm one, so the recently used r-a goes", () => {
    const result = recommendIdleEvictions(
      snapshotOf([idleReplica("r-pinned", 0, 300, { isPinned: true }), idleReplica("r-a", 1, 40)]),
      null,
      config(),
      NOW,
    );
    expect(result.kept.map((k) => [k.replicaId, k.keptBecause])).toEqual([["r-pinned", "pinned"]]);
    expect(result.evictions.map((e) => e.replicaId)).toEqual(["r-a"]);
    expect(result.scaleToZero).toEqual([]);
  });

  it("a pinned replica stays even with no warm minimum, and its model is no scale-to-zero candidate", () => {
    const result = recommendIdleEvictions(
      snapshotOf([idleReplica("r-pinned", 0, 300, { isPinned: true })]),
      null,
      config({ minWarmReplicas: 0 }),
      NOW,
    );
    expect(result.evictions).toEqual([]);
    expect(result.kept[0]?.reason).toBe(
      "idle for 5h, past the latency tier's TTL of 30m; pinned replicas are never evicted (counts as warm)",
    );
    expect(result.scaleToZero).toEqual([]);
  });
});

describe("scale to zero and what it frees", () => {
  /**
   * node-0 GPU 0: idle-13b r-1 (idle 1 h, 14 GiB). GPU 1: idle-13b r-2 (idle 2 h, 14 GiB) shared with busy r-3.
   * node-1 GPUs 0–1: idle-70b r-4, tensor-parallel 2, 30 GiB each, idle 3 h. GPU 2: lone r-5 (idle 45 min) of
   * model mixed, whose other replica r-6 is active, shared with idle-7b r-7 (idle 50 min).
   */
  const replicas = [
    idleReplica("r-1", 0, 60, { model: "idle-13b", memoryPerGpuBytes: 14 * GIB }),
    idleReplica("r-2", 1, 120, { model: "idle-13b", memoryPerGpuBytes: 14 * GIB }),
    idleReplica("r-3", 1, 1, { model: "busy", requestRate: 4 }),
    replica({
      id: "r-4",
      model: "idle-70b",
      node: "node-1",
      gpus: ["GPU-node-1-0", "GPU-node-1-1"],
      memoryPerGpuBytes: 30 * GIB,
      lastRequestAtMs: NOW - 3 * HOUR,
    }),
    replica({ id: "r-5", model: "mixed", node: "node-1", gpus: ["GPU-node-1-2"], lastRequestAtMs: NOW - 45 * MINUTE }),
    replica({
      id: "r-6",
      model: "mixed",
      node: "node-1",
      gpus: ["GPU-node-1-3"],
      lastRequestAtMs: NOW - MINUTE,
      requestRate: 1,
    }),
    replica({
      id: "r-7",
      model: "idle-7b",
      node: "node-1",
      gpus: ["GPU-node-1-2"],
      lastRequestAtMs: NOW - 50 * MINUTE,
    }),
  ];
  const result = recommendIdleEvictions(snapshotOf(replicas), null, config(), NOW);

  it("evictions keep one warm replica per model: r-2 of idle-13b and r-5 of mixed go, the last replicas of idle-70b and idle-7b stay", () => {
    expect(result.evictions.map((e) => e.replicaId)).toEqual(["r-2", "r-5"]);
    expect(result.kept.map((k) => k.replicaId)).toEqual(["r-1", "r-4", "r-7"]);
  });

  it("every model idle everywhere is a candidate; a shared GPU is not freed while another model holds it", () => {
    expect(
      result.scaleToZero.map(({ model, replicaIds, memoryBytes, gpus, gpuUuids }) => ({
        model,
        replicaIds,
        memoryBytes,
        gpus,
        gpuUuids,
      })),
    ).toEqual([
      { model: "idle-13b", replicaIds: ["r-1", "r-2"], memoryBytes: 28 * GIB, gpus: 1, gpuUuids: ["GPU-node-0-0"] },
      {
        model: "idle-70b",
        replicaIds: ["r-4"],
        memoryBytes: 60 * GIB,
        gpus: 2,
        gpuUuids: ["GPU-node-1-0", "GPU-node-1-1"],
      },
      { model: "idle-7b", replicaIds: ["r-7"], memoryBytes: 8 * GIB, gpus: 0, gpuUuids: [] },
    ]);
    expect(result.scaleToZero[0]?.reason).toBe(
      "all 2 replicas idle past their TTL and no history to check: scaling to zero frees 28 GiB and 1 GPU",
    );
  });

  it("totals: evictions alone free no GPU (each is shared); with scale-to-zero, GPU-node-1-2 is freed because both its holders go", () => {
    expect(result.totals.evictions).toEqual({ replicas: 2, memoryBytes: 22 * GIB, gpus: 0, gpuUuids: [] });
    expect(result.totals.withScaleToZero).toEqual({
      replicas: 5,
      memoryBytes: (28 + 60 + 8 + 8) * GIB,
      gpus: 4,
      gpuUuids: ["GPU-node-0-0", "GPU-node-1-0", "GPU-node-1-1", "GPU-node-1-2"],
    });
  });

  it("gives the idle-replica figure of every pool, zero where nothing goes", () => {
    expect(result.pools).toEqual([
      { pool: "batch", idleReplicas: 0, memoryBytes: 0, gpus: 0 },
      { pool: "latency", idleReplicas: 5, memoryBytes: 104 * GIB, gpus: 4 },
    ]);
  });

  it("a model with requests in the history's last TTL is no candidate, though its replicas look idle", () => {
    const history: IdleHistory = {
      startMs: NOW - HOUR,
      bucketMs: 5 * MINUTE,
      requestsByModel: { "idle-70b": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0] },
    };
    const withHistory = recommendIdleEvictions(snapshotOf(replicas), history, config(), NOW);
    expect(withHistory.scaleToZero.map((c) => c.model)).toEqual(["idle-13b", "idle-7b"]);
  });

  it("a MIG device's holders count toward its GPU: the GPU is freed only when both MIG holders go", () => {
    const mig = (uuid: string) => ({ uuid, profile: "3g.40gb", memoryTotalBytes: 40 * GIB, memoryUsedBytes: 0 });
    const snapshot = fleet({
      nodes: [node({ name: "mig-0", gpus: [{ mig: [mig("MIG-a"), mig("MIG-b")] }] })],
      replicas: [
        replica({ id: "m-1", model: "small", node: "mig-0", gpus: ["MIG-a"], lastRequestAtMs: NOW - 2 * HOUR }),
        replica({
          id: "m-2",
          model: "other",
          node: "mig-0",
          gpus: ["MIG-b"],
          lastRequestAtMs: NOW - MINUTE,
          requestRate: 1,
        }),
      ],
    });
    const migResult = recommendIdleEvictions(snapshot, null, config(), NOW);
    expect(migResult.scaleToZero.map((c) => [c.model, c.gpus])).toEqual([["small", 0]]);
  });
});

/** Requests per 5-minute bucket over the 7 days before `nowMs`: 10 a bucket 09:00–12:00 UTC on the days `k` (1 = yesterday) listed. */
function dailyHistory(nowMs: number, daysWithTraffic: readonly number[]): IdleHistory {
  const bucketMs = 5 * MINUTE;
  const startMs = nowMs - 7 * DAY;
  const buckets = Array.from({ length: (7 * DAY) / bucketMs }, (_, i) => {
    const t = startMs + i * bucketMs;
    const hour = new Date(t).getUTCHours();
    const daysAgo = Math.ceil((nowMs - t) / DAY);
    return hour >= 9 && hour < 12 && daysWithTraffic.includes(daysAgo) ? 10 : 0;
  });
  return { startMs, bucketMs, requestsByModel: { chat: buckets } };
}

describe("hold-back by daily seasonality (traffic 09:00–12:00 UTC)", () => {
  const everyDay = [1, 2, 3, 4, 5, 6, 7];
  const at = (hh: number, mm: number) => Date.UTC(2026, 0, 8, hh, mm);
  /** chat: r-0 last used at 12:00 and r-1 at 11:00, yesterday or today, whichever is before `nowMs`. */
  const chat = (nowMs: number) => {
    const noon = at(12, 0) <= nowMs ? at(12, 0) : at(12, 0) - DAY;
    return [
      replica({ id: "r-0", model: "chat", gpus: ["GPU-node-0-0"], lastRequestAtMs: noon }),
      replica({ id: "r-1", model: "chat", gpus: ["GPU-node-0-1"], lastRequestAtMs: noon - HOUR }),
    ];
  };

  it("at 08:50 traffic returns within 30 min on 7 of the last 7 days: both replicas are held back and there is no scale-to-zero", () => {
    const now = at(8, 50);
    const result = recommendIdleEvictions(snapshotOf(chat(now)), dailyHistory(now, everyDay), config(), now);
    expect(result.evictions).toEqual([]);
    expect(result.scaleToZero).toEqual([]);
    expect(result.kept.map((k) => [k.replicaId, k.keptBecause, k.seasonality])).toEqual([
      ["r-0", "held-back", { daysWithTraffic: 7, lookbackDays: 7 }],
      ["r-1", "held-back", { daysWithTraffic: 7, lookbackDays: 7 }],
    ]);
    expect(result.kept[0]?.reason).toBe(
      "idle for 20h50m, past the latency tier's TTL of 30m; held back: traffic returned within 30m on 7 of the last 7 days at this time of day (08:50 UTC)",
    );
    expect(result.pools.find((p) => p.pool === "latency")?.idleReplicas).toBe(0);
  });

  it("at 14:00 no afternoon traffic ever came back: r-1 is evicted, r-0 stays warm and chat is a scale-to-zero candidate", () => {
    const now = at(14, 0);
    const result = recommendIdleEvictions(snapshotOf(chat(now)), dailyHistory(now, everyDay), config(), now);
    expect(result.evictions.map((e) => e.replicaId)).toEqual(["r-1"]);
    expect(result.kept.map((k) => [k.replicaId, k.keptBecause, k.seasonality])).toEqual([
      ["r-0", "min-warm", { daysWithTraffic: 0, lookbackDays: 7 }],
    ]);
    expect(result.scaleToZero.map((c) => [c.model, c.reason])).toEqual([
      [
        "chat",
        "all 2 replicas idle past their TTL and no request in the last 30m of history: scaling to zero frees 16 GiB and 2 GPUs",
      ],
    ]);
  });

  it.each([
    ["traffic on 2 of the last 7 days is below the 3-day threshold: r-1 is evicted", [2, 5], ["r-1"]],
    ["traffic on 3 of the last 7 days (weekly jobs) holds back", [1, 3, 6], []],
  ])("at 08:50, %s", (_name, days, evicted) => {
    const now = at(8, 50);
    const result = recommendIdleEvictions(snapshotOf(chat(now)), dailyHistory(now, days), config(), now);
    expect(result.evictions.map((e) => e.replicaId)).toEqual(evicted);
  });

  it("with a 2-day lookback, traffic on days 3 to 7 does not count: r-1 is evicted", () => {
    const now = at(8, 50);
    const result = recommendIdleEvictions(
      snapshotOf(chat(now)),
      dailyHistory(now, [3, 4, 5, 6, 7]),
      config({ holdBack: { lookbackDays: 2, minDaysWithTraffic: 1 } }),
      now,
    );
    expect(result.evictions.map((e) => e.replicaId)).toEqual(["r-1"]);
  });

  it("at 08:20 traffic at 09:00 is past the 30-minute window: not held back", () => {
    const now = at(8, 20);
    const result = recommendIdleEvictions(snapshotOf(chat(now)), dailyHistory(now, everyDay), config(), now);
    expect(result.evictions.map((e) => e.replicaId)).toEqual(["r-1"]);
  });
});

describe("LoRA adapters and weights", () => {
  const runtime = runtimeMetadataSchema.parse({
    adapters: [
      { name: "support-v2", model: "llama-2-7b-awq", lastUsedAtMs: NOW - 8 * DAY, loadedOn: ["r-0", "r-1"] },
      { name: "legal-v1", model: "llama-2-7b-awq", lastUsedAtMs: NOW - 10 * DAY },
      { name: "sales-v3", model: "llama-2-7b-awq", lastUsedAtMs: NOW - 2 * DAY, loadedOn: ["r-0"] },
      { name: "draft", model: "llama-2-7b-awq", lastUsedAtMs: null, createdAtMs: NOW - DAY },
      { name: "orphan", model: "mistral-7b", lastUsedAtMs: null },
    ],
    weights: [
      {
        name: "llama-2-70b-awq",
        model: "llama-2-70b-awq",
        path: "/models/llama-2-70b-awq",
        sizeBytes: 35 * GIB,
        lastLoadedAtMs: NOW - 40 * DAY,
      },
      { name: "llama-2-7b-awq", model: "llama-2-7b-awq", lastLoadedAtMs: NOW - 60 * DAY },
      { name: "mistral-7b", lastLoadedAtMs: NOW - 29 * DAY },
      { name: "scratch", lastLoadedAtMs: null },
    ],
  });
  const result = recommendIdleEvictions(
    snapshotOf([idleReplica("r-0", 0, 1, { requestRate: 1 })], runtime),
    null,
    config(),
    NOW,
  );

  it("adapters unused 7 days or more: consolidate where still loaded, archive where loaded nowhere or never used", () => {
    expect(result.adapters.map((a) => [a.adapter, a.action])).toEqual([
      ["legal-v1", "archive"],
      ["support-v2", "consolidate"],
      ["orphan", "archive"],
    ]);
    expect(result.adapters[1]?.reason).toBe(
      "unused for 8d (limit 7 days); unload it from 2 replicas and load it on demand",
    );
    expect(result.adapters[2]?.reason).toBe("never used (age unknown) (limit 7 days); loaded nowhere: archive it");
  });

  it("weights not loaded for 30 days or more and served by no replica go to cold storage; weights of a served model never do", () => {
    expect(result.coldStorage.map((c) => [c.weights, c.path, c.sizeBytes, c.notLoadedSinceMs])).toEqual([
      ["llama-2-70b-awq", "/models/llama-2-70b-awq", 35 * GIB, NOW - 40 * DAY],
      ["scratch", null, null, null],
    ]);
    expect(result.coldStorage[0]?.reason).toBe(
      "not loaded for 40d (limit 30 days) and no replica serves them: move to cold storage",
    );
  });
});

describe("describeDuration", () => {
  it.each([
    [0, "0s"],
    [45 * MINUTE, "45m"],
    [2 * HOUR + 10 * MINUTE, "2h10m"],
    [2 * HOUR, "2h"],
    [3 * DAY + 4 * HOUR + 5 * MINUTE, "3d4h"],
    [90_000, "1m30s"],
  ])("%i ms reads %s", (ms, expected) => {
    expect(describeDuration(ms)).toBe(expected);
  });
});
