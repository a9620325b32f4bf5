import { describe, expect, it } from "vitest";
import {
  compileFleet,
  dayCurveAt,
  drawRequest,
  expectedRequests,
  gpuEnergyJoules,
  gpuStateAt,
  incidentWindows,
  isIncidentAt,
  replicaRateAt,
  type Fleet,
  type SimGpu,
  type SimReplica,
} from "../../../cli/simulate/fleet-model.js";
import { createRandom } from "../../../cli/simulate/random.js";
import { DEFAULT_SCENARIO, parseScenario, type Scenario } from "../../../cli/simulate/scenario.js";

const HOUR = 3_600_000;
const MINUTE = 60_000;
/** 2024-06-01 00:00 UTC: the default scenario's local time is UTC. */
const MIDNIGHT = Date.UTC(2024, 5, 1);
const ORIGIN = MIDNIGHT + 12 * HOUR;
const CURVE_SUM = DEFAULT_SCENARIO.dayCurve.reduce((sum, value) => sum + value, 0);

function fleetOf(scenario: Scenario = DEFAULT_SCENARIO): Fleet {
  return compileFleet(scenario, { originMs: ORIGIN });
}

const fleet = fleetOf();
const replicasOf = (model: string): SimReplica[] => fleet.replicas.filter((replica) => replica.model.name === model);
const gpuAt = (node: string, index: number): SimGpu =>
  fleet.gpus.find((gpu) => gpu.node === node && gpu.index === index) as SimGpu;

/** Share of `n` requests of `replica` at `tMs` slower than `threshold` seconds. */
function slowShare(replica: SimReplica, tMs: number, threshold: number, n: number, seed: number): number {
  const random = createRandom(seed);
  let slow = 0;
  for (let i = 0; i < n; i++) if (drawRequest(fleet, replica, tMs, random).e2eSeconds > threshold) slow++;
  return slow / n;
}

describe("determinism", () => {
  it("compiles the same fleet from the same seed: uuids, pod names, pids", () => {
    expect(fleetOf()).toEqual(fleet);
    expect(fleet.gpus[0]?.uuid).toMatch(/^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(new Set(fleet.gpus.map((gpu) => gpu.uuid)).size).toBe(20);
    expect(replicasOf("llama-2-7b-awq")[0]?.pod).toMatch(
      /^llama-2-7b-awq-[bcdfghjklmnpqrstvwxz2456789]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}$/,
    );
  });

  it("gives another fleet for another seed", () => {
    const other = fleetOf({ ...DEFAULT_SCENARIO, seed: DEFAULT_SCENARIO.seed + 1 });
    expect(other.gpus[0]?.uuid).not.toBe(fleet.gpus[0]?.uuid);
    expect(other.replicas[0]?.pod).not.toBe(fleet.replicas[0]?.pod);
  });

  it("draws the same requests and GPU readings for the same seed and time", () => {
    const replica = replicasOf("llama-2-13b-awq")[0] as SimReplica;
    const draw = (seed: number) => {
      const random = createRandom(seed);
      return Array.from({ length: 50 }, (_, i) => drawRequest(fleet, replica, ORIGIN + i * MINUTE, random));
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    expect(gpuStateAt(fleet, gpuAt("gpu-h100-0", 4), ORIGIN)).toEqual(
      gpuStateAt(fleetOf(), gpuAt("gpu-h100-0", 4), ORIGIN),
    );
  });
});

describe("diurnal traffic", () => {
  it("peaks at 14:00 local time five times higher than at 03:00", () => {
    const replica = replicasOf("llama-2-7b-awq")[0] as SimReplica;
    const peak = replicaRateAt(fleet, replica, MIDNIGHT + 14 * HOUR);
    const trough = replicaRateAt(fleet, replica, MIDNIGHT + 3 * HOUR);
    expect(peak).toBeCloseTo(8 / 6, 12);
    expect(peak / trough).toBeCloseTo(1 / 0.2, 9);
  });

  it("follows local time east of UTC", () => {
    const shifted = { ...DEFAULT_SCENARIO, utcOffsetHours: 2 };
    expect(dayCurveAt(shifted, MIDNIGHT + 12 * HOUR)).toBe(1);
    expect(dayCurveAt(shifted, MIDNIGHT + 12.5 * HOUR)).toBeCloseTo(0.995, 12);
  });

  it("expects a day's requests to be the peak rate times the curve's mean times a day", () => {
    const replica = replicasOf("llama-2-7b-awq")[0] as SimReplica;
    const handComputed = (8 / 6) * (CURVE_SUM / 24) * 86_400;
    expect(expectedRequests(fleet, replica, MIDNIGHT, MIDNIGHT + 24 * HOUR)).toBeCloseTo(handComputed, 6);
    expect(expectedRequests(fleet, replica, MIDNIGHT + 7 * HOUR, MIDNIGHT + 31 * HOUR)).toBeCloseTo(handComputed, 6);
  });

  it("integrates within an hour exactly: 14:00–14:30 averages 0.9975 of peak", () => {
    const replica = replicasOf("llama-2-13b-awq")[0] as SimReplica;
    expect(expectedRequests(fleet, replica, MIDNIGHT + 14 * HOUR, MIDNIGHT + 14.5 * HOUR)).toBeCloseTo(
      (4 / 5) * 1800 * 0.9975,
      6,
    );
  });
});

describe("the incident", () => {
  const replica = replicasOf("llama-2-13b-awq")[0] as SimReplica;

  it("starts 3 minutes after the origin for 10 minutes and repeats every 2 hours, both ways", () => {
    expect(incidentWindows(fleet, ORIGIN - 3 * HOUR, ORIGIN + 3 * HOUR)).toEqual([
      { startMs: ORIGIN - 117 * MINUTE, endMs: ORIGIN - 107 * MINUTE },
      { startMs: ORIGIN + 3 * MINUTE, endMs: ORIGIN + 13 * MINUTE },
      { startMs: ORIGIN + 123 * MINUTE, endMs: ORIGIN + 133 * MINUTE },
    ]);
    expect([0, 3, 12.9, 13, 123].map((m) => isIncidentAt(fleet, replica.model.name, ORIGIN + m * MINUTE))).toEqual([
      false,
      true,
      true,
      false,
      true,
    ]);
    expect(isIncidentAt(fleet, "llama-2-7b-awq", ORIGIN + 5 * MINUTE)).toBe(false);
  });

  it("happens once when `every` is once", () => {
    const once = fleetOf(
      parseScenario({ ...DEFAULT_SCENARIO, incident: { ...DEFAULT_SCENARIO.incident, every: "once" } }),
    );
    expect(incidentWindows(once, ORIGIN - 3 * HOUR, ORIGIN + 3 * HOUR)).toEqual([
      { startMs: ORIGIN + 3 * MINUTE, endMs: ORIGIN + 13 * MINUTE },
    ]);
  });

  it("pushes the slow share from under the 5 % budget to slowShare + (1 − slowShare) × the usual share", () => {
    const n = 20_000;
    const usual = slowShare(replica, ORIGIN + 60 * MINUTE, 2, n, 1);
    const during = slowShare(replica, ORIGIN + 60 * MINUTE + 2 * HOUR - 52 * MINUTE, 2, n, 2);
    const expected = 0.3 + 0.7 * usual;
    const sigma = Math.sqrt((expected * (1 - expected)) / n);
    expect(usual).toBeLessThan(0.05);
    expect(Math.abs(during - expected)).toBeLessThan(4 * sigma);
    // The 13B's SLO allows 5 % over 2 s: during the incident it is burning at 6× or more.
    expect(during / 0.05).toBeGreaterThan(6 - (4 * sigma) / 0.05);
  });

  it("queues longer at peak than at night, as ρ/(1−ρ) of the replica's load", () => {
    const meanQueue = (tMs: number) => {
      const random = createRandom(4);
      let sum = 0;
      for (let i = 0; i < 20_000; i++) sum += drawRequest(fleet, replica, tMs, random).queueSeconds;
      return sum / 20_000;
    };
    const [night, peak] = [MIDNIGHT + 3 * HOUR, MIDNIGHT + 14 * HOUR];
    const factor = (tMs: number) => {
      const load = replicaRateAt(fleet, replica, tMs) / replica.model.replicaCapacityRps;
      return load / (1 - load);
    };
    expect(meanQueue(peak) / meanQueue(night)).toBeCloseTo(factor(peak) / factor(night), 0);
    expect(meanQueue(peak)).toBeCloseTo(0.04 * factor(peak), 2);
  });
});

describe("replicas and GPUs", () => {
  it("puts the 70B on GPUs 0–3 of one node, in one NVLink domain, 20 GiB on each", () => {
    const [seventy, ...others] = replicasOf("llama-2-70b-awq");
    expect(others).toEqual([]);
    expect(seventy?.gpuIndices).toEqual([0, 1, 2, 3]);
    const gpus = [0, 1, 2, 3].map((index) => gpuAt(seventy?.node as string, index));
    expect(new Set(gpus.map((gpu) => gpu.nvlinkDomain))).toEqual(new Set(["nvlink-0"]));
    expect(gpus.map((gpu) => gpu.memoryUsedBytes)).toEqual(Array(4).fill(20 * 1024 ** 3));
    expect(seventy?.pids).toHaveLength(4);
  });

  it("sends the idle model nothing: no requests, GPU at 0 % and idle power", () => {
    const idle = replicasOf("mistral-7b-awq");
    expect(idle.length).toBe(2);
    for (const replica of idle) {
      expect(expectedRequests(fleet, replica, MIDNIGHT, MIDNIGHT + 30 * 24 * HOUR)).toBe(0);
      const state = gpuStateAt(fleet, gpuAt(replica.node, replica.gpuIndices[0] as number), MIDNIGHT + 14 * HOUR);
      expect(state.utilizationRatio).toBe(0);
      expect(state.powerWatts).toBe(replica.node === "gpu-l4-0" ? 16 : 55);
      expect(state.memoryUsedBytes).toBe(8 * 1024 ** 3);
    }
  });

  it("keeps utilization in 0..1 with a GPU shared by two replicas saturated at peak", () => {
    const shared = gpuAt("gpu-h100-0", 5);
    expect(shared.replicas).toHaveLength(2);
    expect(shared.peakLoad).toBeGreaterThan(1);
    for (let t = MIDNIGHT + 14 * HOUR; t < MIDNIGHT + 14 * HOUR + MINUTE; t += 5000) {
      // Clamped at 1, then the ±6 % reading jitter.
      expect(gpuStateAt(fleet, shared, t).utilizationRatio).toBeGreaterThanOrEqual(0.94);
      expect(gpuStateAt(fleet, shared, t).utilizationRatio).toBeLessThanOrEqual(1);
    }
  });

  it("counts an empty GPU's energy at idle power: 70 W for an hour is 252 kJ", () => {
    const empty = gpuAt("gpu-h100-0", 7);
    expect(gpuEnergyJoules(fleet, empty, ORIGIN + HOUR) - gpuEnergyJoules(fleet, empty, ORIGIN)).toBeCloseTo(
      252_000,
      3,
    );
  });

  it.each([
    ["a GPU under its capacity", 4],
    ["a GPU clamped at 100 % around the peak", 5],
  ] as const)("integrates energy exactly over a day for %s", (_name, index) => {
    const gpu = gpuAt("gpu-h100-0", index);
    let numeric = 0;
    for (let t = MIDNIGHT + 30_000; t < MIDNIGHT + 24 * HOUR; t += MINUTE) {
      numeric += (70 + 630 * Math.min(1, gpu.peakLoad * dayCurveAt(DEFAULT_SCENARIO, t))) * 60;
    }
    const exact = gpuEnergyJoules(fleet, gpu, MIDNIGHT + 24 * HOUR) - gpuEnergyJoules(fleet, gpu, MIDNIGHT);
    expect(Math.abs(exact - numeric) / numeric).toBeLessThan(1e-4);
  });

  it("reports power between idle and TDP and temperature rising with it", () => {
    for (const gpu of fleet.gpus) {
      const state = gpuStateAt(fleet, gpu, MIDNIGHT + 14 * HOUR);
      expect(state.powerWatts).toBeGreaterThanOrEqual(gpu.type.idleWatts);
      expect(state.powerWatts).toBeLessThanOrEqual(gpu.type.tdpWatts);
      expect(state.temperatureCelsius).toBeCloseTo(28 + (52 * state.powerWatts) / gpu.type.tdpWatts, 9);
    }
  });
});
