import { z } from "zod";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a Prometheus-style duration (`500ms`, `1s`, `1m30s`, `6h`, `30d`) into milliseconds.
 * Returns undefined for anything else, so the schema can report the path of the bad value.
 */
export function parseDurationMs(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const part of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) {
    total += Number(part[1]) * (UNIT_MS[part[2] as string] as number);
  }
  return total;
}

/** Formats milliseconds as the shortest duration string parseDurationMs reads back. */
export function formatDurationMs(ms: number): string {
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1_000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** A duration given as a string (`1s`) or a number of milliseconds; parses to milliseconds. */
export function durationMs(defaultValue: string) {
  return z
    .union([z.number(), z.string()])
    .default(defaultValue)
    .transform((value, ctx) => {
      const ms = typeof value === "number" ? value : parseDurationMs(value);
      if (ms === undefined || !(ms > 0)) {
        ctx.addIssue({ code: "custom", message: `expected a positive duration such as 500ms, 1s or 5m, got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return ms;
    });
}
