/**
 * NVML sampling and /metrics rendering against the fake library: 8 GPUs, every field, 10 processes
 * each. CPU time per round is measured with process.cpuUsage() on a single thread (nothing else runs),
 * beside the FFI floor: the same number of calls to a C function that does nothing.
 */
import koffi from "koffi";
import { Registry } from "prom-client";
import { toGpuSamples } from "../../agent/collectors/gpu-sample.js";
import type { GpuView } from "../../agent/collectors/gpu-collector.js";
import { noAttribution } from "../../agent/collectors/gpu-collector.js";
import { registerGpuMetrics } from "../../agent/exporters/gpu-metrics.js";
import { loadNvmlLibrary } from "../../agent/nvml/nvml-library.js";
import { NvmlReader } from "../../agent/nvml/nvml-reader.js";
import { CONTROL_BYTES, PAYLOAD_BYTES, readAnswer, STATUS, writeAnswer } from "../../agent/nvml/nvml-worker-protocol.js";
import type { NvmlSampleRaw } from "../../agent/nvml/types.js";
import { buildFakeNvml } from "../setup/build-fake-nvml.js";
import { gpu, scenarioFile } from "../fixtures/nvml-scenario.js";
import { median, type BenchRow } from "./table.js";

const GIB = 1024 ** 3;
const ROUNDS = 3_000;

function cpuMicros(fn: () => void): number {
  const before = process.cpuUsage();
  fn();
  const spent = process.cpuUsage(before);
  return spent.user + spent.system;
}

/** Eight H100s, each with ten processes, as the benchmark asks. */
export function eightGpuScenario() {
  return {
    gpus: Array.from({ length: 8 }, (_, i) => gpu(i, { nvlink_count: 18, procs: Array.from({ length: 10 }, (_, p) => [1000 * (i + 1) + p, (p + 1) * GIB] as const) })),
  };
}

export async function benchNvml(): Promise<BenchRow[]> {
  const libs = await buildFakeNvml();
  const file = await scenarioFile(eightGpuScenario());
  process.env["FAKE_NVML_SCENARIO"] = file.path;
  const reader = new NvmlReader(loadNvmlLibrary(libs.full), { maxBackoffMs: 60_000 });
  reader.open();
  for (let i = 0; i < 300; i++) reader.sample();
  const sampleCpu: number[] = [];
  const sampleWall: number[] = [];
  let calls = 0;
  let raw = reader.sample();
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    sampleCpu.push(cpuMicros(() => {
      raw = reader.sample();
    }));
    sampleWall.push(performance.now() - t0);
    calls = raw.calls;
  }
  const noop = koffi.load(libs.full).func("int fake_nvml_noop(void)") as () => number;
  for (let i = 0; i < 10_000; i++) noop();
  const floorCpu: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    floorCpu.push(cpuMicros(() => {
      for (let c = 0; c < calls; c++) noop();
    }));
  }
  // The hand-off (nvml-worker-protocol.ts): the sampling thread writes the round (serialized) into shared
  // memory, the main thread decodes it and converts it to base units.
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_BYTES));
  const payload = Buffer.from(new SharedArrayBuffer(PAYLOAD_BYTES));
  const encodeCpu: number[] = [];
  for (let i = 0; i < ROUNDS; i++) encodeCpu.push(cpuMicros(() => writeAnswer(control, payload, STATUS.ok, raw)));
  const mainThreadCpu: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    mainThreadCpu.push(cpuMicros(() => {
      // The body is the round just written above.
      toGpuSamples(readAnswer(control, payload).body as NvmlSampleRaw, noAttribution(), () => undefined);
    }));
  }

  const view: GpuView = {
    isNvmlUp: true, source: "nvml", system: { library: libs.full, driverVersion: "550.54.15", nvmlVersion: "12.550", cudaDriverVersion: "12040", deviceCount: 8, missingFunctions: [] },
    samples: toGpuSamples(raw, noAttribution(), () => undefined), sampledAtMs: Date.now(), xids: [], lastRound: { calls, durationMs: 0 },
  };
  const registry = new Registry();
  registerGpuMetrics(registry, "bench-node", () => view, (metric, err) => { throw new Error(`${metric}: ${String(err)}`); });
  for (let i = 0; i < 100; i++) await registry.metrics();
  const renderMs: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 500; i++) {
    const t0 = performance.now();
    bytes = (await registry.metrics()).length;
    renderMs.push(performance.now() - t0);
  }
  reader.close();

  const sampleMedianMs = median(sampleCpu) / 1000;
  const floorMedianMs = median(floorCpu) / 1000;
  const renderMedianMs = median(renderMs);
  return [
    { name: `one NVML round, 8 GPUs × all fields × 10 processes (${calls} calls): median CPU`, value: `${sampleMedianMs.toFixed(3)} ms`, target: "< 0.5 ms", isMet: sampleMedianMs < 0.5 },
    { name: "the same round: median wall time", value: `${median(sampleWall).toFixed(3)} ms` },
    { name: `FFI floor: ${calls} calls to a no-op C function: median CPU`, value: `${floorMedianMs.toFixed(3)} ms` },
    { name: "round ÷ FFI floor", value: `${(sampleMedianMs / floorMedianMs).toFixed(1)}×` },
    { name: "sampling thread per round: the answer written to the shared hand-off buffer (serialized)", value: `${(median(encodeCpu) / 1000).toFixed(3)} ms` },
    { name: "main thread per round: the answer decoded and converted to base units", value: `${(median(mainThreadCpu) / 1000).toFixed(3)} ms` },
    { name: `/metrics render, 8 GPUs with process series (${(bytes / 1024).toFixed(0)} KiB): median`, value: `${renderMedianMs.toFixed(2)} ms`, target: "< 5 ms", isMet: renderMedianMs < 5 },
  ];
}
