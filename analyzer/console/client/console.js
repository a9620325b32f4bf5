// @ts-check
/**
 * The console's entry: fetch the API, draw every panel, say when the answers are from, and do it
 * again every evaluation interval. A panel that fails to draw says so and leaves the others alone.
 */
import { fetchConsoleData } from "./api.js";
import { fillPanel, emptyNote } from "./dom.js";
import { renderFragmentation } from "./fragmentation-panel.js";
import { renderIdle, renderPlan } from "./plan-panels.js";
import { renderRuntime } from "./runtime-panel.js";
import { renderSlos } from "./slo-panel.js";
import { renderHeatmap, renderUtilization } from "./utilization-panels.js";

const refreshMs =
  Number(document.querySelector('meta[name="inferwatch-refresh-ms"]')?.getAttribute("content") ?? "15000") || 15_000;

/**
 * Sets the status line.
 * @param {string} text
 * @param {boolean} isWarning
 */
function status(text, isWarning) {
  const element = document.getElementById("status");
  if (!element) return;
  element.textContent = text;
  element.classList.toggle("warning", isWarning);
}

/** @param {string} id @param {() => void} draw */
function drawPanel(id, draw) {
  try {
    draw();
  } catch (err) {
    fillPanel(id, "error", [
      emptyNote(`This panel could not be drawn: ${err instanceof Error ? err.message : String(err)}`),
    ]);
  }
}

async function refresh() {
  try {
    const data = await fetchConsoleData();
    drawPanel("slos", () => renderSlos(data.slos));
    drawPanel("utilization", () => renderUtilization(data.fleet, data.history));
    drawPanel("heatmap", () => renderHeatmap(data.history));
    drawPanel("fragmentation", () => renderFragmentation(data.fragmentation));
    drawPanel("plan", () => renderPlan(data.recommendations));
    drawPanel("idle", () => renderIdle(data.recommendations));
    drawPanel("runtime", () => renderRuntime(data.runtime));
    const at = data.slos.evaluatedAt;
    const stale = data.slos.stale ? ` · STALE: the last evaluation failed (${data.slos.error ?? "unknown error"})` : "";
    status(
      at === null
        ? "waiting for the first evaluation…"
        : `evaluated ${new Date(at).toLocaleTimeString()} · refreshes every ${Math.round(refreshMs / 1000)} s${stale}`,
      data.slos.stale,
    );
    document.body.dataset["refreshedAt"] = String(Date.now());
  } catch (err) {
    status(`cannot reach the analyzer: ${err instanceof Error ? err.message : String(err)} (retrying)`, true);
  } finally {
    setTimeout(() => void refresh(), refreshMs);
  }
}

void refresh();
