import { GPM_SUPPORT_VERSION, GPM_SUPPORT_SIZE, NvmlReturn } from "./nvml-abi.js";
import {
  allocPair,
  computeSlicesOf,
  deriveFromInstances,
  freePair,
  hasGpm,
  samplePair,
  type GpmPair,
  type PairResult,
} from "./gpm.js";
import type { ReadContext } from "./read-context.js";
import type { GpmReading, MigDeviceRaw } from "./types.js";

/**
 * Handles one sample call's code: NO_PERMISSION is counted and retried next round (an unprivileged
 * container can see it mid-run, NVIDIA/DCGM issue 214); other codes go through the field check,
 * so NOT_SUPPORTED disables GPM on the GPU and GPU_IS_LOST marks it down.
 */
function settle(ctx: ReadContext, result: PairResult): GpmReading | undefined {
  if (result.rc === NvmlReturn.SUCCESS) return result.reading;
  if (result.rc === NvmlReturn.NO_PERMISSION) {
    ctx.memo.gpm.noPermission++;
    ctx.retry("gpm", result.rc);
  } else {
    ctx.check("gpm", result.rc);
  }
  return undefined;
}

/** The pair of `key`, allocated on first use; undefined (the failure reported) when allocation fails. */
function pairFor(ctx: ReadContext, existing: GpmPair | undefined, key: string): GpmPair | undefined {
  if (existing?.key === key) return existing;
  if (existing) freePair(ctx.calls, existing);
  const pair = allocPair(ctx.calls, key);
  if (typeof pair === "number") {
    ctx.retry("gpm", pair);
    return undefined;
  }
  return pair;
}

/** nvmlGpmQueryDeviceSupport once per GPU; false when the GPU has no GPM (GPM is then disabled for it). */
function isSupported(ctx: ReadContext): boolean {
  const { calls, memo } = ctx;
  if (memo.gpm.support === undefined) {
    const buf = calls.struct;
    buf.fill(0, 0, GPM_SUPPORT_SIZE);
    buf.writeUInt32LE(GPM_SUPPORT_VERSION, 0);
    const rc = calls.call("nvmlGpmQueryDeviceSupport", ctx.handle, buf);
    if (!ctx.check("gpm", rc)) return false;
    memo.gpm.support = buf.readUInt32LE(4) !== 0;
  }
  ctx.out.isGpmSupported = memo.gpm.support;
  if (!memo.gpm.support) ctx.check("gpm", NvmlReturn.NOT_SUPPORTED);
  return memo.gpm.support;
}

/** The whole GPU through nvmlGpmSampleGet on its handle. */
function sampleDevice(ctx: ReadContext): PairResult | undefined {
  const pair = pairFor(ctx, ctx.memo.gpm.device, "device");
  ctx.memo.gpm.device = pair;
  if (!pair) return undefined;
  return samplePair(ctx.calls, pair, ctx.nowMs, (sample) => ctx.calls.call("nvmlGpmSampleGet", ctx.handle, sample));
}

/** Each GPU instance through nvmlGpmMigSampleGet on the parent; frees the pairs of instances that are gone. */
function sampleInstances(ctx: ReadContext, devices: readonly MigDeviceRaw[]): Map<number, GpmReading | undefined> {
  const { calls, memo } = ctx;
  const members = new Map<number, string[]>();
  for (const device of devices)
    members.set(device.gpuInstanceId, [
      ...(members.get(device.gpuInstanceId) ?? []),
      `${device.uuid}:${device.profile}`,
    ]);
  for (const [gi, pair] of memo.gpm.instances) {
    if (!members.has(gi)) {
      freePair(calls, pair);
      memo.gpm.instances.delete(gi);
    }
  }
  const readings = new Map<number, GpmReading | undefined>();
  for (const [gi, names] of members) {
    const pair = pairFor(ctx, memo.gpm.instances.get(gi), names.sort().join(","));
    if (!pair) {
      memo.gpm.instances.delete(gi);
      continue;
    }
    memo.gpm.instances.set(gi, pair);
    const result = samplePair(calls, pair, ctx.nowMs, (sample) =>
      calls.call("nvmlGpmMigSampleGet", ctx.handle, gi, sample),
    );
    readings.set(gi, settle(ctx, result));
  }
  return readings;
}

/**
 * GPM of one GPU. Without MIG: the GPU's own samples. With MIG: every GPU instance's samples
 * (attached to its MIG devices), and the parent's own where the driver lets this process sample it;
 * where it refuses (no privilege), the GPU's figure is derived from its instances, weighted by
 * compute slices. Runs after the MIG reader, which fills `out.migDevices`.
 */
export function readGpm(ctx: ReadContext): void {
  const { calls, out, memo } = ctx;
  if (!hasGpm(calls)) {
    ctx.check("gpm", NvmlReturn.FUNCTION_NOT_FOUND);
    return;
  }
  if (!isSupported(ctx)) return;
  if (out.migEnabled !== true) {
    const result = sampleDevice(ctx);
    const reading = result ? settle(ctx, result) : undefined;
    if (reading) {
      out.gpm = reading;
      out.gpmSource = "device";
    }
  } else {
    readMigGpm(ctx);
  }
  if (memo.gpm.noPermission > 0) out.gpmNoPermission = memo.gpm.noPermission;
}

function readMigGpm(ctx: ReadContext): void {
  const { calls, out, memo } = ctx;
  const devices = out.migDevices ?? [];
  const readings = calls.has("nvmlGpmMigSampleGet")
    ? sampleInstances(ctx, devices)
    : new Map<number, GpmReading | undefined>();
  out.migDevices = devices.map((device) => {
    const reading = readings.get(device.gpuInstanceId);
    return reading ? { ...device, gpm: reading } : device;
  });
  if (!memo.parentRefuses.has("gpm")) {
    const result = sampleDevice(ctx);
    if (result?.rc === NvmlReturn.NO_PERMISSION || result?.rc === NvmlReturn.NOT_SUPPORTED) {
      // nvml.h: in MIG mode the parent answers "only if the caller has appropriate privileges".
      memo.parentRefuses.add("gpm");
      if (memo.gpm.device) freePair(calls, memo.gpm.device);
      memo.gpm.device = undefined;
    } else if (result) {
      const reading = settle(ctx, result);
      if (reading) {
        out.gpm = reading;
        out.gpmSource = "device";
      }
      return;
    }
  }
  const instances = [...new Map(devices.map((d) => [d.gpuInstanceId, d])).values()].map((d) => ({
    slices: computeSlicesOf(d.profile),
    reading: readings.get(d.gpuInstanceId),
  }));
  const derived = deriveFromInstances(instances, out.migSlices ?? 0);
  if (Object.keys(derived).length > 0) {
    out.gpm = derived;
    out.gpmSource = "instances";
  }
}
