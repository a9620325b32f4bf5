/**
 * Model identity of spans that name no model, step by step (agent/processors/identity/model-identity.ts),
 * and the one list of placeholder service names.
 */
import { describe, expect, it } from "vitest";
import { buildNodePodIndex } from "../../../../agent/collectors/pods/node-pod-index.js";
import type { NodePod, PodAttribution } from "../../../../agent/collectors/pods/pod-attribution.js";
import { resolveResourceIdentity } from "../../../../agent/processors/identity/model-identity.js";
import { peerIp } from "../../../../agent/processors/identity/peer-address.js";
import { isPlaceholderServiceName } from "../../../../agent/processors/identity/service-name-placeholders.js";
import type { Attributes } from "../../../../agent/receivers/otlp-model.js";

function pod(name: string, ips: readonly string[], extra: Partial<NodePod> = {}): NodePod {
  return { namespace: "serving", name, uid: `uid-${name}`, ips, isHostNetwork: false, ...extra };
}

const NODE_PODS: readonly NodePod[] = [
  pod("llama-0", ["10.4.0.11"], { model: "llama-3.1-8b" }),
  pod("sglang-0", ["10.4.0.12", "fd00::12"]),
  pod("triton-0", ["10.4.0.13"]),
  pod("unlabelled-0", ["10.4.0.14"]),
  pod("node-exporter", ["192.168.1.5"], { namespace: "monitoring", isHostNetwork: true }),
];

const attribution: PodAttribution = {
  byDevice: new Map([
    ["GPU-1", [{ namespace: "serving", pod: "kubelet-only", container: "vllm", model: "from-kubelet-holder" }]],
  ]),
  refreshedAtMs: 0,
  isUp: true,
  nodePods: NODE_PODS,
};

const RUNTIME_MODELS: Readonly<Record<string, readonly string[]>> = {
  "serving/sglang-0": ["qwen2.5-7b"],
  "serving/triton-0": ["ensemble", "tensorrt_llm"],
};

const lookups = {
  pods: buildNodePodIndex(attribution),
  runtimeModels: (namespace: string, name: string) => new Set(RUNTIME_MODELS[`${namespace}/${name}`] ?? []),
};

function resource(entries: Record<string, string>): Attributes {
  return new Map(Object.entries(entries));
}

describe("model identity of spans without a model attribute", () => {
  it.each([
    [
      "the pod named by k8s.pod.name and k8s.namespace.name, by its model label",
      { "k8s.pod.name": "llama-0", "k8s.namespace.name": "serving", "service.name": "unknown_service" },
      undefined,
      { model: "llama-3.1-8b", source: "pod-label", pod: "llama-0", namespace: "serving" },
    ],
    [
      "the pod named by k8s.pod.uid",
      { "k8s.pod.uid": "uid-llama-0" },
      undefined,
      { model: "llama-3.1-8b", pod: "llama-0", namespace: "serving" },
    ],
    [
      "a pod the kubelet lists as a GPU holder when the API lists nothing more",
      { "k8s.pod.name": "kubelet-only", "k8s.namespace.name": "serving" },
      undefined,
      { model: "from-kubelet-holder" },
    ],
    [
      "the pod that sent the request, by the connection's peer address",
      { "service.name": "unknown_service" },
      "10.4.0.11",
      { model: "llama-3.1-8b", source: "pod-label", pod: "llama-0", namespace: "serving" },
    ],
    [
      "the peer pod's runtime page when the pod has no model label",
      { "service.name": "sglang" },
      "fd00::12",
      { model: "qwen2.5-7b", source: "pod-runtime", pod: "sglang-0" },
    ],
    [
      "service.name when it is not a placeholder",
      { "service.name": "mistral-7b" },
      undefined,
      { model: "mistral-7b", source: "service-name", reason: "no_pod_identity" },
    ],
    [
      "service.name after a pod that names no model",
      { "service.name": "mistral-7b" },
      "10.4.0.14",
      { model: "mistral-7b", source: "service-name", reason: "pod_without_model", pod: "unlabelled-0" },
    ],
  ] as const)("takes %s", (_, attrs, peer, expected) => {
    expect(resolveResourceIdentity(resource(attrs), peer, lookups)).toMatchObject(expected);
  });

  it.each([
    ["no pod attributes and no peer", {}, undefined, "no_pod_identity"],
    [
      "a pod this node does not run",
      { "k8s.pod.name": "elsewhere-0", "k8s.namespace.name": "serving" },
      undefined,
      "pod_not_on_node",
    ],
    ["a peer address no pod of this node has", {}, "10.9.9.9", "pod_not_on_node"],
    ["a host-network peer (the node's address, shared)", {}, "192.168.1.5", "peer_ambiguous"],
    ["a pod with neither a label nor a runtime page naming a model", {}, "10.4.0.14", "pod_without_model"],
    ["a pod whose page serves several models", {}, "10.4.0.13", "pod_several_models"],
  ] as const)("names nothing, with the reason, for %s", (_, attrs, peer, reason) => {
    const identity = resolveResourceIdentity(resource({ "service.name": "unknown_service", ...attrs }), peer, lookups);
    expect(identity).toMatchObject({ model: undefined, reason });
  });

  it("keeps the resource's pod labels for a pod it cannot find", () => {
    const identity = resolveResourceIdentity(
      resource({ "k8s.pod.name": "elsewhere-0", "k8s.namespace.name": "other" }),
      undefined,
      lookups,
    );
    expect(identity).toMatchObject({ namespace: "other", pod: "elsewhere-0" });
  });

  it("prefers the pod the resource names over the peer", () => {
    const identity = resolveResourceIdentity(
      resource({ "k8s.pod.name": "llama-0", "k8s.namespace.name": "serving" }),
      "10.4.0.12",
      lookups,
    );
    expect(identity).toMatchObject({ model: "llama-3.1-8b", pod: "llama-0" });
  });

  it("finds a pod by name alone only when one namespace has it", () => {
    const twice: PodAttribution = {
      ...attribution,
      nodePods: [...NODE_PODS, pod("llama-0", ["10.4.1.1"], { namespace: "staging", model: "other" })],
    };
    const identity = resolveResourceIdentity(resource({ "k8s.pod.name": "llama-0" }), undefined, {
      ...lookups,
      pods: buildNodePodIndex(twice),
    });
    expect(identity).toMatchObject({ model: undefined, reason: "pod_not_on_node" });
    expect(resolveResourceIdentity(resource({ "k8s.pod.name": "sglang-0" }), undefined, lookups)).toMatchObject({
      model: "qwen2.5-7b",
    });
  });

  it("marks an address two pods report as ambiguous", () => {
    const shared: PodAttribution = {
      ...attribution,
      nodePods: [pod("a", ["10.0.0.1"], { model: "a" }), pod("b", ["10.0.0.1"], { model: "b" })],
    };
    expect(buildNodePodIndex(shared).byAddress("10.0.0.1")).toEqual({ kind: "ambiguous" });
  });
});

describe("placeholder service names", () => {
  it.each([
    "unknown_service",
    "unknown_service:python3",
    "unknown_service:node",
    "text-generation-inference.router",
    "text-generation-inference.server",
    "triton-inference-server",
    "sglang",
    "vllm-server",
  ])("%s names no model", (name) => expect(isPlaceholderServiceName(name)).toBe(true));

  it.each(["llama-3.1-8b", "meta-llama/Llama-3.1-8B-Instruct", "unknown_services", "tgi-mistral"])(
    "%s is a model name",
    (name) => {
      expect(isPlaceholderServiceName(name)).toBe(false);
    },
  );
});

describe("peer address", () => {
  it.each([
    ["10.4.0.11:41234", "10.4.0.11"],
    ["::ffff:10.4.0.11:41234", "10.4.0.11"],
    ["fd00::12:4321", "fd00::12"],
    ["[fd00::12]:41234", "fd00::12"],
    ["[FD00::AB]:80", "fd00::ab"],
    ["unknown", undefined],
    ["10.4.0.11", undefined],
    ["host.example:80", undefined],
    [undefined, undefined],
  ] as const)("%s is %s", (peer, ip) => {
    expect(peerIp(peer)).toBe(ip);
  });
});
