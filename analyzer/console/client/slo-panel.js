// @ts-check
/** The SLO table: objective, burn per window pair, budget left, time to exhaustion, state, slow phase and its lever. */
import { fillPanel, emptyNote, table } from "./dom.js";
import { burn, duration, percent } from "./format.js";

/** @typedef {import("./api.js").SloStatus} SloStatus */

/**
 * What an SLO promises, e.g. "95.0 % < 1.2 s" or "99.0 % available".
 * @param {SloStatus} slo
 */
export function objectiveText(slo) {
  return slo.thresholdSeconds === null
    ? `${percent(slo.objective)} ${slo.kind === "availability" ? "available" : slo.kind}`
    : `${percent(slo.objective)} < ${slo.thresholdSeconds} s`;
}

/**
 * The SLO's state: the firing pair with its severity, or ok / no data.
 * @param {SloStatus} slo
 */
export function stateText(slo) {
  if (slo.burn.state === "firing") return `${slo.burn.severity ?? "firing"} (${slo.burn.firingWindowId ?? "?"})`;
  return slo.burn.state === "no-data" ? "no data" : "ok";
}

/**
 * The dominant phase of slow requests and what to do about it.
 * @param {SloStatus} slo
 */
export function phaseText(slo) {
  const phase = slo.dominantPhase;
  if (phase === null) return "–";
  if (phase.state === "no-data") return phase.reason === "no-slow-requests" ? "no slow requests" : "no phase data";
  return `${phase.bound}: ${phase.lever}`;
}

/** @param {import("./api.js").SlosResponse} response */
export function renderSlos(response) {
  const slos = response.slos;
  if (slos.length === 0) {
    fillPanel("slos", "empty", [
      emptyNote(response.evaluatedAt === null ? "Waiting for the first evaluation." : "No SLO is configured."),
    ]);
    return;
  }
  const windows = slos[0]?.burn.windows.map((w) => w.windowId) ?? [];
  const rows = slos.map((slo) => [
    { text: slo.id, title: `models: ${slo.models.join(", ") || "none seen"}` },
    objectiveText(slo),
    ...windows.map((id) => {
      const pair = slo.burn.windows.find((w) => w.windowId === id);
      const rate = pair?.long.state === "measured" ? pair.long.burnRate : null;
      return {
        text: burn(rate),
        value: rate,
        cls: pair?.state === "firing" ? `firing ${pair.severity}` : pair?.state === "no-data" ? "nodata" : "ok",
        title: pair
          ? `fires at ${pair.factor}× on both windows; short window: ${burn(pair.short.state === "measured" ? pair.short.burnRate : null)}`
          : "",
      };
    }),
    slo.budget.state === "measured"
      ? {
          text: percent(slo.budget.remaining),
          value: slo.budget.remaining,
          cls: slo.budget.remaining < 0 ? "firing page" : "",
        }
      : { text: "no data", value: null },
    { text: duration(slo.timeToExhaustionMs), value: slo.timeToExhaustionMs },
    { text: stateText(slo), cls: slo.burn.state === "firing" ? `firing ${slo.burn.severity ?? ""}` : "" },
    phaseText(slo),
  ]);
  fillPanel("slos", "drawn", [
    table(
      [
        "SLO",
        "objective",
        ...windows.map((id) => `burn ${id}`),
        "budget left",
        "exhausted in",
        "state",
        "slow requests: phase and lever",
      ],
      rows,
      { id: "slo-table" },
    ),
  ]);
}
