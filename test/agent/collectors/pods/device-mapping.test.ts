import { describe, expect, it } from "vitest";
import {
  buildDeviceMap,
  matchesResourceName,
  normalizeDeviceId,
} from "../../../../agent/collectors/pods/device-mapping.js";
import type { PodResourcesEntry } from "../../../../agent/collectors/pods/pod-resources-client.js";

const GPU_RESOURCES = ["nvidia.com/gpu", "nvidia.com/mig-*"];

/** A pod-resources entry with one container per `containers` key: resource name → device ids. */
function pod(namespace: string, name: string, containers: Record<string, Record<string, string[]>>): PodResourcesEntry {
  return {
    namespace,
    name,
    containers: Object.entries(containers).map(([container, devices]) => ({
      name: container,
      devices: Object.entries(devices).map(([resourceName, deviceIds]) => ({ resourceName, deviceIds })),
    })),
  };
}

describe("matchesResourceName", () => {
  it.each([
    { resource: "nvidia.com/gpu", expected: true },
    { resource: "nvidia.com/mig-1g.10gb", expected: true },
    { resource: "nvidia.com/mig-3g.71gb", expected: true },
    { resource: "nvidia.com/gpu.shared", expected: false },
    { resource: "amd.com/gpu", expected: false },
    { resource: "example.com/nic", expected: false },
  ])("$resource matches the default GPU patterns: $expected", ({ resource, expected }) => {
    expect(matchesResourceName(resource, GPU_RESOURCES)).toBe(expected);
  });

  it("a lone * matches every resource", () => {
    expect(matchesResourceName("example.com/nic", ["*"])).toBe(true);
  });
});

describe("normalizeDeviceId", () => {
  it.each([
    { id: "GPU-2f6c1d3a-0000-1111-2222-333344445555::2", expected: "GPU-2f6c1d3a-0000-1111-2222-333344445555" },
    { id: "GPU-2f6c1d3a-0000-1111-2222-333344445555::10", expected: "GPU-2f6c1d3a-0000-1111-2222-333344445555" },
    { id: "MIG-7a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9", expected: "MIG-7a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9" },
    { id: "nvidia0", expected: "nvidia0" },
    { id: "nvidia0/gi7", expected: "nvidia0/gi7" },
  ])("$id becomes $expected", ({ id, expected }) => {
    expect(normalizeDeviceId(id)).toBe(expected);
  });
});

describe("buildDeviceMap", () => {
  it("maps each GPU to the container holding it and ignores other resources", () => {
    const entries = [
      pod("llm", "vllm-0", { server: { "nvidia.com/gpu": ["GPU-a", "GPU-b"], "example.com/nic": ["eth1"] } }),
      pod("llm", "tgi-0", { server: { "nvidia.com/mig-1g.10gb": ["MIG-c"] } }),
      pod("kube-system", "coredns", { coredns: {} }),
    ];
    const byDevice = buildDeviceMap(entries, GPU_RESOURCES);
    expect([...byDevice.keys()]).toEqual(["GPU-a", "GPU-b", "MIG-c"]);
    expect(byDevice.get("GPU-a")).toEqual([{ namespace: "llm", pod: "vllm-0", container: "server" }]);
    expect(byDevice.get("MIG-c")).toEqual([{ namespace: "llm", pod: "tgi-0", container: "server" }]);
    expect(byDevice.has("eth1")).toBe(false);
  });

  it("keeps every holder of a time-sliced GPU once, sorted, with the ::N suffix stripped", () => {
    const entries = [
      pod("team-b", "embed", { main: { "nvidia.com/gpu": ["GPU-x::3"] } }),
      pod("team-a", "chat", { main: { "nvidia.com/gpu": ["GPU-x::1", "GPU-x::2"] } }),
    ];
    expect(buildDeviceMap(entries, GPU_RESOURCES).get("GPU-x")).toEqual([
      { namespace: "team-a", pod: "chat", container: "main" },
      { namespace: "team-b", pod: "embed", container: "main" },
    ]);
  });

  it("adds the pod UID and model from the lookup only where it knows the pod", () => {
    const entries = [
      pod("llm", "known", { server: { "nvidia.com/gpu": ["GPU-a"] } }),
      pod("llm", "unknown", { server: { "nvidia.com/gpu": ["GPU-b"] } }),
      pod("llm", "no-model", { server: { "nvidia.com/gpu": ["GPU-c"] } }),
    ];
    const byDevice = buildDeviceMap(entries, GPU_RESOURCES, (_namespace, name) => {
      if (name === "known") return { uid: "uid-1", model: "llama-3-70b" };
      if (name === "no-model") return { uid: "uid-3" };
      return undefined;
    });
    expect(byDevice.get("GPU-a")).toEqual([
      { namespace: "llm", pod: "known", container: "server", model: "llama-3-70b", podUid: "uid-1" },
    ]);
    expect(byDevice.get("GPU-b")).toEqual([{ namespace: "llm", pod: "unknown", container: "server" }]);
    expect(byDevice.get("GPU-c")).toEqual([
      { namespace: "llm", pod: "no-model", container: "server", podUid: "uid-3" },
    ]);
    expect(byDevice.get("GPU-c")?.[0]).not.toHaveProperty("model");
  });

  it("gives an empty map when no resource name matches", () => {
    const entries = [pod("llm", "vllm-0", { server: { "nvidia.com/gpu": ["GPU-a"] } })];
    expect(buildDeviceMap(entries, ["amd.com/gpu"]).size).toBe(0);
  });
});
