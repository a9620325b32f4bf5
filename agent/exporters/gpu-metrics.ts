import type { Registry } from "prom-client";
import { METRICS, type MetricDef } from "../../common/conventions.js";
import type { GpuView, XidCount } from "../collectors/gpu-collector.js";
import type { Activity, GpuSample, MigDeviceSample } from "../collectors/gpu-sample.js";
import type { PodRef } from "../collectors/pods/pod-attribution.js";
import { defineScrapeMetric, type FillErrorHandler, type Labels } from "../../common/metric-factory.js";

/** Labels of every series of one GPU. */
function gpuLabels(node: string, gpu: GpuSample): Labels {
  return { node, gpu: String(gpu.index), uuid: gpu.uuid, gpu_model: gpu.model };
}

function podLabels(ref: PodRef | undefined): Labels {
  if (!ref) return {};
  return {
    namespace: ref.namespace,
    pod: ref.pod,
    container: ref.container,
    ...(ref.model ? { model: ref.model } : {}),
  };
}

/** A per-GPU value metric: one series per GPU that is up and reports the field. */
type GpuValue = (gpu: GpuSample) => number | undefined;

const GPU_VALUES: readonly (readonly [MetricDef, GpuValue])[] = [
  [METRICS.utilization, (g) => g.utilizationRatio],
  [METRICS.memoryUtilization, (g) => g.memoryUtilizationRatio],
  [METRICS.memoryUsed, (g) => g.memoryUsedBytes],
  [METRICS.memoryTotal, (g) => g.memoryTotalBytes],
  [METRICS.memoryReserved, (g) => g.memoryReservedBytes],
  [METRICS.temperature, (g) => g.temperatureCelsius],
  [METRICS.power, (g) => g.powerWatts],
  [METRICS.powerLimit, (g) => g.powerLimitWatts],
  [METRICS.smClock, (g) => g.smClockHertz],
  [METRICS.memoryClock, (g) => g.memoryClockHertz],
  [METRICS.remapPending, (g) => (g.remappedRows ? Number(g.remappedRows.isPending) : undefined)],
  [METRICS.remapFailure, (g) => (g.remappedRows ? Number(g.remappedRows.hasFailed) : undefined)],
  [METRICS.memoryTemperature, (g) => g.memoryTemperatureCelsius],
];

/** GPU-level GPM metrics, by the activity quantity they export. */
const GPU_ACTIVITY: readonly (readonly [MetricDef, keyof Activity])[] = [
  [METRICS.smActive, "sm"],
  [METRICS.smOccupancy, "smOccupancy"],
  [METRICS.tensorActive, "tensor"],
  [METRICS.dramActive, "dram"],
  [METRICS.graphicsActive, "graphics"],
  [METRICS.fp64Active, "fp64"],
  [METRICS.fp32Active, "fp32"],
  [METRICS.fp16Active, "fp16"],
  [METRICS.pcieTx, "pcieTx"],
  [METRICS.pcieRx, "pcieRx"],
  [METRICS.nvlinkTx, "nvlinkTx"],
  [METRICS.nvlinkRx, "nvlinkRx"],
];

/** Per-MIG-device GPM metrics (their GPU instance's activity). */
const MIG_ACTIVITY: readonly (readonly [MetricDef, keyof Activity])[] = [
  [METRICS.migSmActive, "sm"],
  [METRICS.migSmOccupancy, "smOccupancy"],
  [METRICS.migTensorActive, "tensor"],
  [METRICS.migDramActive, "dram"],
  [METRICS.migGraphicsActive, "graphics"],
];

function migLabels(node: string, gpu: GpuSample, mig: MigDeviceSample): Labels {
  return {
    ...gpuLabels(node, gpu),
    gpu_instance: String(mig.gpuInstance),
    compute_instance: String(mig.computeInstance),
    profile: mig.profile,
    mig_uuid: mig.uuid,
  };
}

/**
 * Registers every GPU metric of the catalog, filled at scrape time from `view()` — the sampler's
 * latest round — so a scrape never calls NVML. GPU value series carry the holder's pod labels when
 * one container holds the GPU; `inferwatch_gpu_pod_info` lists every holder.
 */
export function registerGpuMetrics(
  registry: Registry,
  node: string,
  view: () => GpuView,
  onError: FillErrorHandler,
): void {
  const define = (def: MetricDef, fill: Parameters<typeof defineScrapeMetric>[2]) =>
    defineScrapeMetric(registry, def, fill, onError);
  const upGpus = () => view().samples.filter((gpu) => gpu.isUp);

  define(METRICS.nvmlUp, (emit) => emit({ node }, view().isNvmlUp ? 1 : 0));
  define(METRICS.nvmlInfo, (emit) => {
    const system = view().system;
    if (system) {
      emit(
        {
          node,
          driver_version: system.driverVersion,
          nvml_version: system.nvmlVersion,
          cuda_driver_version: system.cudaDriverVersion,
          library: system.library,
        },
        1,
      );
    }
  });
  define(METRICS.gpuInfo, (emit) => {
    const { samples, system, source } = view();
    for (const gpu of samples) {
      emit(
        { ...gpuLabels(node, gpu), driver_version: system?.driverVersion ?? "", pci_bus_id: gpu.pciBusId, source },
        1,
      );
    }
  });
  define(METRICS.gpuUp, (emit) => {
    for (const gpu of view().samples) emit(gpuLabels(node, gpu), gpu.isUp ? 1 : 0);
  });
  define(METRICS.gpuPodInfo, (emit) => {
    for (const gpu of view().samples) {
      for (const holder of gpu.holders) emit({ ...gpuLabels(node, gpu), ...podLabels(holder) }, 1);
    }
  });
  const gpuValues: readonly (readonly [MetricDef, GpuValue])[] = [
    ...GPU_VALUES,
    ...GPU_ACTIVITY.map(([def, key]) => [def, (g: GpuSample) => g.activity?.[key]] as const),
  ];
  for (const [def, value] of gpuValues) {
    define(def, (emit) => {
      for (const gpu of upGpus()) {
        const v = value(gpu);
        if (v !== undefined) emit({ ...gpuLabels(node, gpu), ...podLabels(gpu.holder) }, v);
      }
    });
  }
  for (const [def, key] of MIG_ACTIVITY) {
    define(def, (emit) => {
      for (const gpu of upGpus()) {
        for (const mig of gpu.migDevices ?? []) {
          const value = mig.activity?.[key];
          if (value !== undefined) emit(migLabels(node, gpu, mig), value);
        }
      }
    });
  }
  define(METRICS.gpmSupported, (emit) => {
    for (const gpu of upGpus())
      if (gpu.isGpmSupported !== undefined) emit(gpuLabels(node, gpu), gpu.isGpmSupported ? 1 : 0);
  });
  define(METRICS.memoryTemperatureMax, (emit) => {
    for (const gpu of upGpus())
      if (gpu.memoryTemperatureMaxCelsius !== undefined) emit(gpuLabels(node, gpu), gpu.memoryTemperatureMaxCelsius);
  });
  define(METRICS.throttled, (emit) => {
    for (const gpu of upGpus()) {
      for (const { reason, isActive } of gpu.throttle ?? [])
        emit({ ...gpuLabels(node, gpu), ...podLabels(gpu.holder), reason }, isActive ? 1 : 0);
    }
  });
  // Counters carry GPU labels only: pod labels would start a new series (at NVML's absolute total)
  // whenever the GPU changes hands, and increase() would read the jump as work done.
  define(METRICS.energy, (emit) => {
    for (const gpu of upGpus()) if (gpu.energyJoules !== undefined) emit(gpuLabels(node, gpu), gpu.energyJoules);
  });
  define(METRICS.pcieReplays, (emit) => {
    for (const gpu of upGpus()) if (gpu.pcieReplays !== undefined) emit(gpuLabels(node, gpu), gpu.pcieReplays);
  });
  define(METRICS.gpmPermissionErrors, (emit) => {
    for (const gpu of upGpus())
      if (gpu.gpmPermissionErrors !== undefined) emit(gpuLabels(node, gpu), gpu.gpmPermissionErrors);
  });
  define(METRICS.throttleTime, (emit) => {
    for (const gpu of upGpus()) {
      for (const [reason, seconds] of Object.entries(gpu.throttleSeconds ?? {}))
        emit({ ...gpuLabels(node, gpu), reason }, seconds);
    }
  });
  define(METRICS.nvlinkData, (emit) => {
    for (const gpu of upGpus()) {
      if (gpu.nvlinkTxBytes !== undefined) emit({ ...gpuLabels(node, gpu), direction: "tx" }, gpu.nvlinkTxBytes);
      if (gpu.nvlinkRxBytes !== undefined) emit({ ...gpuLabels(node, gpu), direction: "rx" }, gpu.nvlinkRxBytes);
    }
  });
  define(METRICS.eccErrors, (emit) => {
    for (const gpu of upGpus()) {
      const labels = gpuLabels(node, gpu);
      if (gpu.eccCorrected !== undefined) emit({ ...labels, type: "corrected" }, gpu.eccCorrected);
      if (gpu.eccUncorrected !== undefined) emit({ ...labels, type: "uncorrected" }, gpu.eccUncorrected);
    }
  });
  define(METRICS.remappedRows, (emit) => {
    for (const gpu of upGpus()) {
      if (!gpu.remappedRows) continue;
      const labels = gpuLabels(node, gpu);
      emit({ ...labels, type: "correctable" }, gpu.remappedRows.correctable);
      emit({ ...labels, type: "uncorrectable" }, gpu.remappedRows.uncorrectable);
    }
  });
  define(METRICS.nvlinkUp, (emit) => {
    for (const gpu of upGpus()) {
      gpu.nvlinkActive?.forEach((isActive, link) =>
        emit({ ...gpuLabels(node, gpu), link: String(link) }, isActive ? 1 : 0),
      );
    }
  });
  define(METRICS.migMode, (emit) => {
    for (const gpu of upGpus()) if (gpu.migEnabled !== undefined) emit(gpuLabels(node, gpu), gpu.migEnabled ? 1 : 0);
  });
  for (const [def, key] of [
    [METRICS.migMemoryTotal, "memoryTotalBytes"],
    [METRICS.migMemoryUsed, "memoryUsedBytes"],
  ] as const) {
    define(def, (emit) => {
      for (const gpu of upGpus()) {
        for (const mig of gpu.migDevices ?? []) {
          const value = mig[key];
          if (value !== undefined) emit(migLabels(node, gpu, mig), value);
        }
      }
    });
  }
  define(METRICS.processMemory, (emit) => {
    for (const gpu of upGpus()) {
      for (const process of gpu.processes ?? []) {
        if (process.memoryBytes === null) continue;
        emit({ ...gpuLabels(node, gpu), ...podLabels(process.holder), pid: String(process.pid) }, process.memoryBytes);
      }
    }
  });
  const xidLabels = (x: XidCount): Labels => ({
    node,
    gpu: x.index,
    uuid: x.uuid,
    gpu_model: x.model,
    xid: String(x.xid),
    ...(x.gpuInstance === undefined ? {} : { gpu_instance: String(x.gpuInstance) }),
    ...(x.computeInstance === undefined ? {} : { compute_instance: String(x.computeInstance) }),
  });
  define(METRICS.xidErrors, (emit) => {
    for (const x of view().xids) emit(xidLabels(x), x.count);
  });
  define(METRICS.xidLast, (emit) => {
    for (const x of view().xids) emit(xidLabels(x), x.lastSeenMs / 1000);
  });
  define(METRICS.fieldUnsupported, (emit) => {
    for (const gpu of view().samples) for (const field of gpu.unsupported) emit({ ...gpuLabels(node, gpu), field }, 1);
  });
}
