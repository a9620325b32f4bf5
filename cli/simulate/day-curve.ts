/**
 * The scenario's day curve: a traffic multiplier at each local hour, linear in between. Being
 * piecewise linear, its integral (and that of min(1, scale × curve), the GPU utilization) has a
 * closed form, so expected request counts and energy over any interval are exact and O(1).
 */

import { HOUR_MS } from "../../common/units.js";

/** Prefix integrals of `scale × curve` (clamped at 1 when `isClamped`) over one day of local hours. */
export interface CurveIntegral {
  readonly curve: readonly number[];
  readonly utcOffsetHours: number;
  readonly scale: number;
  readonly isClamped: boolean;
  /** prefix[i] = ∫ over local hours [0, i]; prefix[24] is one day. */
  readonly prefix: Float64Array;
}

/** ∫₀ˣ g(s) ds where g is linear from f0 (s = 0) to f1 (s = 1), optionally clamped at 1. */
function segmentIntegral(f0: number, f1: number, x: number, isClamped: boolean): number {
  const fx = f0 + (f1 - f0) * x;
  if (!isClamped || (f0 <= 1 && fx <= 1)) return ((f0 + fx) / 2) * x;
  if (f0 >= 1 && fx >= 1) return x;
  const cross = (1 - f0) / (f1 - f0);
  return f0 < 1 ? ((f0 + 1) / 2) * cross + (x - cross) : cross + ((1 + fx) / 2) * (x - cross);
}

/** Prepares the integral of `scale × curve`, clamped at 1 or not. */
export function curveIntegral(
  curve: readonly number[],
  utcOffsetHours: number,
  scale: number,
  isClamped: boolean,
): CurveIntegral {
  const prefix = new Float64Array(25);
  for (let i = 0; i < 24; i++) {
    prefix[i + 1] =
      (prefix[i] as number) +
      segmentIntegral(scale * (curve[i] as number), scale * (curve[(i + 1) % 24] as number), 1, isClamped);
  }
  return { curve, utcOffsetHours, scale, isClamped, prefix };
}

/** ∫ from local hour 0 of day 0 to `tMs`, in value × hours. */
function integrateTo(integral: CurveIntegral, tMs: number): number {
  const u = tMs / HOUR_MS + integral.utcOffsetHours;
  const days = Math.floor(u / 24);
  let hour = u - days * 24;
  let i = Math.floor(hour);
  if (i >= 24) [i, hour] = [23, 24];
  const { curve, scale, prefix } = integral;
  const partial = segmentIntegral(
    scale * (curve[i] as number),
    scale * (curve[(i + 1) % 24] as number),
    hour - i,
    integral.isClamped,
  );
  return days * (prefix[24] as number) + (prefix[i] as number) + partial;
}

/** ∫ of the integrand over [fromMs, toMs], in value × seconds. */
export function integrateBetween(integral: CurveIntegral, fromMs: number, toMs: number): number {
  return (integrateTo(integral, toMs) - integrateTo(integral, fromMs)) * 3600;
}

/** The curve's value at `tMs` (local time `utcOffsetHours` east of UTC), linear between hours. */
export function curveAt(curve: readonly number[], utcOffsetHours: number, tMs: number): number {
  const hour = (((tMs / HOUR_MS + utcOffsetHours) % 24) + 24) % 24;
  const i = Math.min(23, Math.floor(hour));
  const v0 = curve[i] as number;
  return v0 + ((curve[(i + 1) % 24] as number) - v0) * (hour - i);
}
