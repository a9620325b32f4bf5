import type { GpuView } from "../collectors/gpu-collector.js";
import type { GpuSample } from "../collectors/gpu-sample.js";
import type { HostSample } from "../collectors/host-collector.js";
import type { PodAttribution, PodRef } from "../collectors/pods/pod-attribution.js";

/** Version of the snapshot document; bumped on incompatible changes. */
export const SNAPSHOT_VERSION = 1;

/** `GET /v1/snapshot`: this node's GPUs, processes and pods, as the analyzer reads them. */
export interface NodeSnapshot {
  readonly version: typeof SNAPSHOT_VERSION;
  readonly node: string;
  readonly generatedAt: string;
  readonly nvml: {
    readonly isUp: boolean;
    readonly source: GpuView["source"];
    readonly driverVersion?: string;
    readonly sampledAt?: string;
  };
  readonly gpus: readonly GpuSample[];
  readonly xids: GpuView["xids"];
  readonly pods: readonly (PodRef & { readonly devices: readonly string[] })[];
  readonly host?: HostSample;
}

/** Builds the snapshot document from the latest state. Pure. */
export function buildSnapshot(
  node: string,
  gpu: GpuView,
  host: HostSample | undefined,
  attribution: PodAttribution,
  nowMs: number,
): NodeSnapshot {
  const pods = new Map<string, PodRef & { devices: string[] }>();
  for (const [device, refs] of attribution.byDevice) {
    for (const ref of refs) {
      const key = `${ref.namespace}/${ref.pod}/${ref.container}`;
      const entry = pods.get(key) ?? { ...ref, devices: [] };
      entry.devices.push(device);
      pods.set(key, entry);
    }
  }
  return {
    version: SNAPSHOT_VERSION,
    node,
    generatedAt: new Date(nowMs).toISOString(),
    nvml: {
      isUp: gpu.isNvmlUp,
      source: gpu.source,
      ...(gpu.system ? { driverVersion: gpu.system.driverVersion } : {}),
      ...(gpu.sampledAtMs === undefined ? {} : { sampledAt: new Date(gpu.sampledAtMs).toISOString() }),
    },
    gpus: gpu.samples,
    xids: gpu.xids,
    pods: [...pods.values()],
    ...(host ? { host } : {}),
  };
}
