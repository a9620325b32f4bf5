/**
 * The sampling thread and its shared-memory hand-off (nvml-worker-protocol.ts), against the fake
 * NVML library: answers come back whole, a hung driver call costs a timeout and never a second
 * thread, and the thread is known to be free again as soon as the call returns — with no message.
 */
import { serialize } from "node:v8";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { NvmlTimeoutError } from "../../../agent/nvml/nvml-client.js";
import { PAYLOAD_BYTES, readAnswer, SLOT, STATUS, writeAnswer } from "../../../agent/nvml/nvml-worker-protocol.js";
import { WorkerNvmlClient } from "../../../agent/nvml/worker-nvml-client.js";
import { gpu, scenarioFile, type ScenarioSettings } from "../../fixtures/nvml-scenario.js";
import { waitFor } from "../../fixtures/wait.js";
import { buildFakeNvml, type FakeNvmlLibraries } from "../../setup/build-fake-nvml.js";
import { GIB } from "../../../common/units.js";

let libs: FakeNvmlLibraries;
let client: WorkerNvmlClient | undefined;

beforeAll(async () => {
  libs = await buildFakeNvml();
});

afterEach(async () => {
  await client?.close();
  client = undefined;
});

/** A client on a fresh scenario; the library reads FAKE_NVML_SCENARIO at nvmlInit, from the process environment. */
async function clientFor(
  settings: ScenarioSettings,
  timeouts: { init?: number; sample?: number } = {},
  isGpmEnabled?: boolean,
) {
  const file = await scenarioFile(settings);
  process.env["FAKE_NVML_SCENARIO"] = file.path;
  client = new WorkerNvmlClient({
    library: libs.full,
    initTimeoutMs: timeouts.init ?? 10_000,
    sampleTimeoutMs: timeouts.sample ?? 5_000,
    maxBackoffMs: 60_000,
    ...(isGpmEnabled === undefined ? {} : { isGpmEnabled }),
  });
  return { client, file };
}

describe("WorkerNvmlClient", () => {
  it("opens, samples and closes through the sampling thread, every field of every GPU intact", async () => {
    const { client: c } = await clientFor({ gpus: [gpu(0, { procs: [[4242, 8 * GIB]] }), gpu(1)] });
    const info = await c.open();
    expect(info).toMatchObject({ driverVersion: "550.54.15", deviceCount: 2, missingFunctions: [] });
    const first = await c.sample();
    const second = await c.sample();
    expect(second.takenAtMs).toBeGreaterThanOrEqual(first.takenAtMs);
    expect(second.gpus.map((g) => [g.index, g.uuid, g.isUp, g.utilizationGpuPercent, g.memoryTotalBytes])).toEqual([
      [0, "GPU-00000000-1111-2222-3333-444444444444", true, 50, 80 * GIB],
      [1, "GPU-00000001-1111-2222-3333-444444444444", true, 51, 80 * GIB],
    ]);
    expect(second.gpus[0]?.processes).toEqual([{ pid: 4242, usedMemoryBytes: 8 * GIB }]);
    expect(second.gpus[0]?.remappedRows).toEqual({
      correctable: 1,
      uncorrectable: 0,
      isPending: false,
      hasFailed: false,
    });
    expect(second.calls).toBeGreaterThan(20);
    await c.close();
    await c.close();
    await expect(c.sample()).rejects.toThrow(/not open/);
  });

  it("reads GPM on the sampling thread by default, and leaves it alone with isGpmEnabled false", async () => {
    const on = (await clientFor({ gpus: [gpu(0), gpu(1)] })).client;
    await on.open();
    await on.sample();
    // GPM figures need two samples at least 100 ms apart.
    await new Promise((resolve) => setTimeout(resolve, 150));
    const withGpm = await on.sample();
    expect(withGpm.gpus.map((g) => [g.isGpmSupported, g.gpm?.sm, g.gpm?.tensor])).toEqual([
      [true, 30, 10],
      [true, 31, 11],
    ]);
    await on.close();

    const off = (await clientFor({ gpus: [gpu(0), gpu(1)] }, {}, false)).client;
    await off.open();
    await off.sample();
    await new Promise((resolve) => setTimeout(resolve, 150));
    const withoutGpm = await off.sample();
    expect(withoutGpm.gpus.map((g) => [g.isGpmSupported, g.gpm])).toEqual([
      [undefined, undefined],
      [undefined, undefined],
    ]);
    // One nvmlGpmSampleGet and one nvmlGpmMetricsGet per GPU fewer.
    expect(withGpm.calls - withoutGpm.calls).toBe(2 * 2);
  });

  it("times out a hung nvmlInit, refuses calls while it runs without starting a second thread, and is free again when it returns", async () => {
    const settings = { gpus: [gpu(0)] };
    // The deadline covers starting the thread too: 2 s leaves room for that on a loaded machine, the driver hangs 5 s.
    const { client: c, file } = await clientFor({ ...settings, init_delay_ms: 5_000 }, { init: 2_000 });
    await expect(c.open()).rejects.toBeInstanceOf(NvmlTimeoutError);
    expect(c.hasStuckCall()).toBe(true);
    await expect(c.open()).rejects.toThrow(/a previous call is still running/);
    await expect(c.sample()).rejects.toBeInstanceOf(NvmlTimeoutError);
    // The driver answers late: nothing is sent back, the shared answer slot says so.
    await waitFor(() => !c.hasStuckCall(), 15_000);
    await file.write(settings);
    const info = await c.open();
    expect(info.deviceCount).toBe(1);
    expect((await c.sample()).gpus[0]?.utilizationGpuPercent).toBe(50);
  }, 30_000);

  it("takes a batch of rounds an interval apart on the sampling thread, the slow groups read in its first round only", async () => {
    const { client: c } = await clientFor({ gpus: [gpu(0), gpu(1)] });
    await c.open();
    await c.sample(); // the calls made once per GPU
    await new Promise((resolve) => setTimeout(resolve, 150));
    const rounds = await c.sampleRounds(4, 120);
    expect(rounds).toHaveLength(4);
    // Round k is due k intervals after the batch's first (a late round does not push the others back);
    // due times are on the thread's monotonic clock, takenAtMs in wall-clock milliseconds: 2 ms of rounding.
    const startedAt = rounds[0]?.takenAtMs ?? 0;
    expect(rounds.every((round, k) => round.takenAtMs - startedAt >= k * 120 - 2)).toBe(true);
    const [first, ...rest] = rounds;
    // MIG mode, power limit, ECC (2), remapped rows and four NvLink links: 9 calls per GPU in the first round only.
    expect(rest.map((round) => (first?.calls ?? 0) - round.calls)).toEqual([18, 18, 18]);
    for (const round of rest)
      expect(round.gpus.map((g) => [g.powerLimitMilliwatts, g.eccCorrected, g.remappedRows, g.nvlinkActive])).toEqual(
        first?.gpus.map((g) => [g.powerLimitMilliwatts, g.eccCorrected, g.remappedRows, g.nvlinkActive]),
      );
    expect(first?.gpus[1]?.powerLimitMilliwatts).toBe(700_000);
  });

  it("close() ends a batch in progress before its next round, with the rounds taken so far, and closes", async () => {
    const { client: c } = await clientFor({ gpus: [gpu(0)] });
    await c.open();
    const batch = c.sampleRounds(100, 100); // ten seconds of rounds
    await new Promise((resolve) => setTimeout(resolve, 350));
    await c.close();
    const rounds = await batch;
    expect(rounds.length).toBeGreaterThanOrEqual(1);
    expect(rounds.length).toBeLessThan(100);
    expect(rounds.every((round) => round.gpus[0]?.utilizationGpuPercent === 50)).toBe(true);
    expect(c.hasStuckCall()).toBe(false);
    await expect(c.sample()).rejects.toThrow(/not open/);
  });

  it("reports a library that cannot be loaded as an error, not a timeout, and can open again", async () => {
    const { client: c } = await clientFor({ gpus: [gpu(0)] });
    const broken = new WorkerNvmlClient({
      library: "/nonexistent/libnvidia-ml.so.1",
      initTimeoutMs: 10_000,
      sampleTimeoutMs: 5_000,
      maxBackoffMs: 60_000,
    });
    await expect(broken.open()).rejects.toThrow(/cannot load \/nonexistent\/libnvidia-ml\.so\.1/);
    expect(broken.hasStuckCall()).toBe(false);
    await broken.close();
    expect((await c.open()).deviceCount).toBe(1);
  });
});

describe("the hand-off's answer encoding", () => {
  const control = () => new Int32Array(new SharedArrayBuffer(32));

  it("an answer arrives as the sampling thread built it: NaN, infinities, undefined and null kept", () => {
    const slots = control();
    const payload = Buffer.from(new SharedArrayBuffer(1024));
    const body = { a: 1, b: null, c: undefined, d: [true, "x"], e: Number.NaN, f: Number.NEGATIVE_INFINITY };
    writeAnswer(slots, payload, STATUS.ok, body);
    const answer = readAnswer(slots, payload);
    expect(answer).toEqual({ isOk: true, body });
    expect(Object.keys(answer.body as object)).toEqual(["a", "b", "c", "d", "e", "f"]);
  });

  it("an answer larger than the buffer becomes an error answer that says so, cut to fit", () => {
    const slots = control();
    const payload = Buffer.from(new SharedArrayBuffer(128));
    const size = serialize({ big: "y".repeat(200) }).length;
    writeAnswer(slots, payload, STATUS.ok, { big: "y".repeat(200) });
    const reason = `nvml: answer of ${size} bytes exceeds the 128-byte hand-off buffer`;
    expect(readAnswer(slots, payload)).toEqual({ isOk: false, body: reason });
    const tiny = Buffer.from(new SharedArrayBuffer(24));
    writeAnswer(slots, tiny, STATUS.ok, { big: "y".repeat(200) });
    // Four bytes of header and length, then as many characters as the rest of the buffer holds.
    expect(readAnswer(slots, tiny)).toEqual({ isOk: false, body: `nvml: answer of ${size} bytes`.slice(0, 20) });
    expect(Atomics.load(slots, SLOT.length)).toBe(24);
  });

  it("a batch of rounds larger than the buffer keeps its newest rounds that fit, still a good answer", () => {
    const slots = control();
    const payload = Buffer.from(new SharedArrayBuffer(1024));
    const rounds = Array.from({ length: 8 }, (_, i) => ({ round: i, pad: "z".repeat(200) }));
    writeAnswer(slots, payload, STATUS.ok, rounds);
    const answer = readAnswer(slots, payload);
    expect(answer.isOk).toBe(true);
    expect(answer.body).toEqual(rounds.slice(4));
  });

  it("the production buffer holds a round of 16 GPUs with 100 processes each many times over", () => {
    const processes = Array.from({ length: 100 }, (_, i) => ({ pid: 100_000 + i, usedMemoryBytes: 80 * GIB }));
    const round = { gpus: Array.from({ length: 16 }, (_, i) => ({ ...gpu(i), processes })) };
    expect(serialize(round).length * 4).toBeLessThan(PAYLOAD_BYTES);
  });
});
