/**
 * scripts/device-check.sh against the fake NVML library, as a later session runs it against the
 * real one: it starts the agent, reports NVML, GPM support and activity, the sampler's timings and
 * the disabled fields with their reasons, prints /metrics and stops the agent it started.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { beforeAll, expect, it } from "vitest";
import { projectPath } from "../../common/paths.js";
import { buildFakeNvml, type FakeNvmlLibraries } from "../setup/build-fake-nvml.js";
import { gpu, NO_GPM, scenarioFile } from "../fixtures/nvml-scenario.js";
import { GIB } from "../../common/units.js";

const run = promisify(execFile);
let libs: FakeNvmlLibraries;

beforeAll(async () => {
  libs = await buildFakeNvml();
});

it("reports GPM support, activity, timings and disabled fields from a run against the library it is given", async () => {
  const file = await scenarioFile({
    cuda_driver_version: 13010,
    driver_version: "590.44.01",
    gpus: [
      gpu(0, { "gpm.sm_util": 35 }),
      gpu(1, { name: "NVIDIA A100-SXM4-80GB", ...NO_GPM, not_supported: "temp" }),
      gpu(2, { mig_mode: 1, migs: [[1, 0, "3g.40gb", 40 * GIB, 4 * GIB]], mig_gpm: [[1, "sm_util", 70]] }),
    ],
  });
  const { stdout } = await run("bash", [projectPath("scripts/device-check.sh"), libs.full, "3"], {
    cwd: projectPath(),
    env: { ...process.env, FAKE_NVML_SCENARIO: file.path },
    timeout: 60_000,
  });
  expect(stdout).toContain("driver 590.44.01  CUDA 13010  field numbering 13.1-and-newer  GPUs 3");
  expect(stdout).toMatch(/^0\tNVIDIA H100 80GB HBM3\t1\tyes\t50\.0%\t35\.0%\t10\.0%\t25\.0%\t/m);
  expect(stdout).toMatch(/^1\tNVIDIA A100-SXM4-80GB\t1\tno\t51\.0%\t-\t-\t-\t/m);
  expect(stdout).toMatch(/^2\tNVIDIA H100 80GB HBM3\t1\tyes\t-\t30\.0%\t/m); // 3 of 7 slices at 70 %
  expect(stdout).toContain("gpu 2 gi 1 ci 0 3g.40gb: memory 4.0 / 40.0 GiB, sm 70.0%");
  expect(stdout).toMatch(/rounds seen [1-9]\d*; wall time per round \(collector duration\) min \d/);
  expect(stdout).toMatch(/agent CPU \d+\.\d+ s over \d+ s/);
  expect(stdout).toContain("GPU-00000001-1111-2222-3333-444444444444 temp: NOT_SUPPORTED");
  expect(stdout).toContain("GPU-00000001-1111-2222-3333-444444444444 gpm: NOT_SUPPORTED");
  expect(stdout).toContain("GPU-00000002-1111-2222-3333-444444444444 util: NOT_SUPPORTED");
  expect(stdout).toMatch(/^inferwatch_gpu_sm_active_ratio\{.*gpu="0".*\} 0\.35$/m);
}, 90_000);

it("exits 1 and says why when NVML cannot be loaded", async () => {
  const failure = await run("bash", [projectPath("scripts/device-check.sh"), "/nonexistent/libnvidia-ml.so.1", "1"], {
    cwd: projectPath(),
    timeout: 60_000,
  }).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(failure).toMatchObject({ code: 1 });
  expect(String((failure as { stdout?: unknown }).stdout)).toContain("inferwatch_nvml_up 0");
}, 90_000);
