/**
 * GPM through the NvmlReader against the fake library: activity that follows the scenario, two
 * alternating samples per GPU, one sample call per round, nothing faster than 100 ms, samples freed
 * on close, NO_PERMISSION counted and retried, a pre-Hopper GPU with no figures.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { NvmlReader } from "../../../agent/nvml/nvml-reader.js";
import { gpu, NO_GPM, RELOAD_WAIT_MS } from "../../fixtures/nvml-scenario.js";
import { byIndex, GPM_WAIT_MS, gpmStats, openSession, sleep } from "./nvml-test-session.js";

let reader: NvmlReader | undefined;

afterEach(() => {
  reader?.close();
  reader = undefined;
});

async function open(...args: Parameters<typeof openSession>) {
  const session = await openSession(...args);
  reader = session.reader;
  return session;
}

describe("GPM through the reader", () => {
  it("reports SM, tensor and DRAM activity that follow the scenario, from the second round on", async () => {
    const settings = {
      gpus: [gpu(0, { "gpm.sm_util": 35, "gpm.tensor_util": 12, "gpm.dram_util": 64 }), gpu(1, NO_GPM)],
    };
    const { reader, file } = await open(settings);
    const first = reader.sample();
    expect(byIndex(first.gpus, 0).gpm).toBeUndefined(); // one sample is no rate
    expect(byIndex(first.gpus, 0).isGpmSupported).toBe(true);
    await sleep(GPM_WAIT_MS);
    const second = byIndex(reader.sample().gpus, 0);
    expect(second.gpm).toMatchObject({
      sm: 35,
      tensor: 12,
      dram: 64,
      graphics: 45,
      smOccupancy: 20,
      fp16: 2,
      pcieTx: 100,
      pcieRx: 200,
      nvlinkTx: 300,
      nvlinkRx: 400,
    });
    expect(second.gpmSource).toBe("device");
    expect(second.utilizationGpuPercent).toBe(50); // the busy figure stays what it is

    await file.write({
      gpus: [gpu(0, { "gpm.sm_util": 80, "gpm.tensor_util": 70, "gpm.dram_util": 10 }), gpu(1, NO_GPM)],
    });
    await sleep(RELOAD_WAIT_MS);
    reader.sample(); // a window that straddles the change
    await sleep(GPM_WAIT_MS);
    expect(byIndex(reader.sample().gpus, 0).gpm).toMatchObject({ sm: 80, tensor: 70, dram: 10 });
  });

  it("gives a pre-Hopper GPU no figures and stops asking it", async () => {
    const { reader } = await open({ gpus: [gpu(0, { name: "NVIDIA A100-SXM4-80GB", ...NO_GPM })] });
    const first = reader.sample();
    await sleep(GPM_WAIT_MS);
    const second = byIndex(reader.sample().gpus, 0);
    expect(second.gpm).toBeUndefined();
    expect(second.isGpmSupported).toBe(false);
    expect(second.disabled).toContain("gpm");
    expect(first.newlyDisabled).toContainEqual({ uuid: second.uuid, field: "gpm", reason: "NOT_SUPPORTED" });
  });

  it("allocates two samples per GPU once, takes one sample per round, none within 100 ms, and frees them on close", async () => {
    const before = await gpmStats();
    const { reader } = await open({ gpus: [gpu(0), gpu(1), gpu(2, NO_GPM)] });
    reader.sample();
    const afterFirst = await gpmStats();
    expect(afterFirst.live - before.live).toBe(4); // two GPUs with GPM × two samples
    expect(afterFirst.gets - before.gets).toBe(2);
    const quick = reader.sample(); // well within 100 ms of the first
    expect((await gpmStats()).gets - before.gets).toBe(2);
    expect(byIndex(quick.gpus, 0).gpm).toBeUndefined();
    for (let round = 0; round < 3; round++) {
      await sleep(GPM_WAIT_MS);
      expect(byIndex(reader.sample().gpus, 1).gpm?.sm).toBe(31);
    }
    const afterRounds = await gpmStats();
    expect(afterRounds.gets - before.gets).toBe(2 + 3 * 2);
    expect(afterRounds.live - before.live).toBe(4);
    const reused = reader.sample(); // again within 100 ms: the last figures, no new sample
    expect(byIndex(reused.gpus, 1).gpm?.sm).toBe(31);
    expect((await gpmStats()).gets).toBe(afterRounds.gets);
    reader.close();
    expect((await gpmStats()).live).toBe(before.live);
  });

  it("counts NO_PERMISSION mid-run and keeps retrying, without disabling GPM", async () => {
    const { reader, file } = await open({ gpus: [gpu(0)] });
    reader.sample();
    await file.write({ gpus: [gpu(0, { gpm_no_permission: 1 })] });
    await sleep(RELOAD_WAIT_MS);
    const refused = reader.sample();
    await sleep(GPM_WAIT_MS);
    const refusedAgain = reader.sample();
    expect(byIndex(refusedAgain.gpus, 0)).toMatchObject({ gpmNoPermission: 2, disabled: [] });
    expect(byIndex(refusedAgain.gpus, 0).gpm).toBeUndefined();
    expect(refused.newlyDisabled).toEqual([]);
    expect(refused.errors.some((e) => e.includes("gpm: NO_PERMISSION"))).toBe(true);
    await file.write({ gpus: [gpu(0, { "gpm.sm_util": 55 })] });
    await sleep(RELOAD_WAIT_MS);
    reader.sample();
    await sleep(GPM_WAIT_MS);
    expect(byIndex(reader.sample().gpus, 0).gpm?.sm).toBe(55);
  });

  it("keeps a metric out when its own return code says NOT_SUPPORTED (NVLink rates on a PCIe GPU)", async () => {
    const { reader } = await open({ gpus: [gpu(0, { nvlink_count: 0 })] });
    reader.sample();
    await sleep(GPM_WAIT_MS);
    const reading = byIndex(reader.sample().gpus, 0).gpm;
    expect(reading).toMatchObject({ sm: 30, pcieTx: 100 });
    expect(reading?.nvlinkTx).toBeUndefined();
    expect(reading?.nvlinkRx).toBeUndefined();
  });

  it.each([12040, 12090, 13020])(
    "reads GPM from a driver whose header is CUDA %i's (NVML_GPM_METRIC_MAX 98, 210 or 333)",
    async (cuda) => {
      const { reader } = await open({ cuda_driver_version: cuda, gpus: [gpu(0)] });
      reader.sample();
      await sleep(GPM_WAIT_MS);
      expect(byIndex(reader.sample().gpus, 0).gpm?.sm).toBe(30);
    },
  );

  it("never touches GPM when it is switched off (--nvml-gpm false)", async () => {
    const before = await gpmStats();
    const { reader } = await open({ gpus: [gpu(0)] }, "full", { isGpmEnabled: false });
    reader.sample();
    await sleep(GPM_WAIT_MS);
    const g0 = byIndex(reader.sample().gpus, 0);
    expect(g0.gpm).toBeUndefined();
    expect(g0.disabled).toEqual([]);
    expect(await gpmStats()).toEqual(before);
  });

  it("starts afresh instead of averaging over a gap longer than five minutes", async () => {
    let clock = 1_000_000;
    const { reader } = await open({ gpus: [gpu(0)] }, "full", { now: () => clock });
    reader.sample();
    await sleep(GPM_WAIT_MS);
    clock += 1_000;
    expect(byIndex(reader.sample().gpus, 0).gpm?.sm).toBe(30);
    await sleep(GPM_WAIT_MS);
    clock += 10 * 60_000;
    expect(byIndex(reader.sample().gpus, 0).gpm).toBeUndefined(); // a new baseline
    await sleep(GPM_WAIT_MS);
    clock += 1_000;
    expect(byIndex(reader.sample().gpus, 0).gpm?.sm).toBe(30);
  });
});
