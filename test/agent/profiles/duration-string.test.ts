import { describe, expect, it } from "vitest";
import { parseDurationString } from "../../../agent/profiles/duration-string.js";

describe("parseDurationString", () => {
  it.each([
    { text: "1.2s", seconds: 1.2, why: "seconds with a fraction" },
    { text: "1.25s", seconds: 1.25, why: "TGI total_time" },
    { text: "3600s", seconds: 3600, why: "an hour stays in seconds, Rust never prints minutes" },
    { text: "1.000000001s", seconds: 1.000000001, why: "nanosecond precision above one second" },
    { text: "12.5ms", seconds: 0.0125, why: "milliseconds" },
    { text: "1.234567ms", seconds: 0.001234567, why: "milliseconds with six fractional digits, exactly" },
    { text: "18.75ms", seconds: 0.01875, why: "TGI time_per_token" },
    { text: "850µs", seconds: 0.00085, why: "microseconds with the micro sign Rust prints" },
    { text: "850μs", seconds: 0.00085, why: "microseconds with a Greek mu" },
    { text: "850us", seconds: 0.00085, why: "microseconds spelled us" },
    { text: "1.5µs", seconds: 0.0000015, why: "fractional microseconds" },
    { text: "100ns", seconds: 1e-7, why: "nanoseconds" },
    { text: "0ns", seconds: 0, why: "a zero Duration" },
    { text: " 12.5ms\n", seconds: 0.0125, why: "surrounding whitespace" },
  ])("reads $text as $seconds s ($why)", ({ text, seconds }) => {
    expect(parseDurationString(text)).toBe(seconds);
  });

  it.each([
    { text: "", why: "empty" },
    { text: "12.5", why: "no unit" },
    { text: "ms", why: "no number" },
    { text: "-1s", why: "negative (Duration is unsigned)" },
    { text: "+1s", why: "a sign" },
    { text: "2m3s", why: "minutes, which Rust never prints" },
    { text: "1h", why: "an unknown unit" },
    { text: "1e3ms", why: "an exponent" },
    { text: ".5s", why: "no integer part" },
    { text: "5.s", why: "a dangling decimal point" },
    { text: "1.2.3s", why: "two decimal points" },
    { text: "12.5 ms", why: "a space before the unit" },
    { text: "12.5MS", why: "an upper-case unit" },
    { text: "NaNs", why: "NaN" },
    { text: "Infinitys", why: "infinity" },
    { text: "Some(12.5ms)", why: "an Option wrapper" },
  ])("rejects $text ($why)", ({ text }) => {
    expect(parseDurationString(text)).toBeUndefined();
  });
});
