/**
 * Field ids that moved between nvml.h versions, and which numbering a driver uses.
 *
 * The official nvml.h (NVIDIA/go-nvml gen/nvml/nvml.h at the commits syncing NVML 12.8.90, 12.9.40,
 * 13.0.39, 13.1.115 and 13.3.29) numbers the throttle-duration and power-smoothing fields three ways:
 *
 * | header      | NVML_FI_DEV_CLOCKS_EVENT_REASON_SW/HW_THERM, HW_POWER_BRAKE | NVML_FI_PWR_SMOOTHING_* |
 * | ----------- | ------------------------------------------------------------ | ----------------------- |
 * | 12.8        | (not defined)                                                | 251..268                |
 * | 12.9, 13.0  | 251, 252, 253                                                | 256..273                |
 * | 13.1, 13.3  | 269, 270, 271                                                | 251..268                |
 *
 * Asking a 13.1 driver for field 252 therefore reads a power-smoothing setting, not nanoseconds of
 * thermal slowdown. The libnvidia-ml.so a driver ships speaks its own header, and that header
 * belongs to the CUDA version the driver reports (nvmlSystemGetCudaDriverVersion: 12090 = 12.9), so
 * the numbering is chosen from that version; without it, from the driver branch (CUDA Toolkit
 * release notes, "CUDA Toolkit and Corresponding Driver Versions": 575 = CUDA 12.9, 580 = 13.0,
 * 590 = 13.1). Headers newer than 13.3 are assumed to keep the 13.1 numbering.
 *
 * NVML_FI_DEV_PERF_POLICY_POWER/THERMAL/SYNC_BOOST/BOARD_LIMIT (74..77) are the same in every header
 * since 11.x; 12.9's header aliases SW_POWER_CAP and SYNC_BOOST to 74 and 76.
 */

/** The three numberings, named by the headers that use them. */
export type FieldNumbering = "12.8-and-older" | "12.9-13.0" | "13.1-and-newer";

/** The throttle-duration ids of hardware thermal slowdown and hardware power brake, where the numbering has them. */
export interface HardwareBrakeFieldIds {
  readonly hwThermalSlowdown: number;
  readonly hwPowerBrakeSlowdown: number;
}

const BRAKES: Readonly<Record<FieldNumbering, HardwareBrakeFieldIds | undefined>> = {
  "12.8-and-older": undefined,
  "12.9-13.0": { hwThermalSlowdown: 252, hwPowerBrakeSlowdown: 253 },
  "13.1-and-newer": { hwThermalSlowdown: 270, hwPowerBrakeSlowdown: 271 },
};

/** CUDA driver versions (1000 × major + 10 × minor) at which a numbering starts. */
const CUDA_12_9 = 12090;
const CUDA_13_1 = 13010;
/** Driver branches at which a numbering starts (575 shipped CUDA 12.9, 590 CUDA 13.1). */
const BRANCH_12_9 = 575;
const BRANCH_13_1 = 590;

/**
 * The numbering of a driver, from its CUDA driver version (`"12090"`, as nvmlSystemGetCudaDriverVersion
 * gives it) or, when that is unknown, from the major number of its driver version (`"575.51.03"`).
 * A driver that tells neither gets the oldest numbering, which asks for no moved id at all.
 */
export function fieldNumberingOf(cudaDriverVersion: string, driverVersion: string): FieldNumbering {
  const cuda = Number.parseInt(cudaDriverVersion, 10);
  if (Number.isFinite(cuda) && cuda > 0) {
    if (cuda >= CUDA_13_1) return "13.1-and-newer";
    if (cuda >= CUDA_12_9) return "12.9-13.0";
    return "12.8-and-older";
  }
  const branch = Number.parseInt(driverVersion, 10);
  if (Number.isFinite(branch)) {
    if (branch >= BRANCH_13_1) return "13.1-and-newer";
    if (branch >= BRANCH_12_9) return "12.9-13.0";
  }
  return "12.8-and-older";
}

/** The hardware-brake duration ids a driver of this numbering answers, or undefined where its header has none. */
export function hardwareBrakeFieldIds(numbering: FieldNumbering): HardwareBrakeFieldIds | undefined {
  return BRAKES[numbering];
}

/** Field ids that are the same in every header since 11.x. */
export const STABLE_FIELD_IDS = {
  perfPolicyPower: 74,
  perfPolicyThermal: 75,
  perfPolicySyncBoost: 76,
  perfPolicyBoardLimit: 77,
  memoryTemperature: 82,
  pcieReplayCounter: 94,
  nvlinkThroughputDataTx: 138,
  nvlinkThroughputDataRx: 139,
} as const;
