import type { NativeFunction, NvmlFunctionName, NvmlLibrary } from "../../agent/nvml/nvml-library.js";

/** One recorded NVML call: the native function and the arguments it was given. */
export type RecordedCall = [NativeFunction, unknown[]];

/**
 * A library whose functions record each call (function and arguments) while recording is on, for
 * the benchmarks that replay a reader's rounds straight through koffi (footprint-bench.ts's koffi
 * floor, round-cost-probe.ts's `calls` rung). Recorded calls are appended to `calls` in order.
 */
export function recordingLibrary(lib: NvmlLibrary): {
  lib: NvmlLibrary;
  calls: RecordedCall[];
  setRecording(on: boolean): void;
} {
  const calls: RecordedCall[] = [];
  let isRecording = false;
  const fn: { [K in NvmlFunctionName]?: NativeFunction } = {};
  for (const [name, native] of Object.entries(lib.fn)) {
    fn[name as NvmlFunctionName] = (...args: unknown[]) => {
      if (isRecording) calls.push([native, args]);
      return native(...args);
    };
  }
  return { lib: { ...lib, fn }, calls, setRecording: (on) => void (isRecording = on) };
}
