import type { SloStatus } from "../analyzer/slo/evaluate.js";
import type { BurnMeasure } from "../analyzer/slo/burn.js";
import { formatDurationMs } from "../common/config/duration.js";

function burnText(measure: BurnMeasure | undefined): string {
  if (!measure || measure.state === "no-data") return "-";
  return measure.burnRate >= 100 ? measure.burnRate.toFixed(0) : measure.burnRate.toFixed(2);
}

function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio >= 0.999 && ratio < 1 ? 2 : 1)}%`;
}

/** Burn of the SLO over a window length, from whichever pair measured it. */
function burnOver(slo: SloStatus, windowMs: number): BurnMeasure | undefined {
  for (const pair of slo.burn.windows) {
    if (pair.longMs === windowMs) return pair.long;
    if (pair.shortMs === windowMs) return pair.short;
  }
  return undefined;
}

/** A plain-text table of SLO states, one row per SLO, for `inferwatch slo status`. */
export function formatSloTable(slos: readonly SloStatus[], evaluatedAtMs: number): string {
  const windows = [...new Set(slos.flatMap((s) => s.burn.windows.flatMap((w) => [w.shortMs, w.longMs])))].sort(
    (a, b) => a - b,
  );
  const header = [
    "SLO",
    "OBJECTIVE",
    "MODELS",
    ...windows.map((w) => `BURN ${formatDurationMs(w)}`),
    "BUDGET LEFT",
    "STATE",
    "SLOW REQUESTS",
  ];
  const rows = slos.map((slo) => [
    slo.id,
    `${percent(slo.objective)}${slo.thresholdSeconds === null ? "" : ` < ${slo.thresholdSeconds}s`}`,
    slo.models.length === 0 ? "-" : slo.models.join(","),
    ...windows.map((w) => burnText(burnOver(slo, w))),
    slo.budget.state === "no-data" ? "no data" : percent(slo.budget.remaining),
    slo.burn.state === "firing" ? `FIRING ${slo.burn.severity} (${slo.burn.firingWindowId})` : slo.burn.state,
    slo.dominantPhase?.state === "diagnosed" ? `${slo.dominantPhase.bound}: ${slo.dominantPhase.lever}` : "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [`SLO status at ${new Date(evaluatedAtMs).toISOString()}`, line(header), ...rows.map(line)].join("\n") + "\n";
}
