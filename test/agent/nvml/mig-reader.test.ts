/**
 * A MIG-enabled GPU through the NvmlReader, as a real driver answers an unprivileged process (the
 * fake's default): no device utilization or remapped rows, parent memory and processes refused (so
 * read through the MIG devices), GPM per GPU instance; and every field back once MIG is turned off.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { NvmlReader } from "../../../agent/nvml/nvml-reader.js";
import { gpu, RELOAD_WAIT_MS, type GpuSettings } from "../../fixtures/nvml-scenario.js";
import { byIndex, GPM_WAIT_MS, openSession, sleep } from "./nvml-test-session.js";
import { GIB } from "../../../common/units.js";

let reader: NvmlReader | undefined;

afterEach(() => {
  reader?.close();
  reader = undefined;
});

/** An H100 split into a 3g and a 4g instance, one process on each. */
const MIG: GpuSettings = {
  mig_mode: 1,
  migs: [
    [1, 0, "3g.40gb", 40 * GIB, 4 * GIB],
    [2, 0, "4g.40gb", 40 * GIB, 10 * GIB],
  ],
  mig_gpm: [
    [1, "sm_util", 70],
    [2, "sm_util", 10],
    [1, "tensor_util", 50],
    [2, "tensor_util", 0],
    [1, "dram_util", 20],
    [2, "dram_util", 20],
  ],
  procs: [
    [5151, GIB, 1, 0],
    [5252, 2 * GIB, 2, 0],
  ],
};

async function open(...args: Parameters<typeof openSession>) {
  const session = await openSession(...args);
  reader = session.reader;
  return session;
}

describe("a MIG-enabled GPU", () => {
  it("reads memory, processes and activity through its MIG devices and claims no utilization", async () => {
    const { reader } = await open({ gpus: [gpu(0, MIG)] });
    const first = reader.sample();
    await sleep(GPM_WAIT_MS);
    const g0 = byIndex(reader.sample().gpus, 0);
    expect(g0.migEnabled).toBe(true);
    expect(g0.utilizationGpuPercent).toBeUndefined();
    expect(g0.remappedRows).toBeUndefined();
    expect(first.newlyDisabled.filter((d) => d.uuid === g0.uuid).map((d) => [d.field, d.reason])).toEqual([
      ["util", "NOT_SUPPORTED"],
      ["remap", "NOT_SUPPORTED"],
    ]);
    // The parent refuses an unprivileged caller: memory is the sum over the GPU instances.
    expect(g0).toMatchObject({ memoryTotalBytes: 80 * GIB, memoryUsedBytes: 14 * GIB });
    expect(g0.disabled).not.toContain("memory");
    expect(g0.processes).toEqual([
      { pid: 5151, usedMemoryBytes: GIB, gpuInstanceId: 1, computeInstanceId: 0 },
      { pid: 5252, usedMemoryBytes: 2 * GIB, gpuInstanceId: 2, computeInstanceId: 0 },
    ]);
    expect(g0.migDevices?.map((d) => [d.gpuInstanceId, d.gpm?.sm, d.gpm?.tensor])).toEqual([
      [1, 70, 50],
      [2, 10, 0],
    ]);
    // The parent cannot be sampled: its activity is the instances' weighted by compute slices (3 and 4 of 7).
    expect(g0.gpmSource).toBe("instances");
    expect(g0.gpm?.sm).toBeCloseTo((3 * 70 + 4 * 10) / 7, 9);
    expect(g0.gpm?.tensor).toBeCloseTo((3 * 50) / 7, 9);
    expect(g0.gpm?.pcieTx).toBeUndefined();
    expect(g0.migSlices).toBe(7);
  });

  it("counts slices without an instance as idle in the GPU's derived activity", async () => {
    const { reader } = await open({
      gpus: [gpu(0, { ...MIG, migs: [[1, 0, "3g.40gb", 40 * GIB, 4 * GIB]], procs: [] })],
    });
    reader.sample();
    await sleep(GPM_WAIT_MS);
    expect(byIndex(reader.sample().gpus, 0).gpm?.sm).toBeCloseTo((3 * 70) / 7, 9);
  });

  it("uses the parent's own memory and activity for a privileged caller", async () => {
    const { reader } = await open({ privileged: 1, gpus: [gpu(0, MIG)] });
    reader.sample();
    await sleep(GPM_WAIT_MS);
    const g0 = byIndex(reader.sample().gpus, 0);
    expect(g0).toMatchObject({
      memoryTotalBytes: 80 * GIB,
      memoryUsedBytes: 14 * GIB,
      memoryReservedBytes: 512 * 1024 * 1024,
      gpmSource: "device",
    });
    expect(g0.gpm?.sm).toBe(30);
  });

  it("asks every field again once MIG is turned off", async () => {
    const { reader, file } = await open({ gpus: [gpu(0, MIG)] });
    reader.sample();
    expect(byIndex(reader.sample().gpus, 0).disabled).toEqual(["util", "remap"]);
    await file.write({ gpus: [gpu(0)] });
    await sleep(RELOAD_WAIT_MS);
    const off = reader.sample();
    const g0 = byIndex(off.gpus, 0);
    expect(g0).toMatchObject({
      migEnabled: false,
      utilizationGpuPercent: 50,
      memoryTotalBytes: 80 * GIB,
      memoryUsedBytes: 10 * GIB,
      disabled: [],
    });
    expect(g0.remappedRows).toEqual({ correctable: 1, uncorrectable: 0, isPending: false, hasFailed: false });
    expect(off.errors.some((e) => e.includes("MIG mode disabled"))).toBe(true);
    await sleep(GPM_WAIT_MS);
    expect(byIndex(reader.sample().gpus, 0)).toMatchObject({ gpmSource: "device", gpm: { sm: 30 } });
    // and back on: the MIG rules apply again
    await file.write({ gpus: [gpu(0, MIG)] });
    await sleep(RELOAD_WAIT_MS);
    expect(byIndex(reader.sample().gpus, 0).disabled).toEqual(["util", "remap"]);
  });

  it("attributes an XID that carries a GPU and compute instance to that MIG instance", async () => {
    const { reader, file } = await open({ gpus: [gpu(0, MIG)] });
    reader.sample();
    await file.write({
      gpus: [gpu(0, MIG)],
      events: [
        [1, 0, 31, 2, 0],
        [2, 0, 79],
      ],
    });
    await sleep(RELOAD_WAIT_MS);
    const xids = [...reader.sample().xids, ...reader.sample().xids];
    expect(
      xids.map(({ xid, gpuInstanceId, computeInstanceId }) => ({ xid, gpuInstanceId, computeInstanceId })),
    ).toEqual([
      { xid: 31, gpuInstanceId: 2, computeInstanceId: 0 },
      { xid: 79, gpuInstanceId: undefined, computeInstanceId: undefined },
    ]);
  });
});
