import { describe, expect, it } from "vitest";
import { toGpuSamples, type GpuSample } from "../../../agent/collectors/gpu-sample.js";
import {
  SIMULATED_DRIVER_VERSION,
  SimulatedNvmlClient,
  SimulatedPodAttributor,
} from "../../../cli/simulate/simulated-nvml-client.js";
import { simulationClock } from "../../../cli/simulate/clock.js";
import { compileFleet, gpuEnergyJoules, gpuStateAt, type SimGpu } from "../../../cli/simulate/fleet-model.js";
import { DEFAULT_SCENARIO } from "../../../cli/simulate/scenario.js";
import { GIB } from "../../../common/units.js";

const ORIGIN = Date.UTC(2024, 5, 1, 14);
const fleet = compileFleet(DEFAULT_SCENARIO, { originMs: ORIGIN });

/** A client of `node` whose wall clock reads `wall.ms`, and that node's attributor. */
function simulatedNode(node: string, wall = { ms: ORIGIN }) {
  const clock = simulationClock({ originMs: ORIGIN, now: () => wall.ms });
  const client = new SimulatedNvmlClient({ fleet, node, clock });
  const pods = new SimulatedPodAttributor(fleet, node, () => wall.ms);
  return { client, pods, wall };
}

/** One round through the agent's own conversion, with the simulated kubelet view. */
async function samplesOf(node: string, wall = { ms: ORIGIN }): Promise<GpuSample[]> {
  const { client, pods } = simulatedNode(node, wall);
  await client.open();
  return toGpuSamples(await client.sample(), pods.current(), (pid) => pods.containerOfPid(pid));
}

const gpuOf = (node: string, index: number) =>
  fleet.gpus.find((gpu) => gpu.node === node && gpu.index === index) as SimGpu;

describe("SimulatedNvmlClient", () => {
  it("says it is simulated: source, driver version, library", async () => {
    const { client } = simulatedNode("gpu-h100-0");
    expect(client.source).toBe("simulated");
    const system = await client.open();
    expect(system).toMatchObject({
      library: "simulated",
      driverVersion: SIMULATED_DRIVER_VERSION,
      deviceCount: 8,
      missingFunctions: [],
    });
    expect(system.driverVersion).toContain("simulated");
  });

  it("rejects a sample before open and after close, like the real client", async () => {
    const { client } = simulatedNode("gpu-a100-0");
    await expect(client.sample()).rejects.toThrow(/not open/);
    await client.open();
    await client.close();
    await client.close();
    await expect(client.sample()).rejects.toThrow(/not open/);
    expect(client.hasStuckCall()).toBe(false);
  });

  it("refuses a node the scenario does not have", () => {
    expect(() => new SimulatedNvmlClient({ fleet, node: "gpu-b200-9" })).toThrow(/no node gpu-b200-9/);
  });

  it("produces readings that toGpuSamples converts to the fleet model's values", async () => {
    const samples = await samplesOf("gpu-h100-0");
    expect(samples.map((sample) => sample.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    samples.forEach((sample) => {
      const gpu = gpuOf("gpu-h100-0", sample.index);
      const state = gpuStateAt(fleet, gpu, ORIGIN);
      expect(sample).toMatchObject({
        uuid: gpu.uuid,
        model: "NVIDIA H100 80GB HBM3",
        pciBusId: gpu.pciBusId,
        isUp: true,
        utilizationRatio: Math.round(state.utilizationRatio * 100) / 100,
        memoryTotalBytes: 80 * GIB,
        memoryUsedBytes: gpu.memoryUsedBytes,
        powerLimitWatts: 700,
        powerWatts: Math.round(state.powerWatts * 1000) / 1000,
        temperatureCelsius: Math.round(state.temperatureCelsius),
        smClockHertz: state.smClockMhz * 1e6,
        eccCorrected: 0,
        migEnabled: false,
        unsupported: [],
      });
      expect(sample.energyJoules).toBeCloseTo(gpuEnergyJoules(fleet, gpu, ORIGIN), 2);
      expect(sample.nvlinkActive).toEqual(Array(18).fill(true));
    });
    expect(samples[0]?.memoryUsedBytes).toBe(20 * GIB);
    expect(samples[7]?.utilizationRatio).toBe(0);
    expect(samples[7]?.throttle?.find((t) => t.reason === "gpu_idle")?.isActive).toBe(true);
  });

  it("lists one process per replica on a GPU, attributed to its pod, with stable pids", async () => {
    const first = await samplesOf("gpu-h100-0");
    const later = await samplesOf("gpu-h100-0", { ms: ORIGIN + 60_000 });
    const seventy = first.slice(0, 4);
    expect(new Set(seventy.map((gpu) => gpu.holder?.model))).toEqual(new Set(["llama-2-70b-awq"]));
    expect(new Set(seventy.map((gpu) => gpu.holder?.pod)).size).toBe(1);
    expect(new Set(seventy.map((gpu) => gpu.processes?.[0]?.pid)).size).toBe(4);
    const shared = first[5] as GpuSample;
    expect(shared.holders.map((holder) => holder.model).sort()).toEqual(["llama-2-13b-awq", "llama-2-7b-awq"]);
    expect(shared.holder).toBeUndefined();
    expect(shared.processes?.map((p) => [p.memoryBytes, p.holder?.model])).toEqual([
      [8 * GIB, "llama-2-7b-awq"],
      [14 * GIB, "llama-2-13b-awq"],
    ]);
    expect(first[7]?.processes).toEqual([]);
    expect(later.map((gpu) => gpu.processes?.map((p) => p.pid))).toEqual(
      first.map((gpu) => gpu.processes?.map((p) => p.pid)),
    );
  });

  it("reports a PCIe card's NVLink and MIG as unsupported", async () => {
    const samples = await samplesOf("gpu-l4-0");
    expect(samples[0]).toMatchObject({
      model: "NVIDIA L4",
      memoryTotalBytes: 24 * GIB,
      unsupported: ["nvlink", "mig"],
    });
    expect(samples[0]).not.toHaveProperty("nvlinkActive");
  });

  it("counts energy up as simulated time passes, at the simulated pace", async () => {
    const wall = { ms: ORIGIN };
    const clock = simulationClock({ originMs: ORIGIN, timeScale: 60, now: () => wall.ms });
    const client = new SimulatedNvmlClient({ fleet, node: "gpu-l40s-0", clock });
    await client.open();
    const before = await client.sample();
    wall.ms += 60_000;
    const after = await client.sample();
    expect(after.takenAtMs - before.takenAtMs).toBe(60_000);
    const empty = gpuOf("gpu-l40s-0", 3);
    // One wall minute is one simulated hour: 35 W idle for 3,600 s.
    expect(((after.gpus[3]?.energyMillijoules ?? 0) - (before.gpus[3]?.energyMillijoules ?? 0)) / 1000).toBeCloseTo(
      35 * 3600,
      0,
    );
    expect(after.gpus[3]?.uuid).toBe(empty.uuid);
  });

  it("samples the same values for the same time", async () => {
    const { client } = simulatedNode("gpu-a100-0");
    await client.open();
    const strip = ({ durationMs: _ignored, ...rest }: Awaited<ReturnType<typeof client.sample>>) => rest;
    expect(strip(await client.sample())).toEqual(strip(await client.sample()));
  });
});

describe("SimulatedPodAttributor", () => {
  it("maps the node's GPUs and pids to pods and keeps its value between refreshes", () => {
    const wall = { ms: ORIGIN };
    const pods = new SimulatedPodAttributor(fleet, "gpu-a100-0", () => wall.ms);
    const first = pods.current();
    expect(first.isUp).toBe(true);
    expect(first.byDevice.get(gpuOf("gpu-a100-0", 2).uuid)?.map((ref) => ref.model)).toEqual(["mistral-7b-awq"]);
    expect(first.byDevice.has(gpuOf("gpu-a100-0", 3).uuid)).toBe(false);
    wall.ms += 1000;
    expect(pods.current()).toBe(first);
    wall.ms += 10_000;
    expect(pods.current()).not.toBe(first);
    const replica = fleet.replicas.find((r) => r.node === "gpu-a100-0") ?? fleet.replicas[0];
    expect(pods.containerOfPid(replica?.pids[0] ?? -1)?.pod).toBe(replica?.pod);
  });
});
