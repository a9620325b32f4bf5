/**
 * NVML that hangs, then recovers. The fake library's nvmlInit_v2 sleeps `init_delay_ms`
 * (a driver stuck in init, go-nvml#152). The agent must time the call out, keep serving, refuse to
 * pile further calls onto the stuck thread, and bring NVML and the GPU series back once the driver
 * answers again — without a restart. (That it keeps serving and stops promptly while the call hangs
 * is test/agent/agent.e2e.test.ts; this adds the recovery.)
 */
import { afterEach, beforeAll, expect, it } from "vitest";
import { scrapeUntil, startAgentProcess, type AgentProcess } from "../fixtures/agent-process.js";
import { valueOf } from "../fixtures/exposition.js";
import { gpu, scenarioFile } from "../fixtures/nvml-scenario.js";
import { waitFor } from "../fixtures/wait.js";
import { buildFakeNvml, type FakeNvmlLibraries } from "../setup/build-fake-nvml.js";

let libs: FakeNvmlLibraries;
let agent: AgentProcess | undefined;

beforeAll(async () => {
  libs = await buildFakeNvml();
});

afterEach(async () => {
  await agent?.stop();
  agent = undefined;
});

it("times out a hanging nvmlInit, serves meanwhile, and brings NVML and the GPUs back when the driver answers again", async () => {
  const settings = { gpus: [gpu(0), gpu(1)] };
  const file = await scenarioFile({ ...settings, init_delay_ms: 6_000 });
  agent = await startAgentProcess(
    [
      "--nvml-library",
      libs.full,
      "--pods",
      "false",
      "--interval",
      "200ms",
      "--nvml-init-timeout",
      "300ms",
      "--nvml-retry-interval",
      "300ms",
    ],
    { FAKE_NVML_SCENARIO: file.path },
  );
  const a = agent;
  await waitFor(
    () => a.logs().some((l) => typeof l["err"] === "string" && l["err"].includes("open did not return within 300 ms")),
    20_000,
  );
  // The driver recovers; the call already inside nvmlInit still sleeps out its 6 s.
  await file.write(settings);
  const hung = await a.scrape();
  expect(valueOf(hung.series, "inferwatch_nvml_up")).toBe(0);
  expect(valueOf(hung.series, "inferwatch_gpu_up", { gpu: "0" })).toBeUndefined();
  expect((await fetch(`${a.url}/healthz`)).status).toBe(200);
  // Retries while the call hangs are refused, not stacked onto a second stuck thread.
  await waitFor(
    () => a.logs().some((l) => typeof l["err"] === "string" && l["err"].includes("a previous call is still running")),
    10_000,
  );

  const back = await scrapeUntil(a, (s) => valueOf(s, "inferwatch_gpu_up", { gpu: "1" }) === 1, 20_000);
  expect(valueOf(back, "inferwatch_nvml_up")).toBe(1);
  expect(valueOf(back, "inferwatch_gpu_utilization_ratio", { gpu: "0" })).toBe(0.5);
  expect(valueOf(back, "inferwatch_gpu_utilization_ratio", { gpu: "1" })).toBe(0.51);
  expect(a.logs().filter((l) => l["msg"] === "NVML initialised")).toHaveLength(1);
  expect(a.child.exitCode).toBeNull();
  // The recovered agent still stops cleanly.
  expect(await a.stop()).toBe(0);
  agent = undefined;
}, 60_000);
