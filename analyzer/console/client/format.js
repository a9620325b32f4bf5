// @ts-check
/** How the console writes numbers; the browser test formats the API's values with these to compare. */

/**
 * A ratio 0..1 as a percentage with one decimal, or "–".
 * @param {number | null | undefined} ratio
 */
export function percent(ratio) {
  return ratio === null || ratio === undefined || !Number.isFinite(ratio) ? "–" : `${(ratio * 100).toFixed(1)} %`;
}

/**
 * A burn rate: how many times the sustainable rate, or "no data".
 * @param {number | null} rate
 */
export function burn(rate) {
  return rate === null ? "no data" : `${rate < 10 ? rate.toFixed(2) : rate.toFixed(1)}×`;
}

/**
 * Bytes in GiB with one decimal.
 * @param {number} bytes
 */
export function gib(bytes) {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

/**
 * A duration in the largest sensible unit, or "–".
 * @param {number | null} ms
 */
export function duration(ms) {
  if (ms === null || !Number.isFinite(ms)) return "–";
  const minutes = ms / 60_000;
  if (minutes < 1) return `${Math.round(ms / 1000)} s`;
  if (minutes < 120) return `${Math.round(minutes)} min`;
  if (minutes < 48 * 60) return `${(minutes / 60).toFixed(1)} h`;
  return `${(minutes / 1440).toFixed(1)} d`;
}

/**
 * A count or measured figure with at most one decimal, or "–".
 * @param {number | null | undefined} value
 */
export function number(value) {
  return value === null || value === undefined || !Number.isFinite(value)
    ? "–"
    : Number.isInteger(value)
      ? String(value)
      : value.toFixed(1);
}

/**
 * A time of day (local) from ms since the epoch.
 * @param {number} ms
 */
export function clock(ms) {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}
