/**
 * The window a capacity-planning report covers, as users give it (`--since 30d`, `/report?since=30d`):
 * at least a day (the report's forecasts work on whole days) and at most two years. Past two years
 * a report is no longer a capacity plan, and its day-by-day tables grow with the window: `3000000d`
 * asked for 3 million days (a 54 MB answer, a 6.5 s stall, 2.6 GiB), larger values an array longer
 * than V8 allows.
 */
import { parseDurationMs } from "../../common/config/duration.js";
import { DAY_MS } from "../../common/units.js";

/** The shortest window, one day. */
export const MIN_REPORT_WINDOW_MS = DAY_MS;
/** The longest window, 730 days. */
export const MAX_REPORT_WINDOW_MS = 730 * DAY_MS;

/** A report window read from user text: milliseconds, or why not. */
export type ReportWindow =
  { readonly ok: true; readonly sinceMs: number } | { readonly ok: false; readonly message: string };

/** Reads `text` (a duration such as `30d`) as a report window; the message names the accepted range. */
export function parseReportWindow(text: string): ReportWindow {
  const sinceMs = parseDurationMs(text);
  if (sinceMs === undefined || sinceMs < MIN_REPORT_WINDOW_MS || sinceMs > MAX_REPORT_WINDOW_MS) {
    return {
      ok: false,
      message: `since must be a duration of at least 1d and at most 730d, such as 30d, got ${JSON.stringify(text)}`,
    };
  }
  return { ok: true, sinceMs };
}
