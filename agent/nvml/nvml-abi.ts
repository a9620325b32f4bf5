/**
 * NVML ABI facts the binding relies on, from nvml.h (NVML 12.x/13.x; the header as published in
 * NVIDIA/go-nvml `gen/nvml/nvml.h`, NVML 13.3.29; struct offsets checked by compiling against it).
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
  ARGUMENT_VERSION_MISMATCH: 25,
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
