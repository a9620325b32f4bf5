/**
 * The GPU collector over the production sampling thread and the fake NVML library: a batch of rounds
 * is absorbed round by round (view() is each round's state while its consumer runs, XID events of
 * every round are counted), and a round is converted to samples only when someone looks at it.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../../common/log.js";
import { GpuCollector, noAttribution } from "../../../agent/collectors/gpu-collector.js";
import { WorkerNvmlClient } from "../../../agent/nvml/worker-nvml-client.js";
import { gpu, RELOAD_WAIT_MS, scenarioFile, type ScenarioSettings } from "../../fixtures/nvml-scenario.js";
import { buildFakeNvml, type FakeNvmlLibraries } from "../../setup/build-fake-nvml.js";

let libs: FakeNvmlLibraries;
let collector: GpuCollector | undefined;

beforeAll(async () => {
  libs = await buildFakeNvml();
});

afterEach(async () => {
  await collector?.shutdown();
  collector = undefined;
});

/** A collector on a fresh scenario, counting how often it asks for the pod attribution (once per conversion). */
async function collectorFor(settings: ScenarioSettings) {
  const file = await scenarioFile(settings);
  process.env["FAKE_NVML_SCENARIO"] = file.path;
  let conversions = 0;
  collector = new GpuCollector({
    client: new WorkerNvmlClient({
      library: libs.full,
      initTimeoutMs: 10_000,
      sampleTimeoutMs: 5_000,
      maxBackoffMs: 60_000,
    }),
    retryIntervalMs: 1_000,
    log: silentLogger(),
    attribution: () => {
      conversions++;
      return noAttribution();
    },
    pidLookup: () => undefined,
  });
  return { collector, file, conversions: () => conversions };
}

describe("GpuCollector batches", () => {
  it("absorbs a batch round by round: view() is each round's state while the round is handed over", async () => {
    const { collector: c } = await collectorFor({ gpus: [gpu(0), gpu(1)] });
    await c.collect();
    const seen: { sampledAtMs: number | undefined; utilization: (number | undefined)[]; errors: number }[] = [];
    await c.collectRounds(4, 100, (result) => {
      const view = c.view();
      seen.push({
        sampledAtMs: view.sampledAtMs,
        utilization: view.samples.map((s) => s.utilizationRatio),
        errors: result.errors.length,
      });
    });
    expect(seen).toHaveLength(4);
    const stamps = seen.map((s) => s.sampledAtMs ?? 0);
    // Round k is due k intervals after the batch's first (a late round does not push the others back);
    // due times are on the thread's monotonic clock, stamps in wall-clock milliseconds: 2 ms of rounding.
    expect(stamps.every((stamp, k) => stamp - (stamps[0] ?? 0) >= k * 100 - 2)).toBe(true);
    expect(seen.map((s) => [...s.utilization, s.errors])).toEqual(Array.from({ length: 4 }, () => [0.5, 0.51, 0]));
  });

  it("counts the XID events of every round of a batch, and converts only the rounds looked at", async () => {
    const settings = { gpus: [gpu(0), gpu(1)] };
    const { collector: c, file, conversions } = await collectorFor(settings);
    await c.collect();
    await file.write({
      ...settings,
      events: [
        [1, 1, 79],
        [2, 0, 48],
        [3, 1, 79],
      ],
    });
    await new Promise((resolve) => setTimeout(resolve, RELOAD_WAIT_MS));
    const before = conversions();
    let rounds = 0;
    await c.collectRounds(5, 100, () => {
      rounds++;
    });
    expect(rounds).toBe(5);
    // Nobody looked at the five rounds: none was converted. The view converts the last one.
    expect(conversions()).toBe(before);
    const view = c.view();
    expect(conversions()).toBe(before + 1);
    expect(view.xids.map((x) => [x.uuid.slice(0, 12), x.xid, x.count, x.index]).sort()).toEqual([
      ["GPU-00000000", 48, 1, "0"],
      ["GPU-00000001", 79, 2, "1"],
    ]);
    expect(view.samples.map((s) => s.isUp)).toEqual([true, true]);
  });
});
