import type { Registry } from "prom-client";
import type { HostSample } from "../collectors/host-collector.js";
import { METRICS, type MetricDef } from "../../common/conventions.js";
import { defineScrapeMetric, type FillErrorHandler, type Labels } from "../../common/metric-factory.js";

/** Emits the series of one host metric from a sample. */
type HostFill = (sample: HostSample, emit: (labels: Labels, value: number) => void) => void;

/** `period` label value of each load average. */
const LOAD_PERIODS = [
  ["1m", "m1"],
  ["5m", "m5"],
  ["15m", "m15"],
] as const;

/** Each host metric and how its series come out of a sample; `node` is added to every series. */
const HOST_METRICS: readonly (readonly [MetricDef, HostFill])[] = [
  [METRICS.hostCpuUtilization, (s, emit) => emitDefined(emit, {}, s.cpuUtilization)],
  [METRICS.hostCpuCores, (s, emit) => emitDefined(emit, {}, s.cpuCores)],
  [
    METRICS.hostLoad,
    (s, emit) => {
      const load = s.load;
      if (!load) return;
      for (const [period, field] of LOAD_PERIODS) emit({ period }, load[field]);
    },
  ],
  [METRICS.hostMemoryTotal, (s, emit) => emitDefined(emit, {}, s.memory?.totalBytes)],
  [METRICS.hostMemoryAvailable, (s, emit) => emitDefined(emit, {}, s.memory?.availableBytes)],
  [
    METRICS.hostVolumeSize,
    (s, emit) => s.volume && emit({ path: s.volume.path, mount: s.volume.mount }, s.volume.sizeBytes),
  ],
  [
    METRICS.hostVolumeFree,
    (s, emit) => s.volume && emit({ path: s.volume.path, mount: s.volume.mount }, s.volume.freeBytes),
  ],
  [
    METRICS.hostVolumeRead,
    (s, emit) => {
      const v = s.volume;
      if (v?.device !== undefined) emitDefined(emit, { path: v.path, device: v.device }, v.readBytes);
    },
  ],
  [
    METRICS.hostVolumeWritten,
    (s, emit) => {
      const v = s.volume;
      if (v?.device !== undefined) emitDefined(emit, { path: v.path, device: v.device }, v.writtenBytes);
    },
  ],
  [METRICS.hostNetworkReceive, (s, emit) => s.network.forEach((n) => emit({ interface: n.iface }, n.rxBytes))],
  [METRICS.hostNetworkTransmit, (s, emit) => s.network.forEach((n) => emit({ interface: n.iface }, n.txBytes))],
];

function emitDefined(emit: (labels: Labels, value: number) => void, labels: Labels, value: number | undefined): void {
  if (value !== undefined) emit(labels, value);
}

/**
 * Registers every `host*` metric of the catalog on `registry`. Series are read from `latest()` at
 * scrape time: nothing is emitted before the first sample or for a field the sample lacks. Call once
 * per registry (prom-client rejects a second registration of a name).
 */
export function registerHostMetrics(
  registry: Registry,
  labels: { node: string },
  latest: () => HostSample | undefined,
  onError: FillErrorHandler,
): void {
  for (const [def, fill] of HOST_METRICS) {
    defineScrapeMetric(
      registry,
      def,
      (emit) => {
        const sample = latest();
        if (sample) fill(sample, (series, value) => emit({ node: labels.node, ...series }, value));
      },
      onError,
    );
  }
}
