import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createPodAttributor } from "../../../../agent/collectors/pods/kubelet-pod-attributor.js";
import type { PodAttributor } from "../../../../agent/collectors/pods/pod-attribution.js";
import { apiPod, FakeKubeApi, FakeKubelet, kubeletPod, NODE } from "../../../fixtures/fake-kubelet.js";
import { waitFor } from "../../../fixtures/wait.js";
import { podsConfigSchema, type PodsConfig } from "../../../../common/config/schema.js";
import { createLogger, silentLogger, type Logger } from "../../../../common/log.js";

const GPU_A = "GPU-0f3c1a52-7d4e-4b1a-9c2d-1e5f6a7b8c9d";
const GPU_B = "GPU-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
const GPU_SHARED = "GPU-9e8d7c6b-5a4f-4e3d-2c1b-0a9f8e7d6c5b";
const GPU_NEW = "GPU-44444444-5555-4666-8777-888888888888";
const MIG = "MIG-7a1b2c3d-4e5f-4071-8293-a4b5c6d7e8f9";
const VLLM_UID = "8f2a1c3e-5b6d-4e7f-9a0b-1c2d3e4f5a6b";
const TGI_UID = "1b2c3d4e-5f60-4718-a9b0-c1d2e3f4a5b6";
const VLLM_CID = "a".repeat(64);
const TGI_CID = "b".repeat(64);

function capturingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(
        ...chunk
          .toString("utf8")
          .split("\n")
          .filter((line) => line !== ""),
      );
      done();
    },
  });
  return { log: createLogger({ level: "debug", destination }), lines };
}

describe("kubelet pod attributor", () => {
  let dir: string;
  let kubelet: FakeKubelet;
  let api: FakeKubeApi;
  let apiUrl: string;
  let procRoot: string;
  let tokenFile: string;
  const attributors: PodAttributor[] = [];

  function config(overrides: Record<string, unknown> = {}): PodsConfig {
    return podsConfigSchema.parse({
      podResourcesSocket: kubelet.socketPath,
      refreshInterval: "100ms",
      procRoot,
      kubeApi: { url: apiUrl, tokenFile, caFile: join(dir, "ca.crt") },
      ...overrides,
    });
  }

  function attributor(cfg: PodsConfig, log: Logger = silentLogger()): PodAttributor {
    const created = createPodAttributor(cfg, NODE, log, { env: {} });
    attributors.push(created);
    return created;
  }

  async function writeCgroup(pid: number, text: string): Promise<void> {
    await mkdir(join(procRoot, String(pid)), { recursive: true });
    await writeFile(join(procRoot, String(pid), "cgroup"), text);
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "inferwatch-pods-"));
    procRoot = join(dir, "proc");
    tokenFile = join(dir, "token");
    await writeFile(tokenFile, "test-token-1\n");

    kubelet = new FakeKubelet(join(dir, "kubelet.sock"));
    kubelet.pods = [
      kubeletPod("llm", "vllm-llama-0", "vllm", {
        "nvidia.com/gpu": [GPU_A, GPU_B],
        "example.com/sriov-nic": ["0000:3b:00.2"],
      }),
      kubeletPod("llm", "tgi-mistral-0", "tgi", { "nvidia.com/mig-1g.18gb": [MIG] }),
      kubeletPod("team-a", "embed-0", "embed", { "nvidia.com/gpu": [`${GPU_SHARED}::2`] }),
      kubeletPod("team-b", "rerank-0", "rerank", { "nvidia.com/gpu": [`${GPU_SHARED}::5`] }),
      kubeletPod("kube-system", "coredns-5d78c9869d-abcde", "coredns", {}),
    ];
    await kubelet.start();

    api = new FakeKubeApi();
    api.items = [
      apiPod("llm", "vllm-llama-0", VLLM_UID, {
        labels: { "inferwatch.io/model": "llama-3.1-70b", app: "vllm" },
        containers: { vllm: VLLM_CID },
      }),
      apiPod("llm", "tgi-mistral-0", TGI_UID, {
        annotations: { "inferwatch.io/model": "mistral-7b" },
        containers: { tgi: TGI_CID },
      }),
      apiPod("team-a", "embed-0", "uid-embed", {
        labels: { "inferwatch.io/model": "bge-m3" },
        annotations: { "inferwatch.io/model": "ignored" },
      }),
      apiPod("team-b", "rerank-0", "uid-rerank", {}),
      apiPod("kube-system", "coredns-5d78c9869d-abcde", "uid-dns", {}),
    ];
    apiUrl = await api.start();

    await writeCgroup(
      4242,
      `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${VLLM_UID.replaceAll("-", "_")}.slice/cri-containerd-${VLLM_CID}.scope\n`,
    );
    await writeCgroup(4343, `12:memory:/kubepods/burstable/pod${TGI_UID}/${TGI_CID}\n0::/\n`);
    await writeCgroup(1, "0::/init.scope\n");
  });

  afterEach(async () => {
    await Promise.all(attributors.splice(0).map((a) => a.shutdown()));
    await kubelet.stop();
    await api.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("maps GPUs, MIG devices and time-sliced GPUs to pods with their model names, ignoring other resources", async () => {
    const pods = attributor(config());
    await pods.start();

    const current = pods.current();
    expect(current.isUp).toBe(true);
    expect(current.refreshedAtMs).toBeTypeOf("number");
    expect([...current.byDevice.keys()]).toEqual([GPU_A, GPU_B, GPU_SHARED, MIG].sort());
    const vllm = { namespace: "llm", pod: "vllm-llama-0", container: "vllm", model: "llama-3.1-70b", podUid: VLLM_UID };
    expect(current.byDevice.get(GPU_A)).toEqual([vllm]);
    expect(current.byDevice.get(GPU_B)).toEqual([vllm]);
    expect(current.byDevice.get(MIG)).toEqual([
      { namespace: "llm", pod: "tgi-mistral-0", container: "tgi", model: "mistral-7b", podUid: TGI_UID },
    ]);
    expect(current.byDevice.get(GPU_SHARED)).toEqual([
      { namespace: "team-a", pod: "embed-0", container: "embed", model: "bge-m3", podUid: "uid-embed" },
      { namespace: "team-b", pod: "rerank-0", container: "rerank", podUid: "uid-rerank" },
    ]);
  });

  it("lists this node's running pods with their addresses and host-network flag, for naming the sender of spans", async () => {
    const withAddress = (
      pod: ReturnType<typeof apiPod>,
      status: Record<string, unknown>,
      spec: Record<string, unknown> = {},
    ) => ({
      ...pod,
      spec: { ...pod.spec, ...spec },
      status: { ...pod.status, ...status },
    });
    api.items = [
      withAddress(apiPod("llm", "vllm-llama-0", VLLM_UID, { labels: { "inferwatch.io/model": "llama-3.1-70b" } }), {
        podIP: "10.4.0.11",
        podIPs: [{ ip: "10.4.0.11" }, { ip: "fd00::11" }],
      }),
      withAddress(apiPod("llm", "tgi-mistral-0", TGI_UID, {}), { podIP: "10.4.0.12" }),
      withAddress(
        apiPod("kube-system", "node-exporter-x", "uid-ne", {}),
        { podIP: "192.168.1.5" },
        { hostNetwork: true },
      ),
      withAddress(apiPod("batch", "job-done", "uid-done", {}), { podIP: "10.4.0.12", phase: "Succeeded" }),
    ];
    const pods = attributor(config());
    await pods.start();
    expect(pods.current().nodePods).toEqual([
      {
        namespace: "llm",
        name: "vllm-llama-0",
        uid: VLLM_UID,
        model: "llama-3.1-70b",
        ips: ["10.4.0.11", "fd00::11"],
        isHostNetwork: false,
      },
      { namespace: "llm", name: "tgi-mistral-0", uid: TGI_UID, ips: ["10.4.0.12"], isHostNetwork: false },
      { namespace: "kube-system", name: "node-exporter-x", uid: "uid-ne", ips: ["192.168.1.5"], isHostNetwork: true },
    ]);
  });

  it("asks the API for this node's pods with the service-account token", async () => {
    await attributor(config()).start();

    expect(api.requests.length).toBeGreaterThanOrEqual(1);
    const request = api.requests[0];
    const url = new URL(request?.url ?? "", apiUrl);
    expect(url.pathname).toBe("/api/v1/pods");
    expect(url.searchParams.get("fieldSelector")).toBe(`spec.nodeName=${NODE}`);
    expect(request?.headers.authorization).toBe("Bearer test-token-1");
  });

  it("maps PIDs to containers through their cgroup and forgets PIDs no longer listed", async () => {
    const pods = attributor(config());
    await pods.start();

    await pods.resolvePids([4242, 4343, 1, 999]);
    expect(pods.containerOfPid(4242)).toEqual({
      namespace: "llm",
      pod: "vllm-llama-0",
      container: "vllm",
      model: "llama-3.1-70b",
      podUid: VLLM_UID,
    });
    expect(pods.containerOfPid(4343)).toEqual({
      namespace: "llm",
      pod: "tgi-mistral-0",
      container: "tgi",
      model: "mistral-7b",
      podUid: TGI_UID,
    });
    expect(pods.containerOfPid(1)).toBeUndefined();
    expect(pods.containerOfPid(999)).toBeUndefined();

    // A cached PID is not read again: the changed file goes unnoticed while 4242 stays listed.
    await writeCgroup(4242, `0::/kubepods/burstable/pod${TGI_UID}/${TGI_CID}\n`);
    await pods.resolvePids([4242, 4343]);
    expect(pods.containerOfPid(4242)?.pod).toBe("vllm-llama-0");

    // Once 4242 is left out it is forgotten, and read afresh when it comes back (PID reuse).
    await pods.resolvePids([4343]);
    expect(pods.containerOfPid(4242)).toBeUndefined();
    await pods.resolvePids([4242, 4343]);
    expect(pods.containerOfPid(4242)?.pod).toBe("tgi-mistral-0");
  });

  it("without a Kubernetes API maps devices without model names and PIDs to no pod", async () => {
    const pods = attributor(config({ kubeApi: {} }));
    await pods.start();

    expect(pods.current().byDevice.get(GPU_A)).toEqual([{ namespace: "llm", pod: "vllm-llama-0", container: "vllm" }]);
    await pods.resolvePids([4242]);
    expect(pods.containerOfPid(4242)).toBeUndefined();
    expect(api.requests).toHaveLength(0);
  });

  it("refreshes on the timer and picks up new pods with a re-read token", async () => {
    const pods = attributor(config());
    await pods.start();
    const firstRefresh = pods.current().refreshedAtMs ?? 0;

    await writeFile(tokenFile, "test-token-2\n");
    kubelet.pods.push(kubeletPod("llm", "qwen-0", "server", { "nvidia.com/gpu": [GPU_NEW] }));
    api.items.push(apiPod("llm", "qwen-0", "uid-qwen", { labels: { "inferwatch.io/model": "qwen2.5-72b" } }));

    await waitFor(() => pods.current().byDevice.get(GPU_NEW)?.[0]?.model === "qwen2.5-72b");
    expect(pods.current().byDevice.get(GPU_NEW)).toEqual([
      { namespace: "llm", pod: "qwen-0", container: "server", model: "qwen2.5-72b", podUid: "uid-qwen" },
    ]);
    expect(pods.current().refreshedAtMs).toBeGreaterThan(firstRefresh);
    expect(api.requests.at(-1)?.headers.authorization).toBe("Bearer test-token-2");
    await waitFor(() => kubelet.listCalls >= 4);
  });

  it("keeps the last mapping while the socket is gone, logs the outage once, and recovers when it returns", async () => {
    const { log, lines } = capturingLogger();
    const pods = attributor(config(), log);
    await pods.start();
    const before = pods.current();
    expect(before.isUp).toBe(true);

    await kubelet.stop();
    await waitFor(() => !pods.current().isUp);
    const down = pods.current();
    expect(down.byDevice).toEqual(before.byDevice);
    expect(down.refreshedAtMs).toBe(before.refreshedAtMs);

    // Several refresh intervals pass while the socket is missing; the outage is logged once.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(lines.filter((line) => line.includes("podResources is down"))).toHaveLength(1);

    await kubelet.start();
    await waitFor(() => pods.current().isUp);
    expect(pods.current().refreshedAtMs).toBeGreaterThan(before.refreshedAtMs ?? 0);
    expect(pods.current().byDevice).toEqual(before.byDevice);
    expect(lines.filter((line) => line.includes("podResources is back"))).toHaveLength(1);
    expect(lines.join("\n")).not.toContain("test-token");
  });

  it("starts without a socket, reporting down with an empty mapping", async () => {
    await kubelet.stop();
    const pods = attributor(config());
    await pods.start();

    // The API's list of the node's pods does not depend on the kubelet socket, and stays for span attribution.
    expect(pods.current()).toEqual({
      byDevice: new Map(),
      refreshedAtMs: undefined,
      isUp: false,
      nodePods: expect.any(Array),
    });
    expect(pods.current().nodePods?.map((pod) => `${pod.namespace}/${pod.name}`)).toEqual([
      "llm/vllm-llama-0",
      "llm/tgi-mistral-0",
      "team-a/embed-0",
      "team-b/rerank-0",
      "kube-system/coredns-5d78c9869d-abcde",
    ]);
  });

  it("shuts down safely without start, twice, and stops refreshing", async () => {
    const idle = attributor(config());
    await idle.shutdown();
    await idle.shutdown();

    const pods = attributor(config());
    await pods.start();
    await pods.shutdown();
    await pods.shutdown();
    const calls = kubelet.listCalls;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(kubelet.listCalls).toBe(calls);
  });
});
