/**
 * What the kubelet pod-resources API (`/v1.PodResourcesLister/List`) says about the pods on the node,
 * as plain data: the codec decodes into it, the client returns it, the attribution reads it.
 */

/** Device-plugin devices of one extended resource held by a container. */
export interface ContainerDeviceEntry {
  readonly resourceName: string;
  /** As the device plugin reports them: `GPU-<uuid>`, `MIG-<uuid>`, `nvidia0`, possibly with `::N`. */
  readonly deviceIds: readonly string[];
}

export interface ContainerResourcesEntry {
  readonly name: string;
  readonly devices: readonly ContainerDeviceEntry[];
}

/** One pod as the kubelet pod-resources API lists it (plain data, safe to keep). */
export interface PodResourcesEntry {
  readonly name: string;
  readonly namespace: string;
  readonly containers: readonly ContainerResourcesEntry[];
}
