/**
 * A reader session on the fake NVML library for the reader's tests: builds the library, writes a
 * scenario, opens an NvmlReader through the production koffi binding, and exposes the fake's GPM
 * counters (live samples, sample calls) so a test can hold the reader to its allocation rules.
 */
import koffi from "koffi";
import { loadNvmlLibrary } from "../../../agent/nvml/nvml-library.js";
import { NvmlReader, type NvmlReaderOptions } from "../../../agent/nvml/nvml-reader.js";
import type { GpuRaw } from "../../../agent/nvml/types.js";
import { buildFakeNvml, type FakeNvmlLibraries } from "../../setup/build-fake-nvml.js";
import { scenarioFile, type ScenarioFile, type ScenarioSettings } from "../../fixtures/nvml-scenario.js";

let libs: FakeNvmlLibraries | undefined;

export async function fakeLibraries(): Promise<FakeNvmlLibraries> {
  libs ??= await buildFakeNvml();
  return libs;
}

/** Samples allocated and not freed, and GPM sample calls made, in the fake library (process-wide). */
export async function gpmStats(): Promise<{ live: number; gets: number }> {
  const fn = koffi.load((await fakeLibraries()).full).func("int fake_nvml_gpm_stats(void *live, void *gets)") as (
    a: Buffer,
    b: Buffer,
  ) => number;
  const live = Buffer.alloc(4);
  const gets = Buffer.alloc(8);
  fn(live, gets);
  return { live: live.readUInt32LE(0), gets: Number(gets.readBigUInt64LE(0)) };
}

export interface Session {
  readonly reader: NvmlReader;
  readonly file: ScenarioFile;
}

/** Opens a reader on a fresh scenario; the caller closes it. */
export async function openSession(
  settings: ScenarioSettings,
  library: "full" | "old" = "full",
  options: Partial<NvmlReaderOptions> = {},
): Promise<Session> {
  const file = await scenarioFile(settings);
  process.env["FAKE_NVML_SCENARIO"] = file.path;
  const reader = new NvmlReader(loadNvmlLibrary((await fakeLibraries())[library]), { maxBackoffMs: 8_000, ...options });
  reader.open();
  return { reader, file };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Longer than nvml.h's 100 ms between GPM samples. */
export const GPM_WAIT_MS = 130;

export function byIndex(gpus: readonly GpuRaw[], index: number): GpuRaw {
  const found = gpus.find((g) => g.index === index);
  if (!found) throw new Error(`no gpu ${index}`);
  return found;
}
