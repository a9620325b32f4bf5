// @ts-check
/** The inference runtimes' own gauges per model. */
import { emptyNote, fillPanel, table } from "./dom.js";
import { number, percent } from "./format.js";

/** @param {import("./api.js").RuntimeResponse} response */
export function renderRuntime(response) {
  const models = response.models;
  if (models === null) {
    fillPanel("runtime", "empty", [emptyNote("Waiting for the first evaluation.")]);
    return;
  }
  if (models.length === 0) {
    fillPanel("runtime", "empty", [
      emptyNote(
        "No runtime gauges: no agent scrapes an inference runtime's /metrics (vLLM, TGI, Triton). Point the agents at them with --runtime-targets or the pod annotation.",
      ),
    ]);
    return;
  }
  const rows = models.map((m) => [
    m.model,
    m.runtimes.join(", ") || "–",
    { text: String(m.replicas), value: m.replicas },
    {
      text: percent(m.kvCacheUsageMax),
      value: m.kvCacheUsageMax,
      cls: m.kvCacheUsageMax !== null && m.kvCacheUsageMax >= 0.9 ? "below" : "",
    },
    { text: percent(m.kvCacheUsageMean), value: m.kvCacheUsageMean },
    { text: number(m.queueDepth), value: m.queueDepth },
    { text: number(m.batchSize), value: m.batchSize },
    { text: percent(m.prefixCacheHitRatio), value: m.prefixCacheHitRatio },
    { text: number(m.preemptions), value: m.preemptions },
  ]);
  fillPanel("runtime", "drawn", [
    table(
      [
        "model",
        "runtime",
        "replicas",
        "KV cache (highest)",
        "KV cache (mean)",
        "waiting",
        "running",
        "prefix-cache hits (15 min)",
        "preemptions (1 h)",
      ],
      rows,
      { id: "runtime-table" },
    ),
  ]);
}
