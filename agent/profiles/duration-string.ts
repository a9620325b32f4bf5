/**
 * Parser for Rust's `Debug` rendering of `std::time::Duration`, which TGI records as span
 * attributes (`format!("{total_time:?}")`, text-generation-inference `router/src/server.rs`).
 *
 * `Debug` picks one unit by magnitude and prints the value with every significant fractional
 * digit and no trailing zeros: "1.5s", "12.5ms", "850µs", "100ns", "0ns". It never prints
 * minutes, hours, exponents, signs or spaces
 * (https://doc.rust-lang.org/src/core/time.rs.html, `impl fmt::Debug for Duration`).
 */

/** Decimal exponent of each unit relative to seconds. "us" and Greek mu are accepted besides "µs". */
const UNIT_EXPONENT: Readonly<Record<string, number>> = {
  s: 0,
  ms: -3,
  µs: -6, // U+00B5 MICRO SIGN, what Rust prints
  μs: -6, // U+03BC GREEK SMALL LETTER MU, what people type
  us: -6,
  ns: -9,
};

const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(s|ms|µs|μs|us|ns)$/u;

/**
 * Seconds in a Rust Debug Duration string such as "12.5ms" (0.0125); undefined for anything
 * else (empty, negative, no unit, unknown unit, "2m3s", "1e3ms", …). Surrounding whitespace is
 * ignored. The value is parsed as one decimal literal, so "1.234567ms" yields exactly 0.001234567.
 */
export function parseDurationString(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text.trim());
  if (match === null) return undefined;
  const [, digits, unit] = match;
  if (digits === undefined || unit === undefined) return undefined;
  const exponent = UNIT_EXPONENT[unit];
  if (exponent === undefined) return undefined;
  const seconds = Number(`${digits}e${exponent}`);
  return Number.isFinite(seconds) ? seconds : undefined;
}
