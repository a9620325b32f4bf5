/**
 * The dcgm-exporter parity fields through one nvmlDeviceGetFieldValues call: which ids a driver is
 * asked for (the throttle-duration ids moved between nvml.h 12.9/13.0 and 13.1+), per-field return
 * codes, value types, and a field dropped alone when the GPU does not have it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { fieldNumberingOf, hardwareBrakeFieldIds } from "../../../agent/nvml/field-numbering.js";
import { decodeFieldValue } from "../../../agent/nvml/field-values.js";
import type { NvmlReader } from "../../../agent/nvml/nvml-reader.js";
import { gpu } from "../../fixtures/nvml-scenario.js";
import { byIndex, openSession } from "./nvml-test-session.js";

let reader: NvmlReader | undefined;

afterEach(() => {
  reader?.close();
  reader = undefined;
});

const BRAKES = { sw_thermal_ns: 3_000, hw_thermal_ns: 4_000_000_000, hw_power_brake_ns: 5_000_000, power_smoothing: 1 };

describe("which field numbering a driver gets", () => {
  it.each([
    ["12040", "550.54.15", "12.8-and-older"],
    ["12080", "570.86.10", "12.8-and-older"],
    ["12090", "575.51.03", "12.9-13.0"],
    ["13000", "580.65.06", "12.9-13.0"],
    ["13010", "590.44.01", "13.1-and-newer"],
    ["13030", "600.10", "13.1-and-newer"],
    ["", "575.51.03", "12.9-13.0"],
    ["", "590.44.01", "13.1-and-newer"],
    ["", "", "12.8-and-older"],
  ])("CUDA %s, driver %s → %s", (cuda, driver, numbering) => {
    expect(fieldNumberingOf(cuda, driver)).toBe(numbering);
  });

  it("asks for no hardware-brake id where the header has none, and for the moved ids elsewhere", () => {
    expect(hardwareBrakeFieldIds("12.8-and-older")).toBeUndefined();
    expect(hardwareBrakeFieldIds("12.9-13.0")).toEqual({ hwThermalSlowdown: 252, hwPowerBrakeSlowdown: 253 });
    expect(hardwareBrakeFieldIds("13.1-and-newer")).toEqual({ hwThermalSlowdown: 270, hwPowerBrakeSlowdown: 271 });
  });
});

describe("field values through the reader", () => {
  it.each([
    [12080, "12.8-and-older", {}],
    [12090, "12.9-13.0", { hw_thermal_slowdown: 4_000_000_000, hw_power_brake_slowdown: 5_000_000 }],
    [13000, "12.9-13.0", { hw_thermal_slowdown: 4_000_000_000, hw_power_brake_slowdown: 5_000_000 }],
    [13010, "13.1-and-newer", { hw_thermal_slowdown: 4_000_000_000, hw_power_brake_slowdown: 5_000_000 }],
  ])("reads the throttle durations a CUDA %i driver numbers its way", async (cuda, numbering, brakes) => {
    const session = await openSession({
      cuda_driver_version: cuda,
      gpus: [gpu(0, { ...BRAKES, viol_thermal_ns: 7, viol_sync_boost_ns: 8, viol_board_limit_ns: 9 })],
    });
    reader = session.reader;
    const g0 = byIndex(reader.sample().gpus, 0);
    expect(g0.throttleNs).toEqual({ power: 2_000_000_000, thermal: 7, sync_boost: 8, board_limit: 9, ...brakes });
    expect(g0.disabled).toEqual([]);
    expect(numbering).toBe(fieldNumberingOf(String(cuda), ""));
  });

  it("reads HBM temperature and its limit, PCIe replays and NVLink data, in one call", async () => {
    const session = await openSession({
      gpus: [
        gpu(0, { memory_temp: 81, memory_temp_max: 95, pcie_replay: 1234, nvlink_tx_kib: 4096, nvlink_rx_kib: 8192 }),
      ],
    });
    reader = session.reader;
    expect(byIndex(reader.sample().gpus, 0)).toMatchObject({
      memoryTemperatureCelsius: 81,
      memoryTemperatureMaxCelsius: 95,
      pcieReplays: 1234,
      nvlinkTxKiB: 4096,
      nvlinkRxKiB: 8192,
    });
  });

  it("drops a field the GPU answers NOT_SUPPORTED for, keeps the rest, and disables a group only when all of it is gone", async () => {
    const session = await openSession({ gpus: [gpu(0, { memory_temp: 0, not_supported: "throttle_time" }), gpu(1)] });
    reader = session.reader;
    const first = reader.sample();
    const g0 = byIndex(first.gpus, 0);
    expect(g0.memoryTemperatureCelsius).toBeUndefined();
    expect(g0.throttleNs).toBeUndefined();
    expect(g0.pcieReplays).toBe(0);
    expect(g0.disabled.slice().sort()).toEqual(["memory_temp", "throttle_time"]);
    expect(byIndex(first.gpus, 1)).toMatchObject({ memoryTemperatureCelsius: 71, pcieReplays: 1, disabled: [] });
    expect(byIndex(reader.sample().gpus, 0).pcieReplays).toBe(0);
  });

  it("decodes each nvmlValueType_t from the union at offset 32", () => {
    const entry = (type: number, write: (buf: Buffer) => void): Buffer => {
      const buf = Buffer.alloc(40);
      buf.writeInt32LE(type, 24);
      write(buf);
      return buf;
    };
    expect(
      decodeFieldValue(
        entry(0, (b) => b.writeDoubleLE(1.5, 32)),
        0,
      ),
    ).toBe(1.5);
    expect(
      decodeFieldValue(
        entry(1, (b) => b.writeUInt32LE(0xfffffffe, 32)),
        0,
      ),
    ).toBe(0xfffffffe);
    expect(
      decodeFieldValue(
        entry(2, (b) => b.writeBigUInt64LE(2n ** 40n, 32)),
        0,
      ),
    ).toBe(2 ** 40);
    expect(
      decodeFieldValue(
        entry(3, (b) => b.writeBigUInt64LE(123n, 32)),
        0,
      ),
    ).toBe(123);
    expect(
      decodeFieldValue(
        entry(4, (b) => b.writeBigInt64LE(-5n, 32)),
        0,
      ),
    ).toBe(-5);
    expect(
      decodeFieldValue(
        entry(5, (b) => b.writeInt32LE(-7, 32)),
        0,
      ),
    ).toBe(-7);
    expect(
      decodeFieldValue(
        entry(6, (b) => b.writeUInt16LE(65535, 32)),
        0,
      ),
    ).toBe(65535);
    expect(
      decodeFieldValue(
        entry(7, () => undefined),
        0,
      ),
    ).toBeUndefined();
    expect(
      decodeFieldValue(
        entry(0, (b) => b.writeDoubleLE(Number.NaN, 32)),
        0,
      ),
    ).toBeUndefined();
  });
});
