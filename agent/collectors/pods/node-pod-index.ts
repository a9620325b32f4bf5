import type { NodePod, PodAttribution } from "./pod-attribution.js";

/** What an address says about its sender: one pod, or several things (a host-network pod, a shared address). */
export type PodByAddress = { readonly kind: "pod"; readonly pod: NodePod } | { readonly kind: "ambiguous" };

/** Lookups of this node's pods by what a span's resource or connection may carry. */
export interface NodePodIndex {
  /** By namespace and name; `namespace` "" matches the only pod of that name in any namespace. */
  byName(namespace: string, name: string): NodePod | undefined;
  byUid(uid: string): NodePod | undefined;
  /** By one of its addresses; undefined when no pod of this node has it. */
  byAddress(ip: string): PodByAddress | undefined;
}

const AMBIGUOUS: PodByAddress = { kind: "ambiguous" };

/**
 * Indexes the pods of an attribution: the Kubernetes API's node pods (with addresses) and the
 * GPU holders the kubelet listed (names and models only, for when the API is off). An address
 * held by a host-network pod, or by two pods, names no pod: it is the node's, shared with every
 * host process, and is marked ambiguous rather than guessed. Pure.
 */
export function buildNodePodIndex(attribution: PodAttribution): NodePodIndex {
  const byName = new Map<string, NodePod>();
  const byUid = new Map<string, NodePod>();
  const byAddress = new Map<string, PodByAddress>();
  const nameCount = new Map<string, number>();
  const add = (pod: NodePod): void => {
    const key = `${pod.namespace}/${pod.name}`;
    if (!byName.has(key)) nameCount.set(pod.name, (nameCount.get(pod.name) ?? 0) + 1);
    byName.set(key, pod);
    if (pod.uid !== "") byUid.set(pod.uid, pod);
  };
  for (const refs of attribution.byDevice.values()) {
    for (const ref of refs) {
      if (byName.has(`${ref.namespace}/${ref.pod}`)) continue;
      add({
        namespace: ref.namespace,
        name: ref.pod,
        uid: ref.podUid ?? "",
        ips: [],
        isHostNetwork: false,
        ...(ref.model === undefined ? {} : { model: ref.model }),
      });
    }
  }
  for (const pod of attribution.nodePods ?? []) {
    const held = byName.get(`${pod.namespace}/${pod.name}`);
    // The kubelet's holder may know the model when the API pod does not (never the other way round).
    add(pod.model === undefined && held?.model !== undefined ? { ...pod, model: held.model } : pod);
    for (const ip of pod.ips) {
      byAddress.set(ip, pod.isHostNetwork || byAddress.has(ip) ? AMBIGUOUS : { kind: "pod", pod });
    }
  }
  const anyNamespace = new Map<string, NodePod>();
  for (const pod of byName.values()) if (nameCount.get(pod.name) === 1) anyNamespace.set(pod.name, pod);
  return {
    byName: (namespace, name) => (namespace === "" ? anyNamespace.get(name) : byName.get(`${namespace}/${name}`)),
    byUid: (uid) => byUid.get(uid),
    byAddress: (ip) => byAddress.get(ip),
  };
}
