/** Assertions shared by the decoder tests (kept apart from otlp-fixtures.ts, which the benchmark imports outside vitest). */
import { expect } from "vitest";
import type { DecodedTraces } from "../../../agent/receivers/otlp-model.js";
import { dumpTraces } from "./otlp-fixtures.js";

/** `traces` as plain data with every time replaced by 0; the times are pushed onto `times`. */
function withoutTimes(traces: DecodedTraces, times: number[]): unknown {
  const text = dumpTraces(traces).replace(
    /"(startTimeMs|endTimeMs|timeMs)":([0-9.e+-]+)/g,
    (_match, name: string, value: string) => {
      times.push(Number(value));
      return `"${name}":0`;
    },
  );
  return JSON.parse(text);
}

/** Equal traces, times within 1e-12 relative (decimal-string and fixed64 arithmetic may differ in the last bit). */
export function expectSameTraces(actual: DecodedTraces, expected: DecodedTraces): void {
  const actualTimes: number[] = [];
  const expectedTimes: number[] = [];
  expect(withoutTimes(actual, actualTimes)).toEqual(withoutTimes(expected, expectedTimes));
  expectedTimes.forEach((want, i) =>
    expect(Math.abs((actualTimes[i] ?? Number.NaN) - want)).toBeLessThanOrEqual(Math.abs(want) * 1e-12),
  );
}
