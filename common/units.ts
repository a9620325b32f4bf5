/**
 * Time and size units, defined once. Durations are milliseconds (what `Date.now()` and the metric
 * stores count in); sizes are bytes in binary multiples (IEC 80000-13: 1 KiB = 1024 B), as NVML and
 * the runtimes report memory.
 */

/** One second, ms. */
export const SECOND_MS = 1_000;
/** One minute, ms. */
export const MINUTE_MS = 60 * SECOND_MS;
/** One hour, ms. */
export const HOUR_MS = 60 * MINUTE_MS;
/** One day (24 h; no calendar or daylight-saving arithmetic), ms. */
export const DAY_MS = 24 * HOUR_MS;

/** One kibibyte, bytes. */
export const KIB = 1024;
/** One mebibyte, bytes. */
export const MIB = 1024 * KIB;
/** One gibibyte, bytes. */
export const GIB = 1024 * MIB;
