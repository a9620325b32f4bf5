/**
 * NVML ABI facts the binding relies on, from the official nvml.h as NVIDIA/go-nvml vendors it
 * (gen/nvml/nvml.h; NVML 13.3.29 at commit 8b8585b unless a line names another version; the file's
 * history holds 11.8.86 to 13.2.82 for the constants that changed). Offsets are for x86_64 and
 * aarch64 Linux (LP64), where the layouts agree.
 */

/** nvmlReturn_t values the agent acts on. */
export const NvmlReturn = {
  SUCCESS: 0,
  UNINITIALIZED: 1,
  INVALID_ARGUMENT: 2,
  NOT_SUPPORTED: 3,
  NO_PERMISSION: 4,
  NOT_FOUND: 6,
  INSUFFICIENT_SIZE: 7,
  DRIVER_NOT_LOADED: 9,
  TIMEOUT: 10,
  FUNCTION_NOT_FOUND: 13,
  GPU_IS_LOST: 15,
  MEMORY: 20,
  NO_DATA: 21,
  ARGUMENT_VERSION_MISMATCH: 25,
  NOT_READY: 27,
  UNKNOWN: 999,
} as const;

const RETURN_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(NvmlReturn).map(([name, code]) => [code, name]),
);

/** A stable name for a return code (`GPU_IS_LOST`), or `ERROR_<n>` for codes the agent does not name. */
export function returnName(code: number): string {
  return RETURN_NAMES[code] ?? `ERROR_${code}`;
}

/** `NVML_STRUCT_VERSION(Memory, 2)`: sizeof(nvmlMemory_v2_t) | 2 << 24. */
export const MEMORY_V2_VERSION = 40 | (2 << 24);
/** `NVML_STRUCT_VERSION(Temperature, 1)`: sizeof(nvmlTemperature_v1_t) | 1 << 24. */
export const TEMPERATURE_V1_VERSION = 12 | (1 << 24);

/** nvmlClockType_t. */
export const CLOCK_SM = 1;
export const CLOCK_MEM = 2;
/** nvmlMemoryErrorType_t and nvmlEccCounterType_t. */
export const ECC_CORRECTED = 0;
export const ECC_UNCORRECTED = 1;
export const ECC_VOLATILE = 0;
/** nvmlEventTypeXidCriticalError. */
export const EVENT_XID_CRITICAL = 0x8n;
/** NVML_FI_DEV_NVLINK_LINK_COUNT, read through nvmlDeviceGetFieldValues. */
export const FI_DEV_NVLINK_LINK_COUNT = 91;
/** NVML_NVLINK_MAX_LINKS of the 12.x headers; probed only when the link-count field is missing. */
export const NVLINK_PROBE_LINKS = 18;

/** Buffer sizes (NVML_DEVICE_UUID_V2_BUFFER_SIZE, NVML_DEVICE_NAME_V2_BUFFER_SIZE, NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE). */
export const UUID_BUFFER = 96;
export const NAME_BUFFER = 96;
export const VERSION_BUFFER = 80;

/** Struct sizes and offsets used with raw buffers (x86_64 and aarch64 Linux layouts agree). */
export const PCI_INFO_SIZE = 68;
export const PCI_INFO_BUS_ID_OFFSET = 36;
export const MEMORY_V1_SIZE = 24;
export const MEMORY_V2_SIZE = 40;
export const EVENT_DATA_SIZE = 32;
export const FIELD_VALUE_SIZE = 40;
/** nvmlProcessInfo_v2_t (what nvml.h says `_v3` writes) and the R535 entry with usedGpuCcProtectedMemory. */
export const PROCESS_INFO_SIZE = 24;
export const PROCESS_INFO_R535_SIZE = 32;
/** usedGpuMemory when the driver cannot tell (NVML_VALUE_NOT_AVAILABLE). */
export const VALUE_NOT_AVAILABLE = 0xffff_ffff_ffff_ffffn;
/** gpuInstanceId / computeInstanceId of a process on a GPU without MIG. */
export const NO_INSTANCE = 0xffff_ffff;

/** nvmlDeviceGetTemperatureThreshold's NVML_TEMPERATURE_THRESHOLD_MEM_MAX (HBM maximum operating temperature). */
export const TEMPERATURE_THRESHOLD_MEM_MAX = 2;

/** nvmlProcessInfo_v1_t: pid@0, usedGpuMemory@8; what a 550 driver on Hopper was reported to write from `_v3`. */
export const PROCESS_INFO_V1_SIZE = 16;
/**
 * nvmlProcessDetailList_v1_t (nvml.h 12.4+): version@0, mode@4, numProcArrayEntries@8, procArray@16;
 * sizeof 24, so NVML_STRUCT_VERSION(ProcessDetailList, 1) = 24 | 1 << 24. Entries are
 * nvmlProcessDetail_v1_t (32 bytes: the 24-byte entry plus usedGpuCcProtectedMemory@24).
 */
export const PROCESS_DETAIL_LIST_SIZE = 24;
export const PROCESS_DETAIL_LIST_V1_VERSION = 24 | (1 << 24);
export const PROCESS_DETAIL_SIZE = 32;
/** nvmlProcessMode_t NVML_PROCESS_MODE_COMPUTE. */
export const PROCESS_MODE_COMPUTE = 0;

/** nvmlFieldValue_t offsets: fieldId@0, scopeId@4, timestamp@8, latencyUsec@16, valueType@24, nvmlReturn@28, value@32. */
export const FIELD_VALUE_OFFSETS = { fieldId: 0, scopeId: 4, valueType: 24, nvmlReturn: 28, value: 32 } as const;
/** nvmlValueType_t (SIGNED_INT and UNSIGNED_SHORT from nvml.h 12.x). */
export const ValueType = {
  DOUBLE: 0,
  UNSIGNED_INT: 1,
  UNSIGNED_LONG: 2,
  UNSIGNED_LONG_LONG: 3,
  SIGNED_LONG_LONG: 4,
  SIGNED_INT: 5,
  UNSIGNED_SHORT: 6,
} as const;
/** A field value's scopeId that sums NVLink throughput over every link (nvml.h: "A scopeId of UINT_MAX returns aggregate value"). */
export const SCOPE_ALL_LINKS = 0xffff_ffff;

/**
 * GPM (nvml.h, "For Hopper or newer fully supported devices").
 * nvmlGpmSupport_t: version@0 = NVML_GPM_SUPPORT_VERSION 1, isSupportedDevice@4 (8 bytes).
 * nvmlGpmMetricsGet_t: version@0 = NVML_GPM_METRICS_GET_VERSION 1, numMetrics@4, sample1@8,
 * sample2@16, metrics[NVML_GPM_METRIC_MAX]@24; nvmlGpmMetric_t is 40 bytes: metricId@0,
 * nvmlReturn@4, value@8 (double), metricInfo (three char*)@16.
 */
export const GPM_SUPPORT_SIZE = 8;
export const GPM_SUPPORT_VERSION = 1;
export const GPM_METRICS_GET_VERSION = 1;
export const GPM_METRICS_OFFSET = 24;
export const GPM_METRIC_SIZE = 40;
/**
 * NVML_GPM_METRIC_MAX grew 98 (nvml.h 11.8 to 12.8) → 210 (12.9 to 13.1) → 333 (13.2, 13.3) while the
 * struct version stayed 1. The struct is allocated at the largest size, zeroed; every metric id the
 * agent asks for is below 98, so it is valid on every driver with GPM.
 */
export const GPM_METRIC_MAX_LARGEST = 333;
export const GPM_METRIC_MAX_OLDEST = 98;
/** nvml.h: "The interval between two nvmlGpmSampleGet() calls should be greater than 100ms". */
export const GPM_MIN_INTERVAL_MS = 100;

/** nvmlGpmMetricId_t values the agent reads (percent 0..100, or MiB/s for the link rates). */
export const GpmMetric = {
  GRAPHICS_UTIL: 1,
  SM_UTIL: 2,
  SM_OCCUPANCY: 3,
  ANY_TENSOR_UTIL: 5,
  DRAM_BW_UTIL: 10,
  FP64_UTIL: 11,
  FP32_UTIL: 12,
  FP16_UTIL: 13,
  PCIE_TX_PER_SEC: 20,
  PCIE_RX_PER_SEC: 21,
  NVLINK_TOTAL_RX_PER_SEC: 60,
  NVLINK_TOTAL_TX_PER_SEC: 61,
} as const;
