/**
 * From the fake NVML to the analyzer's figures: an agent on a Hopper GPU, a pre-Hopper GPU, a MIG
 * Hopper GPU and a MIG A100 (as an unprivileged container sees them), pulled into the analyzer's
 * store. SM activity where the GPU reports it, busy time on the A100 (saying so), the MIG H100's
 * activity from its instances, and no figure (never 0 %) for the MIG A100.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { assembleFleetSnapshot, poolResolver } from "../../../analyzer/fleet/assemble.js";
import { evaluateFleet } from "../../../analyzer/fleet/evaluate.js";
import { AgentPuller } from "../../../analyzer/stores/agent-puller.js";
import { MemoryStore } from "../../../analyzer/stores/memory-store.js";
import { startAgentProcess, type AgentProcess } from "../../fixtures/agent-process.js";
import { valueOf } from "../../fixtures/exposition.js";
import { gpu, NO_GPM, scenarioFile } from "../../fixtures/nvml-scenario.js";
import { buildFakeNvml } from "../../setup/build-fake-nvml.js";
import { GIB } from "../../../common/units.js";

let agent: AgentProcess | undefined;

beforeAll(async () => {
  const libs = await buildFakeNvml();
  const file = await scenarioFile({
    gpus: [
      gpu(0, { util_gpu: 90, "gpm.sm_util": 30 }),
      gpu(1, { name: "NVIDIA A100-SXM4-80GB", util_gpu: 60, ...NO_GPM }),
      gpu(2, { mig_mode: 1, migs: [[1, 0, "3g.40gb", 40 * GIB, 4 * GIB]], mig_gpm: [[1, "sm_util", 70]] }),
      gpu(3, { name: "NVIDIA A100-SXM4-80GB", ...NO_GPM, mig_mode: 1, migs: [[1, 0, "3g.40gb", 40 * GIB, 4 * GIB]] }),
    ],
  });
  agent = await startAgentProcess(
    [
      "--nvml-library",
      libs.full,
      "--interval",
      "200ms",
      "--pods",
      "false",
      "--host-metrics",
      "false",
      "--otlp",
      "false",
    ],
    { FAKE_NVML_SCENARIO: file.path },
  );
  for (let i = 0; i < 100; i++) {
    const { series } = await agent.scrape();
    if (
      valueOf(series, "inferwatch_gpu_sm_active_ratio", { gpu: "0" }) !== undefined &&
      valueOf(series, "inferwatch_gpu_sm_active_ratio", { gpu: "2" }) !== undefined
    )
      break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}, 60_000);

afterAll(async () => {
  await agent?.stop();
});

it("gives SM activity where the GPUs report it, busy time on the A100 and no figure for the MIG A100", async () => {
  const store = new MemoryStore();
  let clock = Date.UTC(2024, 0, 1);
  const puller = new AgentPuller({
    targets: [(agent as AgentProcess).url],
    store,
    intervalMs: 60_000,
    timeoutMs: 5_000,
    now: () => clock,
  });
  for (let i = 0; i < 4; i++) {
    await puller.pullOnce();
    clock += 60_000;
  }
  clock -= 60_000;
  const snapshot = await assembleFleetSnapshot(store, clock, poolResolver([]), {}, { basis: "sm" });
  const gpus = snapshot.nodes.flatMap((node) => node.gpus).sort((a, b) => a.index - b.index);
  expect(gpus.map((g) => [g.index, g.utilizationBasis])).toEqual([
    [0, "sm"],
    [1, "busy"],
    [2, "sm"],
    [3, "unknown"],
  ]);
  expect(gpus[0]?.utilizationRatio).toBeCloseTo(0.3, 9);
  expect(gpus[1]?.utilizationRatio).toBeCloseTo(0.6, 9);
  expect(gpus[2]?.utilizationRatio).toBeCloseTo((3 * 0.7) / 7, 9);
  expect(gpus[3]?.utilizationRatio).toBeNull();
  // The MIG GPUs' memory is their instances' (the parent refuses an unprivileged caller), not 0.
  expect(gpus[3]?.memoryTotalBytes).toBe(40 * GIB);

  const fleet = await evaluateFleet(store, snapshot, { atMs: clock, targetRatio: 0.6, prices: {}, basis: "sm" });
  expect(fleet.basis).toEqual({ configured: "sm", gpus: { sm: 2, busy: 1, unknown: 1 } });
  expect(fleet.utilization.hour.pools[0]).toMatchObject({ key: "default", basis: "mixed", gpus: 3 });
  expect(fleet.utilization.hour.pools[0]?.meanRatio).toBeCloseTo((0.3 + 0.6 + 0.3) / 3, 6);
}, 60_000);
