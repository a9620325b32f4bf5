import type { PodRef } from "./pod-attribution.js";
import type { PodResourcesEntry } from "./pod-resources-client.js";

/** What the Kubernetes API adds to a pod the kubelet lists; absent when the API is off. */
export interface PodMetadata {
  readonly uid?: string;
  readonly model?: string;
}

/** Finds a pod's metadata by namespace and name; returns undefined when unknown. */
export type PodMetadataLookup = (namespace: string, name: string) => PodMetadata | undefined;

/**
 * Whether an extended-resource name is one of `patterns`: exact match, or a prefix match when
 * the pattern ends with `*` (`nvidia.com/mig-*` matches `nvidia.com/mig-1g.10gb`).
 */
export function matchesResourceName(resourceName: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) =>
    pattern.endsWith("*") ? resourceName.startsWith(pattern.slice(0, -1)) : resourceName === pattern,
  );
}

/**
 * The device id without the time-slicing replica suffix: the NVIDIA device plugin advertises
 * each shared GPU N times as `<id>::<n>` (k8s-device-plugin `sharing.timeSlicing`), and
 * dcgm-exporter strips it the same way. Other ids are returned unchanged.
 */
export function normalizeDeviceId(deviceId: string): string {
  return deviceId.replace(/::\d+$/, "");
}

function compareRefs(a: PodRef, b: PodRef): number {
  return a.namespace.localeCompare(b.namespace) || a.pod.localeCompare(b.pod) || a.container.localeCompare(b.container);
}

/**
 * Builds device id → holders from a pod-resources listing. Only resources matching
 * `resourceNames` count; a device shared by several containers (time-slicing, MPS) keeps every
 * holder, once each, sorted by namespace/pod/container so series are stable across refreshes.
 * Pure: `lookup` adds the pod UID and model when the Kubernetes API is available.
 */
export function buildDeviceMap(
  entries: readonly PodResourcesEntry[],
  resourceNames: readonly string[],
  lookup: PodMetadataLookup = () => undefined,
): Map<string, PodRef[]> {
  const holders = new Map<string, Map<string, PodRef>>();
  for (const pod of entries) {
    const metadata = lookup(pod.namespace, pod.name);
    for (const container of pod.containers) {
      const ref = podRef(pod.namespace, pod.name, container.name, metadata);
      const refKey = `${pod.namespace}/${pod.name}/${container.name}`;
      for (const devices of container.devices) {
        if (!matchesResourceName(devices.resourceName, resourceNames)) continue;
        for (const rawId of devices.deviceIds) {
          const deviceId = normalizeDeviceId(rawId);
          if (deviceId === "") continue;
          let refs = holders.get(deviceId);
          if (refs === undefined) holders.set(deviceId, (refs = new Map<string, PodRef>()));
          refs.set(refKey, ref);
        }
      }
    }
  }
  const byDevice = new Map<string, PodRef[]>();
  for (const deviceId of [...holders.keys()].sort()) {
    byDevice.set(deviceId, [...(holders.get(deviceId)?.values() ?? [])].sort(compareRefs));
  }
  return byDevice;
}

/** A PodRef with the optional fields set only when known (exactOptionalPropertyTypes). */
export function podRef(namespace: string, pod: string, container: string, metadata: PodMetadata | undefined): PodRef {
  return {
    namespace,
    pod,
    container,
    ...(metadata?.model !== undefined ? { model: metadata.model } : {}),
    ...(metadata?.uid !== undefined ? { podUid: metadata.uid } : {}),
  };
}
