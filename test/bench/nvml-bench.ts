/**
 * NVML sampling and /metrics rendering against the fake library: 8 Hopper GPUs, every field, 10
 * processes each, one round with GPM off (the round as it was before GPM) and one with GPM on. CPU
 * time per round is measured with process.cpuUsage() on a single thread (nothing else runs), beside
 * the FFI floor: the same number of calls to a C function that does nothing. The GPM reader's clock
 * advances a second per round, so every round takes a GPM sample as the agent's 1 s interval does.
 * `BENCH_ONLY=nvml npm run bench` runs this section alone.
 */
import koffi from "koffi";
import { Registry } from "prom-client";
import { toGpuSamples } from "../../agent/collectors/gpu-sample.js";
import type { GpuView } from "../../agent/collectors/gpu-collector.js";
import { noAttribution } from "../../agent/collectors/gpu-collector.js";
import { registerGpuMetrics } from "../../agent/exporters/gpu-metrics.js";
import { loadNvmlLibrary } from "../../agent/nvml/nvml-library.js";
import { NvmlReader } from "../../agent/nvml/nvml-reader.js";
import {
  CONTROL_BYTES,
  PAYLOAD_BYTES,
  readAnswer,
  STATUS,
  writeAnswer,
} from "../../agent/nvml/nvml-worker-protocol.js";
import type { NvmlSampleRaw } from "../../agent/nvml/types.js";
import { buildFakeNvml } from "../setup/build-fake-nvml.js";
import { gpu, scenarioFile } from "../fixtures/nvml-scenario.js";
import { median, type BenchRow } from "./table.js";
import { GIB } from "../../common/units.js";

const ROUNDS = 3_000;

function cpuMicros(fn: () => void): number {
  const before = process.cpuUsage();
  fn();
  const spent = process.cpuUsage(before);
  return spent.user + spent.system;
}

/** Eight H100s, each with ten processes, a large inference node. */
export function eightGpuScenario() {
  return {
    gpus: Array.from({ length: 8 }, (_, i) =>
      gpu(i, {
        nvlink_count: 18,
        procs: Array.from({ length: 10 }, (_, p) => [1000 * (i + 1) + p, (p + 1) * GIB] as const),
      }),
    ),
  };
}

interface RoundCost {
  readonly calls: number;
  readonly cpuMs: number;
  readonly wallMs: number;
  readonly floorMs: number;
  readonly raw: NvmlSampleRaw;
}

/** Median CPU and wall time of a reader's round, and of as many calls to a no-op C function. */
function measureRound(reader: NvmlReader, advance: () => void, noop: () => number): RoundCost {
  for (let i = 0; i < 300; i++) {
    advance();
    reader.sample();
  }
  const cpu: number[] = [];
  const wall: number[] = [];
  let raw = reader.sample();
  for (let i = 0; i < ROUNDS; i++) {
    advance();
    const t0 = performance.now();
    cpu.push(
      cpuMicros(() => {
        raw = reader.sample();
      }),
    );
    wall.push(performance.now() - t0);
  }
  const calls = raw.calls;
  const floor: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    floor.push(
      cpuMicros(() => {
        for (let c = 0; c < calls; c++) noop();
      }),
    );
  }
  return { calls, cpuMs: median(cpu) / 1000, wallMs: median(wall), floorMs: median(floor) / 1000, raw };
}

export async function benchNvml(): Promise<BenchRow[]> {
  const libs = await buildFakeNvml();
  const file = await scenarioFile(eightGpuScenario());
  process.env["FAKE_NVML_SCENARIO"] = file.path;
  let clock = Date.now();
  const advance = () => {
    clock += 1000;
  };
  const noop = koffi.load(libs.full).func("int fake_nvml_noop(void)") as () => number;
  for (let i = 0; i < 10_000; i++) noop();
  const withoutGpm = new NvmlReader(loadNvmlLibrary(libs.full), {
    maxBackoffMs: 60_000,
    isGpmEnabled: false,
    now: () => clock,
  });
  withoutGpm.open();
  const off = measureRound(withoutGpm, advance, noop);
  withoutGpm.close();
  const withGpm = new NvmlReader(loadNvmlLibrary(libs.full), { maxBackoffMs: 60_000, now: () => clock });
  withGpm.open();
  const on = measureRound(withGpm, advance, noop);
  const raw = on.raw;
  // Every round samples each GPU once and computes its metrics once (the fake answers NaN within one
  // 100 ms refresh of its real clock, which costs the same calls).
  if (on.calls - off.calls !== 2 * 8 || !raw.gpus.every((gpu) => gpu.isGpmSupported))
    throw new Error(`nvml bench: the GPM round made ${on.calls - off.calls} GPM calls, not 16`);

  // The hand-off (nvml-worker-protocol.ts): the sampling thread writes the round (serialized) into shared
  // memory, the main thread decodes it and converts it to base units.
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_BYTES));
  const payload = Buffer.from(new SharedArrayBuffer(PAYLOAD_BYTES));
  const encodeCpu: number[] = [];
  for (let i = 0; i < ROUNDS; i++) encodeCpu.push(cpuMicros(() => writeAnswer(control, payload, STATUS.ok, raw)));
  const mainThreadCpu: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    mainThreadCpu.push(
      cpuMicros(() => {
        // The body is the round just written above.
        toGpuSamples(readAnswer(control, payload).body as NvmlSampleRaw, noAttribution(), () => undefined);
      }),
    );
  }

  const view: GpuView = {
    isNvmlUp: true,
    source: "nvml",
    system: {
      library: libs.full,
      driverVersion: "550.54.15",
      nvmlVersion: "12.550",
      cudaDriverVersion: "12040",
      deviceCount: 8,
      missingFunctions: [],
      fieldNumbering: "12.8-and-older",
    },
    samples: toGpuSamples(raw, noAttribution(), () => undefined),
    sampledAtMs: Date.now(),
    xids: [],
    lastRound: { calls: on.calls, durationMs: 0 },
  };
  const registry = new Registry();
  registerGpuMetrics(
    registry,
    "bench-node",
    () => view,
    (metric, err) => {
      throw new Error(`${metric}: ${String(err)}`);
    },
  );
  for (let i = 0; i < 100; i++) await registry.metrics();
  const renderMs: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 500; i++) {
    const t0 = performance.now();
    bytes = (await registry.metrics()).length;
    renderMs.push(performance.now() - t0);
  }
  withGpm.close();

  const renderMedianMs = median(renderMs);
  const perGpuGpmUs = ((on.cpuMs - off.cpuMs) / 8) * 1000;
  return [
    {
      name: `one NVML round, 8 GPUs × all fields × 10 processes, GPM off (${off.calls} calls): median CPU`,
      value: `${off.cpuMs.toFixed(3)} ms`,
      target: "< 0.5 ms",
      isMet: off.cpuMs < 0.5,
    },
    { name: `FFI floor: ${off.calls} calls to a no-op C function: median CPU`, value: `${off.floorMs.toFixed(3)} ms` },
    { name: "round ÷ FFI floor, GPM off", value: `${(off.cpuMs / off.floorMs).toFixed(1)}×` },
    {
      name: `the same round with GPM on (${on.calls} calls: one nvmlGpmSampleGet and one nvmlGpmMetricsGet per GPU): median CPU`,
      value: `${on.cpuMs.toFixed(3)} ms`,
      target: "< 0.6 ms",
      isMet: on.cpuMs < 0.6,
    },
    { name: `FFI floor: ${on.calls} calls to a no-op C function: median CPU`, value: `${on.floorMs.toFixed(3)} ms` },
    { name: "round ÷ FFI floor, GPM on", value: `${(on.cpuMs / on.floorMs).toFixed(1)}×` },
    { name: "GPM's CPU per GPU per round (on − off, ÷ 8)", value: `${perGpuGpmUs.toFixed(1)} µs` },
    { name: "the round with GPM on: median wall time", value: `${on.wallMs.toFixed(3)} ms` },
    {
      name: "sampling thread per round, GPM on: the answer written to the shared hand-off buffer (serialized)",
      value: `${(median(encodeCpu) / 1000).toFixed(3)} ms`,
    },
    {
      name: "main thread per round, GPM on: the answer decoded and converted to base units",
      value: `${(median(mainThreadCpu) / 1000).toFixed(3)} ms`,
    },
    {
      name: `/metrics render, 8 GPUs with process and GPM series (${(bytes / 1024).toFixed(0)} KiB): median`,
      value: `${renderMedianMs.toFixed(2)} ms`,
      target: "< 5 ms",
      isMet: renderMedianMs < 5,
    },
  ];
}
