import { z } from "zod";
import { SECOND_MS, MINUTE_MS, HOUR_MS, DAY_MS } from "../units.js";

const UNIT_MS: Record<string, number> = { ms: 1, s: SECOND_MS, m: MINUTE_MS, h: HOUR_MS, d: DAY_MS };

/**
 * The longest delay a Node.js timer keeps: 2³¹ − 1 ms (about 24.8 days). A longer one is set to
 * 1 ms with a TimeoutOverflowWarning (https://nodejs.org/api/timers.html#settimeoutcallback-delay-args),
 * which turns an interval into a busy loop; no duration setting may reach it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Parses a Prometheus-style duration (`500ms`, `1s`, `1m30s`, `6h`, `30d`) into milliseconds.
 * Returns undefined for anything else, and for a value too large to be a finite number (400 digits),
 * so the schema can report the path of the bad value.
 */
export function parseDurationMs(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const part of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) {
    total += Number(part[1]) * (UNIT_MS[part[2] as string] as number);
  }
  return Number.isFinite(total) ? total : undefined;
}

/** Formats milliseconds as the shortest duration string parseDurationMs reads back. */
export function formatDurationMs(ms: number): string {
  for (const [unit, size] of [
    ["d", DAY_MS],
    ["h", HOUR_MS],
    ["m", MINUTE_MS],
    ["s", SECOND_MS],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** The range a duration setting accepts, as duration strings (`100ms`, `1h`), both ends included. */
export interface DurationBounds {
  readonly min: string;
  readonly max: string;
}

/** Milliseconds of a bound written in code; throws on a typo, at module load. */
function boundMs(text: string): number {
  const ms = parseDurationMs(text);
  if (ms === undefined || !(ms > 0) || ms > MAX_TIMER_MS)
    throw new RangeError(`duration bound ${JSON.stringify(text)} is not a duration between 1ms and ${MAX_TIMER_MS}ms`);
  return ms;
}

/**
 * A duration given as a string (`1s`) or a number of milliseconds; parses to milliseconds. Every
 * setting states its own `bounds` (a sampling interval is not a retry backoff), all under
 * {@link MAX_TIMER_MS}; a value outside them is a configuration problem naming the range (exit 2),
 * never a 1 ms timer or a query storm.
 */
export function durationMs(defaultValue: string, bounds: DurationBounds) {
  const min = boundMs(bounds.min);
  const max = boundMs(bounds.max);
  const fallback = boundMs(defaultValue);
  if (min > max || fallback < min || fallback > max)
    throw new RangeError(`duration default ${defaultValue} is outside ${bounds.min}..${bounds.max}`);
  return z
    .union([z.number(), z.string()])
    .default(defaultValue)
    .transform((value, ctx) => {
      const ms = typeof value === "number" ? value : parseDurationMs(value);
      if (ms === undefined || !Number.isFinite(ms) || !(ms > 0)) {
        ctx.addIssue({
          code: "custom",
          message: `expected a positive duration such as 500ms, 1s or 5m, got ${JSON.stringify(value)}`,
        });
        return z.NEVER;
      }
      if (ms < min || ms > max) {
        ctx.addIssue({
          code: "custom",
          message: `expected a duration between ${bounds.min} and ${bounds.max}, got ${JSON.stringify(value)}`,
        });
        return z.NEVER;
      }
      return ms;
    });
}
