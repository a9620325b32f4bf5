import {
  FIELD_VALUE_OFFSETS,
  FIELD_VALUE_SIZE,
  NvmlReturn,
  SCOPE_ALL_LINKS,
  TEMPERATURE_THRESHOLD_MEM_MAX,
  ValueType,
} from "./nvml-abi.js";
import { hardwareBrakeFieldIds, STABLE_FIELD_IDS, type FieldNumbering } from "./field-numbering.js";
import type { FieldSpec, ReadContext } from "./read-context.js";
import type { FieldGroup, ThrottleTimeReason } from "./types.js";

/** The field groups read through nvmlDeviceGetFieldValues. */
export const FIELD_VALUE_GROUPS: readonly FieldGroup[] = [
  "memory_temp",
  "pcie_replay",
  "throttle_time",
  "nvlink_throughput",
];

function throttle(id: number, reason: ThrottleTimeReason): FieldSpec {
  return {
    id,
    scopeId: 0,
    group: "throttle_time",
    apply: (out, value) => {
      const times = out.throttleNs ?? {};
      times[reason] = value;
      out.throttleNs = times;
    },
  };
}

/**
 * The fields of one batched nvmlDeviceGetFieldValues call for a driver of this numbering: HBM
 * temperature, PCIe replays, throttle time (the four perf-policy counters everywhere, the hardware
 * brakes where the header has them, at that header's ids) and NVLink data over all links.
 */
export function fieldSpecs(numbering: FieldNumbering): readonly FieldSpec[] {
  const ids = STABLE_FIELD_IDS;
  const specs: FieldSpec[] = [
    {
      id: ids.memoryTemperature,
      scopeId: 0,
      group: "memory_temp",
      apply: (out, v) => {
        out.memoryTemperatureCelsius = v;
      },
    },
    {
      id: ids.pcieReplayCounter,
      scopeId: 0,
      group: "pcie_replay",
      apply: (out, v) => {
        out.pcieReplays = v;
      },
    },
    throttle(ids.perfPolicyPower, "power"),
    throttle(ids.perfPolicyThermal, "thermal"),
    throttle(ids.perfPolicySyncBoost, "sync_boost"),
    throttle(ids.perfPolicyBoardLimit, "board_limit"),
    {
      id: ids.nvlinkThroughputDataTx,
      scopeId: SCOPE_ALL_LINKS,
      group: "nvlink_throughput",
      apply: (out, v) => {
        out.nvlinkTxKiB = v;
      },
    },
    {
      id: ids.nvlinkThroughputDataRx,
      scopeId: SCOPE_ALL_LINKS,
      group: "nvlink_throughput",
      apply: (out, v) => {
        out.nvlinkRxKiB = v;
      },
    },
  ];
  const brakes = hardwareBrakeFieldIds(numbering);
  if (brakes)
    specs.push(
      throttle(brakes.hwThermalSlowdown, "hw_thermal_slowdown"),
      throttle(brakes.hwPowerBrakeSlowdown, "hw_power_brake_slowdown"),
    );
  return specs;
}

/**
 * The value of the nvmlFieldValue_t at `offset`, decoded by its own valueType (an nvmlValue_t
 * union: double, unsigned int, unsigned long (8 bytes on LP64), unsigned/signed long long, int,
 * unsigned short). Undefined for a type the agent does not know or a value that is not finite.
 */
export function decodeFieldValue(buffer: Buffer, offset: number): number | undefined {
  const at = offset + FIELD_VALUE_OFFSETS.value;
  let value: number;
  switch (buffer.readInt32LE(offset + FIELD_VALUE_OFFSETS.valueType)) {
    case ValueType.DOUBLE:
      value = buffer.readDoubleLE(at);
      break;
    case ValueType.UNSIGNED_INT:
      value = buffer.readUInt32LE(at);
      break;
    // Two 32-bit halves: exact to 2^53, and no BigInt allocated per field.
    case ValueType.UNSIGNED_LONG:
    case ValueType.UNSIGNED_LONG_LONG:
      value = buffer.readUInt32LE(at + 4) * 2 ** 32 + buffer.readUInt32LE(at);
      break;
    case ValueType.SIGNED_LONG_LONG:
      value = buffer.readInt32LE(at + 4) * 2 ** 32 + buffer.readUInt32LE(at);
      break;
    case ValueType.SIGNED_INT:
      value = buffer.readInt32LE(at);
      break;
    case ValueType.UNSIGNED_SHORT:
      value = buffer.readUInt16LE(at);
      break;
    default:
      return undefined;
  }
  return Number.isFinite(value) ? value : undefined;
}

/** Per-field codes that mean "this GPU or driver has no such field": the field is dropped for the GPU. */
const FIELD_ABSENT = new Set<number>([NvmlReturn.NOT_SUPPORTED, NvmlReturn.INVALID_ARGUMENT, NvmlReturn.NO_PERMISSION]);

/** The fields still asked of this GPU: recomputed only when a field is dropped or a group disabled. */
function activeFields(ctx: ReadContext): readonly FieldSpec[] {
  const { memo } = ctx;
  let disabled = 0;
  for (const group of FIELD_VALUE_GROUPS) if (ctx.isDisabled(group)) disabled++;
  if (memo.activeFields === undefined || memo.activeFieldsKey !== memo.droppedFieldIds.size * 16 + disabled) {
    memo.activeFields = ctx.quirks.fields.filter(
      (spec) => !memo.droppedFieldIds.has(spec.id) && !ctx.isDisabled(spec.group),
    );
    memo.activeFieldsKey = memo.droppedFieldIds.size * 16 + disabled;
  }
  return memo.activeFields;
}

/**
 * One nvmlDeviceGetFieldValues call for every field still asked of this GPU. Each field answers
 * with its own return code: a field answering NOT_SUPPORTED (or not defined by the driver's header)
 * is dropped for this GPU, and a group is disabled once all its fields are dropped.
 */
export function readFieldValues(ctx: ReadContext): void {
  const { calls, memo } = ctx;
  const active = activeFields(ctx);
  if (active.length === 0) return;
  const buffer = calls.fieldValues(active.length * FIELD_VALUE_SIZE);
  for (let i = 0; i < active.length; i++) {
    const spec = active[i] as FieldSpec;
    buffer.writeUInt32LE(spec.id, i * FIELD_VALUE_SIZE + FIELD_VALUE_OFFSETS.fieldId);
    buffer.writeUInt32LE(spec.scopeId, i * FIELD_VALUE_SIZE + FIELD_VALUE_OFFSETS.scopeId);
  }
  const rc = calls.call("nvmlDeviceGetFieldValues", ctx.handle, active.length, buffer);
  if (rc !== NvmlReturn.SUCCESS) {
    for (const group of new Set(active.map((spec) => spec.group))) ctx.check(group, rc);
    return;
  }
  let answered: FieldGroup | undefined;
  let isDropped = false;
  for (let i = 0; i < active.length; i++) {
    const spec = active[i] as FieldSpec;
    const base = i * FIELD_VALUE_SIZE;
    const fieldRc = buffer.readInt32LE(base + FIELD_VALUE_OFFSETS.nvmlReturn);
    const value = fieldRc === NvmlReturn.SUCCESS ? decodeFieldValue(buffer, base) : undefined;
    if (value !== undefined) {
      spec.apply(ctx.out, value);
      answered ??= spec.group;
    } else if (FIELD_ABSENT.has(fieldRc)) {
      memo.droppedFieldIds.add(spec.id);
      isDropped = true;
    } else if (fieldRc === NvmlReturn.GPU_IS_LOST) {
      ctx.check(spec.group, fieldRc);
    } else if (fieldRc !== NvmlReturn.SUCCESS) {
      ctx.retry(spec.group, fieldRc);
    }
  }
  if (answered !== undefined) ctx.check(answered, NvmlReturn.SUCCESS);
  if (isDropped) {
    for (const group of FIELD_VALUE_GROUPS) {
      const specs = ctx.quirks.fields.filter((spec) => spec.group === group);
      if (specs.length > 0 && !ctx.isDisabled(group) && specs.every((spec) => memo.droppedFieldIds.has(spec.id)))
        ctx.check(group, NvmlReturn.NOT_SUPPORTED);
    }
  }
  if (ctx.out.memoryTemperatureCelsius !== undefined) readMemoryTemperatureMax(ctx);
}

/** The HBM's maximum operating temperature, asked once per GPU (it does not change while the driver runs). */
function readMemoryTemperatureMax(ctx: ReadContext): void {
  const { calls, memo } = ctx;
  if (memo.memoryTemperatureMax === undefined) {
    const rc = calls.u32Out("nvmlDeviceGetTemperatureThreshold", ctx.handle, TEMPERATURE_THRESHOLD_MEM_MAX);
    memo.memoryTemperatureMax = rc === NvmlReturn.SUCCESS ? calls.lastU32() : null;
  }
  if (memo.memoryTemperatureMax !== null) ctx.out.memoryTemperatureMaxCelsius = memo.memoryTemperatureMax;
}
