/**
 * The run-time half of the no-sync-I/O rule (the static half is no-sync-io.test.ts): the real
 * agent process, with the synchronous subprocess and fs functions and os.cpus() wrapped before its
 * first module loads (test/fixtures/sync-io-guard.ts), runs every timer path — GPU rounds, host
 * rounds from /proc, pod attribution from a kubelet socket and the Kubernetes API, a runtime
 * target, the InfluxDB sink spooling to disk — while it is scraped in both formats, serves its
 * snapshot and takes OTLP spans over HTTP and gRPC; not one guarded call may happen meanwhile.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { METRICS } from "../../common/conventions.js";
import { projectPath } from "../../common/paths.js";
import { scrapeUntil, startAgentProcess, type AgentProcess } from "../fixtures/agent-process.js";
import { find, valueOf, type Series } from "../fixtures/exposition.js";
import { apiPod, FakeKubeApi, FakeKubelet, kubeletPod } from "../fixtures/fake-kubelet.js";
import { gpu, scenarioFile } from "../fixtures/nvml-scenario.js";
import type { GuardReport } from "../fixtures/sync-io-guard.js";
import { buildFakeNvml } from "../setup/build-fake-nvml.js";
import { encodeSpanBatch, postSpans } from "../reliability/span-load.js";
import { rawExport, rawGrpcClient } from "./receivers/grpc-client.js";
import { GIB } from "../../common/units.js";

const GUARD = projectPath("dist/test/fixtures/sync-io-guard.js");
const execFileAsync = promisify(execFile);

const reportSchema = z.object({
  calls: z.array(z.object({ name: z.string(), stack: z.string() })),
  wasArmed: z.boolean(),
  callsBeforeArming: z.number(),
}) satisfies z.ZodType<GuardReport>;

async function readReport(path: string): Promise<GuardReport> {
  return reportSchema.parse(JSON.parse(await readFile(path, "utf8")));
}

describe("the sync-I/O guard itself", () => {
  it("records a subprocess function a module kept a reference to before arming, and an ESM named fs import, once armed", async () => {
    const dir = await mkdtemp(join(tmpdir(), "inferwatch-guard-"));
    const report = join(dir, "report.json");
    const script = [
      'import { createRequire } from "node:module";',
      'import { readFileSync } from "node:fs";',
      'const execSync = createRequire(import.meta.url)("node:child_process").execSync;',
      'readFileSync("/proc/self/stat");', // before arming: not recorded
      "process.kill(process.pid, 'SIGUSR2');",
      "setTimeout(() => { readFileSync('/proc/self/stat'); execSync('true'); }, 50);",
    ].join("\n");
    try {
      await execFileAsync(process.execPath, ["--import", GUARD, "--input-type=module", "-e", script], {
        env: { ...process.env, SYNC_IO_GUARD_REPORT: report },
      });
      const result = await readReport(report);
      expect(result.wasArmed).toBe(true);
      expect(result.calls.map((call) => call.name)).toEqual(["readFileSync", "execSync"]);
      expect(result.callsBeforeArming).toBeGreaterThanOrEqual(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("inferwatch agent with every collector on", () => {
  let dir = "";
  let agent: AgentProcess | undefined;
  let runtime: Server | undefined;
  let kubelet: FakeKubelet | undefined;
  const kubeApi = new FakeKubeApi();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "inferwatch-nosync-"));
    const libs = await buildFakeNvml();
    const uuid0 = String(gpu(0)["uuid"]);
    const podUid = "8f2a1c3e-5b6d-4e7f-9a0b-1c2d3e4f5a6b";
    const containerId = "c".repeat(64);
    kubelet = new FakeKubelet(join(dir, "kubelet.sock"));
    kubelet.pods = [kubeletPod("llm", "vllm-7b-0", "vllm", { "nvidia.com/gpu": [uuid0] })];
    kubeApi.items = [
      apiPod("llm", "vllm-7b-0", podUid, {
        labels: { "inferwatch.io/model": "llama-3-8b" },
        containers: { vllm: containerId },
      }),
    ];
    await kubelet.start();
    const apiUrl = await kubeApi.start();
    await mkdir(join(dir, "proc", "4242"), { recursive: true });
    await writeFile(
      join(dir, "proc", "4242", "cgroup"),
      `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${podUid.replaceAll("-", "_")}.slice/cri-containerd-${containerId}.scope\n`,
    );
    const page = await readFile(projectPath("test/fixtures/runtime-pages/vllm.prom"), "utf8");
    runtime = createServer((_, response) =>
      response.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(page),
    );
    await new Promise<void>((resolve) => runtime?.listen(0, "127.0.0.1", resolve));
    const runtimeUrl = `http://127.0.0.1:${(runtime.address() as AddressInfo).port}/metrics`;
    // An InfluxDB that is not there: the sink spools every tick and retries its sends.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const influxPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const config = join(dir, "inferwatch.yaml");
    await writeFile(
      config,
      ["agent:", "  runtimes:", "    interval: 1s", "    timeout: 1s", "    targets:", `      - ${runtimeUrl}`].join(
        "\n",
      ),
    );
    const scenario = await scenarioFile({ gpus: [0, 1, 2].map((i) => gpu(i, { procs: [[4242 + i, 8 * GIB]] })) });
    agent = await startAgentProcess(
      [
        "--config",
        config,
        "--nvml-library",
        libs.full,
        "--interval",
        "200ms",
        "--host-interval",
        "1s",
        "--model-path",
        dir,
        "--pods-refresh-interval",
        "1s",
        "--pod-resources-socket",
        kubelet.socketPath,
        "--proc-root",
        join(dir, "proc"),
        "--kube-api-url",
        apiUrl,
        "--influx-url",
        `http://127.0.0.1:${influxPort}`,
        "--influx-flush-interval",
        "1s",
        "--influx-spool-dir",
        join(dir, "spool"),
      ],
      {
        FAKE_NVML_SCENARIO: scenario.path,
        NODE_OPTIONS: `--import ${GUARD}`,
        SYNC_IO_GUARD_REPORT: join(dir, "guard.json"),
      },
    );
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await kubelet?.stop();
    await kubeApi.stop();
    await new Promise<void>((resolve) => (runtime ? runtime.close(() => resolve()) : resolve()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("makes no synchronous subprocess, fs or os.cpus() call while it samples, is scraped and takes spans", async () => {
    const a = agent as AgentProcess;
    const ready = (s: Series[]) =>
      valueOf(s, "inferwatch_gpu_process_memory_bytes", { pid: "4242", pod: "vllm-7b-0" }) !== undefined &&
      valueOf(s, METRICS.hostMemoryTotal.name) !== undefined &&
      find(s, "inferwatch_runtime_scrape_up").some((series) => series.value === 1);
    await scrapeUntil(a, ready, 20_000);
    const timestamps = new Map<string, Set<number>>();
    const note = (series: Series[]) => {
      for (const s of find(series, METRICS.sampleTimestamp.name)) {
        const collector = s.labels["collector"] ?? "";
        timestamps.set(collector, (timestamps.get(collector) ?? new Set()).add(s.value));
      }
    };
    const before = (await a.scrape()).series;
    const spooledBefore = valueOf(before, METRICS.influxPointsSpooled.name) ?? 0;
    const gpuRoundsBefore = valueOf(before, METRICS.collectorRuns.name, { collector: "gpu" }) ?? 0;
    const podListsBefore = kubelet?.listCalls ?? 0;
    a.child.kill("SIGUSR2");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const http = await import("node:http");
    const keepAlive = new http.Agent({ keepAlive: true });
    const grpcPort = Number(a.otlpGrpc?.split(":").at(-1));
    const grpc = rawGrpcClient(grpcPort);
    const body = encodeSpanBatch(20);
    const statuses: number[] = [];
    let grpcOk = 0;
    try {
      const until = Date.now() + 5_000;
      for (let i = 0; Date.now() < until; i++) {
        const accept = i % 2 === 0 ? "application/openmetrics-text; version=1.0.0" : "text/plain";
        note((await a.scrape(accept)).series);
        expect((await fetch(`${a.url}/v1/snapshot`)).status).toBe(200);
        expect((await fetch(`${a.url}/healthz`)).status).toBe(200);
        statuses.push(await postSpans(keepAlive, a.otlpHttp ?? "", body));
        if ((await rawExport(grpc, body)).ok) grpcOk++;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      note((await a.scrape()).series);
    } finally {
      grpc.close();
      keepAlive.destroy();
    }
    const last = (await a.scrape()).series;
    expect(await a.stop()).toBe(0);
    agent = undefined;

    // The timer paths really ran while the guard recorded: at 200 ms the GPU rounds come in batches
    // of five (the event loop takes them once a second), each round counted.
    expect(
      (valueOf(last, METRICS.collectorRuns.name, { collector: "gpu" }) ?? 0) - gpuRoundsBefore,
    ).toBeGreaterThanOrEqual(15);
    expect(timestamps.get("gpu")?.size ?? 0).toBeGreaterThanOrEqual(3);
    expect(timestamps.get("host")?.size ?? 0).toBeGreaterThanOrEqual(3);
    expect(timestamps.get("runtimes")?.size ?? 0).toBeGreaterThanOrEqual(2);
    expect((kubelet?.listCalls ?? 0) - podListsBefore).toBeGreaterThanOrEqual(2);
    expect((valueOf(last, METRICS.influxPointsSpooled.name) ?? 0) - spooledBefore).toBeGreaterThan(0);
    expect(statuses.length).toBeGreaterThan(5);
    expect(statuses.every((status) => status === 200)).toBe(true);
    expect(grpcOk).toBe(statuses.length);

    const report = await readReport(join(dir, "guard.json"));
    expect(report.wasArmed).toBe(true);
    expect(report.calls.map((call) => `${call.name}\n${call.stack}`)).toEqual([]);
  }, 60_000);
});
