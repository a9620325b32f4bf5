/**
 * The agent's GPU exposition for one fixed scenario, compared line by line with a golden file
 * (test/fixtures/golden/agent-metrics.prom; UPDATE_GOLDEN=1 rewrites it). Only the energy counter
 * moves with time in the fake library, so its value is checked and then masked, as is the
 * library's path (it depends on where the repository is checked out).
 */
import { beforeAll, expect, it } from "vitest";
import { buildFakeNvml, type FakeNvmlLibraries } from "../setup/build-fake-nvml.js";
import { startAgentProcess } from "../fixtures/agent-process.js";
import { golden } from "../fixtures/golden.js";
import { gpu, NO_GPM, scenarioFile } from "../fixtures/nvml-scenario.js";
import { valueOf } from "../fixtures/exposition.js";
import { GIB } from "../../common/units.js";

let libs: FakeNvmlLibraries;

beforeAll(async () => {
  libs = await buildFakeNvml();
});

/** GPU and NVML families only: host and self metrics depend on the machine and the clock. */
function gpuFamilies(text: string): string {
  return text
    .split("\n")
    .filter((line) => /^(# (HELP|TYPE) )?inferwatch_(gpu|nvml)_/.test(line))
    .map((line) => line.replace(/^(inferwatch_gpu_energy_joules_total\{[^}]*\}) \S+$/, "$1 <energy>"))
    .map((line) => line.replace(/library="[^"]*"/, 'library="<fake-nvml>"'))
    .join("\n")
    .concat("\n");
}

it("renders the fixed scenario exactly as the golden /metrics", async () => {
  const file = await scenarioFile({
    gpus: [
      gpu(0, {
        procs: [
          [4242, 8 * GIB],
          [4343, 2 * GIB],
        ],
        throttle: "0x44",
        nvlink_down: "2",
      }),
      gpu(1, {
        name: "NVIDIA A100-SXM4-40GB",
        mem_total: 40 * GIB,
        not_supported: "temp",
        ecc_uncorrected: 2,
        ...NO_GPM,
      }),
      gpu(2, {
        mig_mode: 1,
        migs: [
          [1, 0, "3g.40gb", 40 * GIB, 4 * GIB],
          [2, 0, "3g.40gb", 40 * GIB, 0],
        ],
        mig_gpm: [
          [1, "sm_util", 70],
          [1, "tensor_util", 35],
          [2, "sm_util", 0],
        ],
      }),
    ],
  });
  const agent = await startAgentProcess(["--nvml-library", libs.full, "--pods", "false", "--host-metrics", "false"], {
    FAKE_NVML_SCENARIO: file.path,
    NODE_NAME: "golden-node",
  });
  try {
    let scrape = await agent.scrape();
    // GPM needs two rounds (two samples over 100 ms apart) before the activity series appear.
    const isComplete = () =>
      valueOf(scrape.series, "inferwatch_gpu_up", { gpu: "2" }) === 1 &&
      valueOf(scrape.series, "inferwatch_gpu_sm_active_ratio", { gpu: "0" }) !== undefined &&
      valueOf(scrape.series, "inferwatch_gpu_sm_active_ratio", { gpu: "2" }) !== undefined;
    for (let i = 0; i < 100 && !isComplete(); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      scrape = await agent.scrape();
    }
    expect(valueOf(scrape.series, "inferwatch_gpu_energy_joules_total", { gpu: "0" })).toBeGreaterThanOrEqual(1000);
    const text = gpuFamilies(scrape.text);
    expect(text).toBe(await golden("agent-metrics.prom", text));
  } finally {
    await agent.stop();
  }
});
