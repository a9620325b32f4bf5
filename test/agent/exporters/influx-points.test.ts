import { describe, expect, it } from "vitest";
import {
  decodePoints,
  encodePoints,
  gpuPoints,
  requestPoints,
  type InfluxPoint,
} from "../../../agent/exporters/influx-points.js";
import type { GpuView } from "../../../agent/collectors/gpu-collector.js";
import type { GpuSample } from "../../../agent/collectors/gpu-sample.js";
import { LlmSeriesStore } from "../../../agent/processors/llm-series-store.js";

const SAMPLED_AT = 1_767_225_600_123;

function gpuSample(
  index: number,
  overrides: Partial<GpuSample> = {},
  without: readonly (keyof GpuSample)[] = [],
): GpuSample {
  const sample: Record<string, unknown> = {
    index,
    uuid: `GPU-${index}`,
    model: "NVIDIA H100 80GB HBM3",
    pciBusId: `0000:${index}`,
    isUp: true,
    holders: [],
    unsupported: [],
    utilizationRatio: 0.5,
    memoryUsedBytes: 10,
    memoryTotalBytes: 80,
    powerWatts: 300,
    energyJoules: 1e6,
    ...overrides,
  };
  for (const key of without) delete sample[key];
  return sample as unknown as GpuSample;
}

function view(samples: GpuSample[]): GpuView {
  return {
    isNvmlUp: true,
    source: "nvml",
    system: undefined,
    samples,
    sampledAtMs: SAMPLED_AT,
    xids: [],
    lastRound: undefined,
  };
}

const byName = (points: readonly InfluxPoint[], measurement: string): InfluxPoint[] =>
  points.filter((p) => p.measurement === measurement);

describe("InfluxDB points", () => {
  it("a GPU sample becomes one point per field, stamped with the NVML sample's own time, with the holder's pod labels", () => {
    const holder = { namespace: "inference", pod: "llama-0", container: "vllm", model: "llama-3-8b" };
    const points = gpuPoints(
      view([gpuSample(0, { holder, holders: [holder] }), gpuSample(1, { isUp: false })]),
      "node-a",
    );
    expect(new Set(points.map((p) => p.timestampMs))).toEqual(new Set([SAMPLED_AT]));
    expect(byName(points, "inferwatch_gpu_utilization_ratio")).toEqual([
      {
        measurement: "inferwatch_gpu_utilization_ratio",
        tags: {
          node: "node-a",
          gpu: "0",
          uuid: "GPU-0",
          gpu_model: "NVIDIA H100 80GB HBM3",
          namespace: "inference",
          pod: "llama-0",
          container: "vllm",
          model: "llama-3-8b",
        },
        value: 0.5,
        timestampMs: SAMPLED_AT,
      },
    ]);
    // The energy counter keeps GPU labels only; the down GPU has only gpu_up 0.
    expect(byName(points, "inferwatch_gpu_energy_joules_total")[0]?.tags).toEqual({
      node: "node-a",
      gpu: "0",
      uuid: "GPU-0",
      gpu_model: "NVIDIA H100 80GB HBM3",
    });
    expect(byName(points, "inferwatch_gpu_up").map((p) => [p.tags["gpu"], p.value])).toEqual([
      ["0", 1],
      ["1", 0],
    ]);
    expect(points.filter((p) => p.tags["gpu"] === "1")).toHaveLength(1);
  });

  it("a tag value ending in a backslash loses it (it would escape the separator after it in line protocol); an all-backslash value is left out", () => {
    const holder = { namespace: "inference\\", pod: "\\\\", container: "vllm", model: "llama-3-8b" };
    const [point] = byName(
      gpuPoints(view([gpuSample(0, { holder, holders: [holder] })]), "node-a"),
      "inferwatch_gpu_utilization_ratio",
    );
    expect(point?.tags).toEqual({
      node: "node-a",
      gpu: "0",
      uuid: "GPU-0",
      gpu_model: "NVIDIA H100 80GB HBM3",
      namespace: "inference",
      container: "vllm",
      model: "llama-3-8b",
    });
  });

  it("no sample yet means no points; fields NVML did not report are left out, not written as 0", () => {
    expect(gpuPoints({ ...view([gpuSample(0)]), sampledAtMs: undefined }, "n")).toEqual([]);
    const points = gpuPoints(view([gpuSample(0, { utilizationRatio: Number.NaN }, ["powerWatts"])]), "n");
    expect(byName(points, "inferwatch_gpu_power_watts")).toEqual([]);
    expect(byName(points, "inferwatch_gpu_utilization_ratio")).toEqual([]);
  });

  it("request aggregates are the cumulative latency buckets (one at each SLO threshold), sum, count, requests and tokens, with the prefix", () => {
    const store = new LlmSeriesStore({
      latencyBuckets: [0.5, 1.2, 2],
      tpotBuckets: [0.01],
      maxSeries: 10,
      ttlMs: 60_000,
      now: () => 0,
    });
    const labels = { model: "llama-3-8b", runtime: "vllm", namespace: "", pod: "p\nq", tier: "default" };
    for (const [e2e, isError] of [
      [0.3, false],
      [1, false],
      [1.5, true],
      [9, false],
    ] as const) {
      store.record(labels, {
        runtime: "vllm",
        model: "llama-3-8b",
        traceId: "",
        endTimeMs: 1,
        e2eSeconds: e2e,
        isError,
        promptTokens: 100,
        completionTokens: 10,
      });
    }
    const points = requestPoints(store, "node-a", 5_000, "x_");
    const buckets = byName(points, "x_inferwatch_llm_request_duration_seconds_bucket");
    expect(buckets.map((p) => [p.tags["le"], p.value])).toEqual([
      ["0.5", 1],
      ["1.2", 2],
      ["2", 3],
      ["+Inf", 4],
    ]);
    // The empty namespace is left out; a line break (which line protocol cannot carry) becomes a space.
    expect(buckets[0]?.tags).toEqual({
      model: "llama-3-8b",
      runtime: "vllm",
      pod: "p q",
      node: "node-a",
      tier: "default",
      le: "0.5",
    });
    expect(byName(points, "x_inferwatch_llm_request_duration_seconds_count")[0]?.value).toBe(4);
    expect(byName(points, "x_inferwatch_llm_request_duration_seconds_sum")[0]?.value).toBeCloseTo(11.8, 12);
    expect(byName(points, "x_inferwatch_llm_requests_total").map((p) => [p.tags["status"], p.value])).toEqual([
      ["ok", 3],
      ["error", 1],
    ]);
    expect(byName(points, "x_inferwatch_llm_tokens_total").map((p) => [p.tags["type"], p.value])).toEqual([
      ["prompt", 400],
      ["completion", 40],
    ]);
    expect(points.every((p) => p.timestampMs === 5_000)).toBe(true);
  });

  it("the spool encoding gives back the same points, and refuses what is not points", () => {
    const points: InfluxPoint[] = [{ measurement: "m", tags: { a: "b, c=d" }, value: 0.1, timestampMs: SAMPLED_AT }];
    expect(decodePoints(encodePoints(points))).toEqual(points);
    expect(() => decodePoints(Buffer.from('{"a":1}'))).toThrow(/not a list/);
    expect(() => decodePoints(Buffer.from('[["m", {}, "x", 1]]'))).toThrow(/malformed/);
  });
});
