import type { Component } from "../../../common/component.js";

/** A container known to hold a GPU or run a GPU process. */
export interface PodRef {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  /** Model name from the configured pod label or annotation, when the Kubernetes API is reachable. */
  readonly model?: string;
  readonly podUid?: string;
}

/** The latest GPU-to-pod mapping; a value, safe to keep. */
export interface PodAttribution {
  /**
   * Device id as the kubelet reports it (`GPU-<uuid>`, `MIG-<uuid>`, or `nvidia<index>` on some
   * platforms; a time-slicing suffix `::N` is stripped) → containers assigned that device.
   */
  readonly byDevice: ReadonlyMap<string, readonly PodRef[]>;
  /** Unix ms of the last successful refresh; undefined before the first one. */
  readonly refreshedAtMs: number | undefined;
  /** Whether the last refresh of the pod-resources socket succeeded. */
  readonly isUp: boolean;
  /**
   * Every pod of this node the Kubernetes API listed, with its addresses (absent when the API is
   * off): how a span's connection is traced back to the pod that sent it.
   */
  readonly nodePods?: readonly NodePod[];
}

/** A pod of this node as the Kubernetes API lists it, for naming the sender of spans. */
export interface NodePod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** From the configured pod label or annotation. */
  readonly model?: string;
  /** Its addresses (status.podIPs). */
  readonly ips: readonly string[];
  /** Host-network pods share the node's address with everything else on the host. */
  readonly isHostNetwork: boolean;
}

/**
 * Maps GPUs and processes to pods. Refreshes in the background on a timer, never per scrape;
 * the query methods never do I/O.
 */
export interface PodAttributor extends Component {
  /** Latest mapping (empty until the first refresh). */
  current(): PodAttribution;
  /** The container running a host PID, from the cached cgroup lookup; undefined when unknown. */
  containerOfPid(pid: number): PodRef | undefined;
  /**
   * Reads /proc/<pid>/cgroup for PIDs not yet cached and forgets PIDs no longer listed.
   * Never throws; unreadable PIDs stay unknown.
   */
  resolvePids(pids: readonly number[]): Promise<void>;
}

/**
 * The model of a pod holding a GPU on this node, from the attribution; undefined when the pod holds
 * none (or is unknown). An empty `namespace` matches the pod name in any namespace. With
 * `isAnyHolder`, "" for a holder whose model is unknown, so the caller learns it holds a GPU.
 */
export function podModelOf(
  attribution: PodAttribution,
  namespace: string,
  pod: string,
  isAnyHolder = false,
): string | undefined {
  for (const refs of attribution.byDevice.values()) {
    for (const ref of refs) {
      if (ref.pod !== pod || (namespace !== "" && ref.namespace !== namespace)) continue;
      if (ref.model !== undefined) return ref.model;
      if (isAnyHolder) return "";
    }
  }
  return undefined;
}
