/**
 * Process lists through the reader on every driver behaviour the fake models: the versioned detail
 * list where the driver has it, `_v3` with 16-, 24- or 32-byte entries where it does not.
 */
import { afterEach, describe, expect, it } from "vitest";
import { NvmlReturn } from "../../../agent/nvml/nvml-abi.js";
import type { NvmlReader } from "../../../agent/nvml/nvml-reader.js";
import { gpu } from "../../fixtures/nvml-scenario.js";
import { openSession } from "./nvml-test-session.js";
import { GIB } from "../../../common/units.js";

const PROCS = [
  [101, 3 * GIB],
  [202, 5 * GIB],
  [303, 7 * GIB],
] as const;
const EXPECTED = PROCS.map(([pid, bytes]) => ({ pid, usedMemoryBytes: bytes }));
let reader: NvmlReader | undefined;

afterEach(() => {
  reader?.close();
  reader = undefined;
});

describe("process lists", () => {
  it("reads nvmlDeviceGetRunningProcessDetailList where the driver has it (a _v3 that fails is never asked)", async () => {
    const session = await openSession({
      forced: [["nvmlDeviceGetComputeRunningProcesses_v3", NvmlReturn.UNKNOWN]],
      gpus: [gpu(0, { procs: PROCS })],
    });
    reader = session.reader;
    const sample = reader.sample();
    expect(sample.gpus[0]?.processes).toEqual(EXPECTED);
    expect(sample.errors).toEqual([]);
  });

  it.each([16, 24, 32])(
    "falls back to _v3 when the detail list is not supported, and decodes its %i-byte entries",
    async (size) => {
      const session = await openSession({
        process_entry_size: size,
        forced: [["nvmlDeviceGetRunningProcessDetailList", NvmlReturn.NOT_SUPPORTED]],
        gpus: [gpu(0, { procs: PROCS })],
      });
      reader = session.reader;
      expect(reader.sample().gpus[0]?.processes).toEqual(EXPECTED);
      expect(reader.sample().gpus[0]?.processes).toEqual(EXPECTED);
    },
  );

  it("uses _v2 on an old driver without the detail list or _v3", async () => {
    const session = await openSession({ gpus: [gpu(0, { procs: PROCS })] }, "old");
    reader = session.reader;
    expect(reader.sample().gpus[0]?.processes).toEqual(EXPECTED);
  });
});
