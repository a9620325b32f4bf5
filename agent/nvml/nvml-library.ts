import koffi, { type LibraryHandle } from "koffi";
import { wrapError } from "../../common/errors.js";

/**
 * The NVML functions the agent calls, as C prototypes for koffi. Out-parameters are declared
 * `void *` and filled into reusable Buffers (cheaper than koffi struct decoding); handles are
 * pointers, which koffi 3 passes and returns as BigInt.
 */
const PROTOTYPES = {
  nvmlInit_v2: "int nvmlInit_v2(void)",
  nvmlShutdown: "int nvmlShutdown(void)",
  nvmlErrorString: "const char *nvmlErrorString(int result)",
  nvmlSystemGetDriverVersion: "int nvmlSystemGetDriverVersion(void *version, unsigned int length)",
  nvmlSystemGetNVMLVersion: "int nvmlSystemGetNVMLVersion(void *version, unsigned int length)",
  nvmlSystemGetCudaDriverVersion: "int nvmlSystemGetCudaDriverVersion(void *version)",
  nvmlDeviceGetCount_v2: "int nvmlDeviceGetCount_v2(void *count)",
  nvmlDeviceGetHandleByIndex_v2: "int nvmlDeviceGetHandleByIndex_v2(unsigned int index, void *device)",
  nvmlDeviceGetUUID: "int nvmlDeviceGetUUID(void *device, void *uuid, unsigned int length)",
  nvmlDeviceGetName: "int nvmlDeviceGetName(void *device, void *name, unsigned int length)",
  nvmlDeviceGetPciInfo_v3: "int nvmlDeviceGetPciInfo_v3(void *device, void *pci)",
  nvmlDeviceGetUtilizationRates: "int nvmlDeviceGetUtilizationRates(void *device, void *utilization)",
  nvmlDeviceGetMemoryInfo: "int nvmlDeviceGetMemoryInfo(void *device, void *memory)",
  nvmlDeviceGetMemoryInfo_v2: "int nvmlDeviceGetMemoryInfo_v2(void *device, void *memory)",
  nvmlDeviceGetTemperature: "int nvmlDeviceGetTemperature(void *device, int sensor, void *temp)",
  nvmlDeviceGetTemperatureV: "int nvmlDeviceGetTemperatureV(void *device, void *temperature)",
  nvmlDeviceGetPowerUsage: "int nvmlDeviceGetPowerUsage(void *device, void *power)",
  nvmlDeviceGetEnforcedPowerLimit: "int nvmlDeviceGetEnforcedPowerLimit(void *device, void *limit)",
  nvmlDeviceGetTotalEnergyConsumption: "int nvmlDeviceGetTotalEnergyConsumption(void *device, void *energy)",
  nvmlDeviceGetClockInfo: "int nvmlDeviceGetClockInfo(void *device, int type, void *clock)",
  nvmlDeviceGetCurrentClocksEventReasons: "int nvmlDeviceGetCurrentClocksEventReasons(void *device, void *reasons)",
  nvmlDeviceGetCurrentClocksThrottleReasons:
    "int nvmlDeviceGetCurrentClocksThrottleReasons(void *device, void *reasons)",
  nvmlDeviceGetTotalEccErrors:
    "int nvmlDeviceGetTotalEccErrors(void *device, int errorType, int counterType, void *count)",
  nvmlDeviceGetRemappedRows:
    "int nvmlDeviceGetRemappedRows(void *device, void *corr, void *unc, void *pending, void *failure)",
  nvmlDeviceGetFieldValues: "int nvmlDeviceGetFieldValues(void *device, int count, void *values)",
  nvmlDeviceGetNvLinkState: "int nvmlDeviceGetNvLinkState(void *device, unsigned int link, void *isActive)",
  nvmlDeviceGetMigMode: "int nvmlDeviceGetMigMode(void *device, void *current, void *pending)",
  nvmlDeviceGetMaxMigDeviceCount: "int nvmlDeviceGetMaxMigDeviceCount(void *device, void *count)",
  nvmlDeviceGetMigDeviceHandleByIndex:
    "int nvmlDeviceGetMigDeviceHandleByIndex(void *device, unsigned int index, void *migDevice)",
  nvmlDeviceGetGpuInstanceId: "int nvmlDeviceGetGpuInstanceId(void *device, void *id)",
  nvmlDeviceGetComputeInstanceId: "int nvmlDeviceGetComputeInstanceId(void *device, void *id)",
  nvmlDeviceGetComputeRunningProcesses_v3:
    "int nvmlDeviceGetComputeRunningProcesses_v3(void *device, void *count, void *infos)",
  nvmlDeviceGetComputeRunningProcesses_v2:
    "int nvmlDeviceGetComputeRunningProcesses_v2(void *device, void *count, void *infos)",
  nvmlDeviceGetTemperatureThreshold:
    "int nvmlDeviceGetTemperatureThreshold(void *device, int thresholdType, void *temp)",
  nvmlDeviceGetRunningProcessDetailList: "int nvmlDeviceGetRunningProcessDetailList(void *device, void *plist)",
  nvmlGpmQueryDeviceSupport: "int nvmlGpmQueryDeviceSupport(void *device, void *gpmSupport)",
  nvmlGpmSampleAlloc: "int nvmlGpmSampleAlloc(void *gpmSample)",
  nvmlGpmSampleFree: "int nvmlGpmSampleFree(void *gpmSample)",
  nvmlGpmSampleGet: "int nvmlGpmSampleGet(void *device, void *gpmSample)",
  nvmlGpmMigSampleGet: "int nvmlGpmMigSampleGet(void *device, unsigned int gpuInstanceId, void *gpmSample)",
  nvmlGpmMetricsGet: "int nvmlGpmMetricsGet(void *metricsGet)",
  nvmlEventSetCreate: "int nvmlEventSetCreate(void *set)",
  nvmlDeviceRegisterEvents: "int nvmlDeviceRegisterEvents(void *device, unsigned long long eventTypes, void *set)",
  nvmlEventSetWait_v2: "int nvmlEventSetWait_v2(void *set, void *data, unsigned int timeoutms)",
  nvmlEventSetFree: "int nvmlEventSetFree(void *set)",
} as const;

export type NvmlFunctionName = keyof typeof PROTOTYPES;

/** Functions without which the agent cannot enumerate GPUs: a library lacking one fails to load. */
const REQUIRED: readonly NvmlFunctionName[] = [
  "nvmlInit_v2",
  "nvmlShutdown",
  "nvmlDeviceGetCount_v2",
  "nvmlDeviceGetHandleByIndex_v2",
  "nvmlDeviceGetUUID",
];

/** A bound koffi function: arguments are numbers, BigInt handles or Buffers. */
export type NativeFunction = (...args: unknown[]) => unknown;

/** A loaded NVML library. Optional functions the driver lacks are undefined. */
export interface NvmlLibrary {
  readonly path: string;
  readonly fn: { readonly [K in NvmlFunctionName]?: NativeFunction };
  readonly missing: readonly NvmlFunctionName[];
  /** Drops the library handle (after nvmlShutdown). */
  unload(): void;
}

/**
 * dlopens the NVML library and looks up every function once. koffi throws at lookup for a symbol
 * the library lacks: that is how an older driver's missing functions are detected, without ever
 * calling them. Throws when the library cannot be opened or lacks a required function.
 */
export function loadNvmlLibrary(path: string): NvmlLibrary {
  let lib: LibraryHandle;
  try {
    lib = koffi.load(path);
  } catch (cause) {
    throw wrapError(`nvml: cannot load ${path}`, cause);
  }
  const fn: { [K in NvmlFunctionName]?: NativeFunction } = {};
  const missing: NvmlFunctionName[] = [];
  for (const [name, prototype] of Object.entries(PROTOTYPES) as [NvmlFunctionName, string][]) {
    try {
      fn[name] = lib.func(prototype) as NativeFunction;
    } catch {
      missing.push(name);
    }
  }
  const lacking = REQUIRED.filter((name) => missing.includes(name));
  if (lacking.length > 0) {
    lib.unload();
    throw new Error(`nvml: ${path} lacks required functions ${lacking.join(", ")}`);
  }
  return { path, fn, missing, unload: () => lib.unload() };
}

/** Reads a NUL-terminated C string out of a buffer. */
export function cString(buffer: Buffer, offset = 0, length = buffer.length - offset): string {
  const end = buffer.indexOf(0, offset);
  return buffer.toString("latin1", offset, end < 0 || end > offset + length ? offset + length : end);
}
