/**
 * The agent as an operator runs it: `inferwatch agent` in its own process, loading the fake NVML
 * library through koffi, scraped over HTTP.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildFakeNvml, type FakeNvmlLibraries } from "../setup/build-fake-nvml.js";
import { find, valueOf } from "../fixtures/exposition.js";
import { scrapeUntil, startAgentProcess, type AgentProcess } from "../fixtures/agent-process.js";
import { gpu, scenarioFile, type ScenarioSettings } from "../fixtures/nvml-scenario.js";
import { waitFor } from "../fixtures/wait.js";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { apiPod, FakeKubeApi, FakeKubelet, kubeletPod } from "../fixtures/fake-kubelet.js";
import { GIB } from "../../common/units.js";

let libs: FakeNvmlLibraries;
let agent: AgentProcess | undefined;

beforeAll(async () => {
  libs = await buildFakeNvml();
});

afterEach(async () => {
  await agent?.stop();
  agent = undefined;
});

async function start(
  settings: ScenarioSettings,
  args: readonly string[] = [],
): Promise<{ agent: AgentProcess; write: (s: ScenarioSettings) => Promise<void> }> {
  const file = await scenarioFile(settings);
  agent = await startAgentProcess(["--nvml-library", libs.full, "--pods", "false", ...args], {
    FAKE_NVML_SCENARIO: file.path,
  });
  return { agent, write: (s) => file.write(s) };
}

const UUID0 = "GPU-00000000-1111-2222-3333-444444444444";
const UUID1 = "GPU-00000001-1111-2222-3333-444444444444";
const g0 = { node: "test-node", gpu: "0", uuid: UUID0, gpu_model: "NVIDIA H100 80GB HBM3" };

describe("inferwatch agent", () => {
  it("serves every GPU metric with the scenario's values, in base units, within two sampling intervals", async () => {
    const started = Date.now();
    const { agent: a } = await start({ gpus: [gpu(0, { procs: [[4242, 8 * GIB]], throttle: "0x44" }), gpu(1)] });
    const series = await scrapeUntil(
      a,
      (s) =>
        valueOf(s, "inferwatch_gpu_up", { uuid: UUID1 }) === 1 &&
        valueOf(s, "inferwatch_agent_sample_age_seconds", { collector: "host" }) !== undefined,
      2_000 + 1_000,
    );
    expect(Date.now() - started).toBeLessThan(2 * 1_000 + 2_000); // two 1 s intervals, plus process start
    expect(valueOf(series, "inferwatch_nvml_up")).toBe(1);
    expect(find(series, "inferwatch_nvml_info")[0]?.labels).toMatchObject({
      driver_version: "550.54.15",
      nvml_version: "12.550.54.15",
      cuda_driver_version: "12040",
    });
    expect(find(series, "inferwatch_gpu_info", g0)[0]?.labels).toMatchObject({
      driver_version: "550.54.15",
      pci_bus_id: "00000000:17:00.0",
      source: "nvml",
    });
    const expected: [string, number][] = [
      ["inferwatch_gpu_up", 1],
      ["inferwatch_gpu_utilization_ratio", 0.5],
      ["inferwatch_gpu_memory_utilization_ratio", 0.2],
      ["inferwatch_gpu_memory_used_bytes", 10 * GIB],
      ["inferwatch_gpu_memory_total_bytes", 80 * GIB],
      ["inferwatch_gpu_memory_reserved_bytes", 512 * 1024 * 1024],
      ["inferwatch_gpu_temperature_celsius", 60],
      ["inferwatch_gpu_power_watts", 300],
      ["inferwatch_gpu_power_limit_watts", 700],
      ["inferwatch_gpu_sm_clock_hertz", 1.98e9],
      ["inferwatch_gpu_memory_clock_hertz", 2.619e9],
      ["inferwatch_gpu_row_remap_pending", 0],
      ["inferwatch_gpu_row_remap_failure", 0],
      ["inferwatch_gpu_mig_mode", 0],
    ];
    for (const [name, value] of expected) expect([name, valueOf(series, name, g0)]).toEqual([name, value]);
    expect(valueOf(series, "inferwatch_gpu_energy_joules_total", g0)).toBeGreaterThanOrEqual(1000);
    expect(valueOf(series, "inferwatch_gpu_throttled", { ...g0, reason: "sw_power_cap" })).toBe(1);
    expect(valueOf(series, "inferwatch_gpu_throttled", { ...g0, reason: "hw_thermal_slowdown" })).toBe(1);
    expect(valueOf(series, "inferwatch_gpu_throttled", { ...g0, reason: "gpu_idle" })).toBe(0);
    expect(valueOf(series, "inferwatch_gpu_ecc_errors_total", { uuid: UUID1, type: "corrected" })).toBe(1);
    expect(valueOf(series, "inferwatch_gpu_ecc_errors_total", { uuid: UUID1, type: "uncorrected" })).toBe(0);
    expect(valueOf(series, "inferwatch_gpu_remapped_rows_total", { ...g0, type: "correctable" })).toBe(1);
    expect(find(series, "inferwatch_gpu_nvlink_link_up", g0).map((s) => s.value)).toEqual([1, 1, 1, 1]);
    expect(valueOf(series, "inferwatch_gpu_process_memory_bytes", { ...g0, pid: "4242" })).toBe(8 * GIB);
    expect(valueOf(series, "inferwatch_agent_collector_success", { collector: "gpu" })).toBe(1);
    expect(valueOf(series, "inferwatch_agent_sample_age_seconds", { collector: "gpu" })).toBeLessThan(2);
    expect(valueOf(series, "inferwatch_host_cpu_cores")).toBeGreaterThanOrEqual(1);
  });

  it("counts XID events per GPU and code, with the time last seen", async () => {
    const settings = { gpus: [gpu(0), gpu(1)] };
    const { agent: a, write } = await start(settings, ["--interval", "200ms"]);
    await scrapeUntil(a, (s) => valueOf(s, "inferwatch_gpu_up", { uuid: UUID1 }) === 1);
    const before = Date.now() / 1000;
    await write({
      ...settings,
      events: [
        [1, 1, 79],
        [2, 1, 79],
        [3, 0, 13],
      ],
    });
    const series = await scrapeUntil(
      a,
      (s) => valueOf(s, "inferwatch_gpu_xid_errors_total", { uuid: UUID1, xid: "79" }) === 2,
    );
    expect(valueOf(series, "inferwatch_gpu_xid_errors_total", { uuid: UUID0, xid: "13", gpu: "0" })).toBe(1);
    expect(
      valueOf(series, "inferwatch_gpu_xid_last_timestamp_seconds", { uuid: UUID1, xid: "79" }),
    ).toBeGreaterThanOrEqual(before - 1);
  });

  it("keeps the other GPUs' series when one is lost, and brings its series back when it returns", async () => {
    const settings = { gpus: [gpu(0), gpu(1), gpu(2)] };
    const { agent: a, write } = await start(settings, ["--interval", "200ms", "--gpu-max-backoff", "1s"]);
    await scrapeUntil(a, (s) => find(s, "inferwatch_gpu_up").filter((x) => x.value === 1).length === 3);
    await write({ gpus: [gpu(0), gpu(1, { lost: 1 }), gpu(2)] });
    const lost = await scrapeUntil(a, (s) => valueOf(s, "inferwatch_gpu_up", { uuid: UUID1 }) === 0);
    expect(find(lost, "inferwatch_gpu_utilization_ratio").map((s) => [s.labels["gpu"], s.value])).toEqual([
      ["0", 0.5],
      ["2", 0.52],
    ]);
    expect(valueOf(lost, "inferwatch_gpu_up", { gpu: "0" })).toBe(1);
    expect(find(lost, "inferwatch_gpu_info", { uuid: UUID1 })).toHaveLength(1);
    await write(settings);
    const back = await scrapeUntil(a, (s) => valueOf(s, "inferwatch_gpu_utilization_ratio", { uuid: UUID1 }) === 0.51);
    expect(valueOf(back, "inferwatch_gpu_up", { uuid: UUID1 })).toBe(1);
    expect(a.logs().some((l) => l["msg"] === "GPU down; retrying with backoff" && l["uuid"] === UUID1)).toBe(true);
    expect(a.logs().some((l) => l["msg"] === "GPU answers again" && l["uuid"] === UUID1)).toBe(true);
  });

  it("starts without any NVML library, says so once, and serves nvml_up 0 and the host metrics", async () => {
    agent = await startAgentProcess([
      "--nvml-library",
      "/nonexistent/libnvidia-ml.so.1",
      "--pods",
      "false",
      "--interval",
      "200ms",
    ]);
    // Ready means every collector ran once: the host's /proc reads can finish before the GPU's first NVML attempt.
    const series = await scrapeUntil(
      agent,
      (s) =>
        valueOf(s, "inferwatch_host_memory_total_bytes") !== undefined &&
        (valueOf(s, "inferwatch_agent_collector_runs_total", { collector: "gpu" }) ?? 0) >= 1,
    );
    expect(valueOf(series, "inferwatch_nvml_up")).toBe(0);
    expect(find(series, "inferwatch_gpu_up")).toEqual([]);
    expect(valueOf(series, "inferwatch_host_memory_available_bytes")).toBeGreaterThan(0);
    expect((await fetch(`${agent.url}/readyz`)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 600));
    const warnings = agent.logs().filter((l) => String(l["msg"]).startsWith("NVML unavailable"));
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]?.["err"])).toContain("/nonexistent/libnvidia-ml.so.1");
  });

  it("keeps serving while nvmlInit hangs, and reports NVML down", async () => {
    const { agent: a } = await start({ init_delay_ms: 20_000, gpus: [gpu(0)] }, [
      "--nvml-init-timeout",
      "300ms",
      "--interval",
      "200ms",
    ]);
    const series = await scrapeUntil(a, (s) => valueOf(s, "inferwatch_host_cpu_cores") !== undefined);
    expect(valueOf(series, "inferwatch_nvml_up")).toBe(0);
    const t0 = performance.now();
    const health = await fetch(`${a.url}/healthz`);
    expect(health.status).toBe(200);
    expect(performance.now() - t0).toBeLessThan(500);
    await waitFor(() =>
      a.logs().some((l) => typeof l["err"] === "string" && l["err"].includes("open did not return within 300 ms")),
    );
    // The hung call's thread would hold a normal exit for the rest of the 20 s delay.
    const stopping = performance.now();
    await a.stop();
    agent = undefined;
    expect(performance.now() - stopping).toBeLessThan(5_000);
    expect(a.child.signalCode).toBe("SIGTERM");
  });

  it("answers OpenMetrics when the scraper asks for it", async () => {
    const { agent: a } = await start({ gpus: [gpu(0)] });
    await scrapeUntil(a, (s) => valueOf(s, "inferwatch_gpu_up", g0) === 1);
    const om = await a.scrape("application/openmetrics-text; version=1.0.0");
    expect(om.contentType).toContain("application/openmetrics-text");
    expect(om.text.trimEnd().endsWith("# EOF")).toBe(true);
    expect(om.text).toContain("# TYPE inferwatch_gpu_energy_joules counter");
    const plain = await a.scrape();
    expect(plain.contentType).toContain("text/plain; version=0.0.4");
    expect(plain.text).toContain("# TYPE inferwatch_gpu_energy_joules_total counter");
  });

  it("serves this node's GPUs and processes as a JSON snapshot, and health endpoints", async () => {
    const { agent: a } = await start({ gpus: [gpu(0, { procs: [[99, GIB]] })] });
    await scrapeUntil(a, (s) => valueOf(s, "inferwatch_gpu_up", g0) === 1);
    const snapshot = (await (await fetch(`${a.url}/v1/snapshot`)).json()) as {
      node: string;
      nvml: { isUp: boolean };
      gpus: { uuid: string; utilizationRatio: number; processes: unknown[] }[];
    };
    expect(snapshot.node).toBe("test-node");
    expect(snapshot.nvml.isUp).toBe(true);
    expect(snapshot.gpus[0]).toMatchObject({
      uuid: UUID0,
      utilizationRatio: 0.5,
      processes: [{ pid: 99, memoryBytes: GIB }],
    });
    // Ready once every collector has run once (the host collector's first run can trail the GPU's).
    let ready = 0;
    await waitFor(
      () => ready === 200,
      10_000,
      async () => {
        ready = (await fetch(`${a.url}/readyz`)).status;
      },
    );
    expect((await fetch(`${a.url}/nope`)).status).toBe(404);
    expect((await fetch(`${a.url}/metrics`, { method: "POST" })).status).toBe(405);
  });

  it("stops cleanly on SIGTERM", async () => {
    const { agent: a } = await start({ gpus: [gpu(0)] });
    await scrapeUntil(a, (s) => valueOf(s, "inferwatch_gpu_up", g0) === 1);
    expect(await a.stop()).toBe(0);
    agent = undefined;
  });

  it("labels GPU and process series with the pod, container and model holding the GPU", async () => {
    const dir = await mkdtemp(join(tmpdir(), "inferwatch-pods-"));
    const kubelet = new FakeKubelet(join(dir, "kubelet.sock"));
    const api = new FakeKubeApi();
    const podUid = "8f2a1c3e-5b6d-4e7f-9a0b-1c2d3e4f5a6b";
    const containerId = "c".repeat(64);
    kubelet.pods = [kubeletPod("llm", "vllm-7b-0", "vllm", { "nvidia.com/gpu": [UUID0] })];
    api.items = [
      apiPod("llm", "vllm-7b-0", podUid, {
        labels: { "inferwatch.io/model": "llama-3-8b" },
        containers: { vllm: containerId },
      }),
    ];
    await kubelet.start();
    const apiUrl = await api.start();
    await mkdir(join(dir, "proc", "4242"), { recursive: true });
    await writeFile(
      join(dir, "proc", "4242", "cgroup"),
      `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${podUid.replaceAll("-", "_")}.slice/cri-containerd-${containerId}.scope\n`,
    );
    try {
      const file = await scenarioFile({
        gpus: [
          gpu(0, {
            procs: [
              [4242, 8 * GIB],
              [5555, GIB],
            ],
          }),
          gpu(1),
        ],
      });
      agent = await startAgentProcess(
        [
          "--nvml-library",
          libs.full,
          "--interval",
          "200ms",
          "--pods-refresh-interval",
          "200ms",
          "--pod-resources-socket",
          kubelet.socketPath,
          "--proc-root",
          join(dir, "proc"),
          "--kube-api-url",
          apiUrl,
        ],
        { FAKE_NVML_SCENARIO: file.path },
      );
      const holder = { namespace: "llm", pod: "vllm-7b-0", container: "vllm", model: "llama-3-8b" };
      const series = await scrapeUntil(
        agent,
        (s) => valueOf(s, "inferwatch_gpu_process_memory_bytes", { pid: "4242", ...holder }) !== undefined,
      );
      expect(valueOf(series, "inferwatch_gpu_utilization_ratio", { ...g0, ...holder })).toBe(0.5);
      expect(valueOf(series, "inferwatch_gpu_pod_info", { ...g0, ...holder })).toBe(1);
      expect(find(series, "inferwatch_gpu_utilization_ratio", { uuid: UUID1 })[0]?.labels).not.toHaveProperty("pod");
      expect(find(series, "inferwatch_gpu_process_memory_bytes", { pid: "5555" })[0]?.labels).not.toHaveProperty("pod");
      expect(valueOf(series, "inferwatch_pod_resources_up")).toBe(1);
    } finally {
      await kubelet.stop();
      await api.stop();
    }
  });

  it("exits non-zero and lists every configuration problem", async () => {
    await expect(startAgentProcess(["--interval", "fast", "--nvml-init-timeout", "-1s"])).rejects.toThrow(
      /exited with 2[\s\S]*agent\.interval: expected a positive duration[\s\S]*agent\.nvml\.initTimeout/,
    );
  });
});
