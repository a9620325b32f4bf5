import type { NodePod } from "../../collectors/pods/pod-attribution.js";
import type { NodePodIndex } from "../../collectors/pods/node-pod-index.js";
import type { Attributes } from "../../receivers/otlp-model.js";
import { isPlaceholderServiceName } from "./service-name-placeholders.js";

/** The model label of a request nothing could name. */
export const UNKNOWN_MODEL = "unknown";

/**
 * Why the pod-based steps named no model (the `reason` of `inferwatch_llm_unattributed_spans_total`):
 * - `no_pod_identity`: the resource names no pod and the receiver gave no peer address;
 * - `pod_not_on_node`: the pod the resource names, or the peer address, is no pod of this node;
 * - `peer_ambiguous`: the peer address is shared (a host-network pod, or several pods);
 * - `pod_without_model`: the pod is known but neither its label nor its runtime's page names a model;
 * - `pod_several_models`: the pod's runtime page reports several models, and the span says which of them not.
 */
export type UnattributedReason =
  "no_pod_identity" | "pod_not_on_node" | "peer_ambiguous" | "pod_without_model" | "pod_several_models";

/** Where one resource's spans come from, resolved once per resource and request. */
export interface ResourceIdentity {
  readonly namespace: string;
  readonly pod: string;
  /** The model the pod-based steps or service.name found; undefined when none did. */
  readonly model: string | undefined;
  /** Which step found `model`. */
  readonly source: "pod-label" | "pod-runtime" | "service-name" | undefined;
  /** Why no pod-based step named a model; set whenever `source` is not a pod step. */
  readonly reason: UnattributedReason | undefined;
}

/** What resolution looks things up in. */
export interface IdentityLookups {
  readonly pods: NodePodIndex;
  /** The models a pod's scraped runtime pages report (named as the runtime gauges name them). */
  readonly runtimeModels: (namespace: string, pod: string) => ReadonlySet<string>;
}

function text(attributes: Attributes, key: string): string | undefined {
  const value = attributes.get(key);
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** The pod's model: its label or annotation, else the one model its runtime page reports. */
function modelOfPod(
  pod: NodePod,
  lookups: IdentityLookups,
): { model?: string; source?: "pod-label" | "pod-runtime"; reason?: UnattributedReason } {
  if (pod.model !== undefined) return { model: pod.model, source: "pod-label" };
  const models = lookups.runtimeModels(pod.namespace, pod.name);
  if (models.size > 1) return { reason: "pod_several_models" };
  for (const model of models) return { model, source: "pod-runtime" };
  return { reason: "pod_without_model" };
}

/**
 * Resolves the model of a resource's spans when the spans name none, in this order (a span's
 * own model attribute comes before all of it, in the processor):
 * 1. the pod the resource names (`k8s.pod.name` with `k8s.namespace.name`, or `k8s.pod.uid`);
 * 2. else the pod that sent the request: the OTLP connection's peer address among the addresses of
 *    this node's pods (an address shared by a host-network pod names no pod);
 * 3. that pod's model label, else the single model its scraped runtime page reports;
 * 4. else `service.name`, unless it is a placeholder (an SDK or runtime default);
 * 5. else nothing: the caller records `unknown` and counts `reason`.
 * The series' namespace and pod labels are the pod's found in 1 or 2, else the resource's. Pure.
 */
export function resolveResourceIdentity(
  resource: Attributes,
  peerIp: string | undefined,
  lookups: IdentityLookups,
): ResourceIdentity {
  const namespace = text(resource, "k8s.namespace.name") ?? "";
  const podName = text(resource, "k8s.pod.name");
  const uid = text(resource, "k8s.pod.uid");
  let pod =
    (podName === undefined ? undefined : lookups.pods.byName(namespace, podName)) ??
    (uid === undefined ? undefined : lookups.pods.byUid(uid));
  let reason: UnattributedReason | undefined =
    podName !== undefined || uid !== undefined ? "pod_not_on_node" : undefined;
  if (pod === undefined && peerIp !== undefined) {
    const sender = lookups.pods.byAddress(peerIp);
    if (sender?.kind === "pod") pod = sender.pod;
    else reason = sender?.kind === "ambiguous" ? "peer_ambiguous" : "pod_not_on_node";
  }
  reason ??= "no_pod_identity";
  const labels = { namespace: pod?.namespace ?? namespace, pod: pod?.name ?? podName ?? "" };
  if (pod !== undefined) {
    const found = modelOfPod(pod, lookups);
    if (found.model !== undefined) return { ...labels, model: found.model, source: found.source, reason: undefined };
    reason = found.reason ?? reason;
  }
  const service = text(resource, "service.name");
  if (service !== undefined && !isPlaceholderServiceName(service))
    return { ...labels, model: service, source: "service-name", reason };
  return { ...labels, model: undefined, source: undefined, reason };
}
