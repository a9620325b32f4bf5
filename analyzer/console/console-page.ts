/**
 * The console's HTML: a header with the evaluation's time and links, and one section per panel.
 * Each section names the JSON API it shows (`data-api`, linked in its header); the client script
 * (client/console.js) fetches those, draws the panel and marks it `data-state="drawn"` (or
 * `"empty"` with the reason). No inline script and no external resource: everything comes from
 * this listener, which the Content-Security-Policy of the route enforces.
 */

/** A panel: its element id, title, the API endpoints behind it and what it shows. */
export interface ConsolePanel {
  readonly id: string;
  readonly title: string;
  readonly apis: readonly string[];
  readonly caption: string;
}

/** The panels, in page order. */
export const CONSOLE_PANELS: readonly ConsolePanel[] = [
  {
    id: "slos",
    title: "SLOs",
    apis: ["/api/v1/slos"],
    caption:
      "Burn rate of each window pair (long window; the pair fires when both windows burn at least its factor), error budget left over the period, time to exhaustion at the 1 h burn rate, and the phase slow requests spend their time in.",
  },
  {
    id: "utilization",
    title: "Utilization per pool",
    apis: ["/api/v1/fleet", "/api/v1/utilization/history"],
    caption:
      "Mean GPU utilization per pool over the last six hours against the target line; the table gives the last hour and day and the share of the day's hours at target.",
  },
  {
    id: "fragmentation",
    title: "Fragmentation and stranded memory",
    apis: ["/api/v1/fragmentation"],
    caption:
      "Per pool: free GPU memory, the part no replica shape seen in the fleet can use (stranded), FGD's expected fragmentation and its share of free memory.",
  },
  {
    id: "heatmap",
    title: "GPU × time",
    apis: ["/api/v1/utilization/history"],
    caption:
      "Utilization of every GPU over the last six hours at 5-minute steps (nodes or pools when the fleet is too large to read GPU by GPU).",
  },
  {
    id: "plan",
    title: "Consolidation plan",
    apis: ["/api/v1/recommendations"],
    caption:
      "What the current plan frees, per pool with its lower bound on the GPUs any plan must keep and the gap to it, and the moves. Nothing is applied.",
  },
  {
    id: "idle",
    title: "Idle replicas",
    apis: ["/api/v1/recommendations"],
    caption:
      "Replicas past their tier's time to live without a request (eviction candidates) and models that could scale to zero.",
  },
  {
    id: "runtime",
    title: "Runtime gauges per model",
    apis: ["/api/v1/runtime"],
    caption:
      "From the runtimes' own /metrics as the agents scrape them: KV-cache usage (highest replica), requests waiting and running, prefix-cache hits over 15 minutes, preemptions over the last hour.",
  },
];

function escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

function section(panel: ConsolePanel): string {
  const links = panel.apis.map((api) => `<a class="api" href="${escape(api)}">${escape(api)}</a>`).join(" ");
  return `<section class="panel" id="panel-${panel.id}" data-panel="${panel.id}" data-api="${escape(panel.apis.join(" "))}" data-state="loading">
<header><h2>${escape(panel.title)}</h2><span class="links">JSON: ${links}</span></header>
<p class="caption">${escape(panel.caption)}</p>
<div class="body"><p class="empty">Loading…</p></div>
</section>`;
}

/** The page; `refreshMs` is how often the client fetches the API again (the analyzer's evaluation interval). */
export function consolePage(refreshMs: number): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="inferwatch-refresh-ms" content="${Math.round(refreshMs)}">
<title>inferwatch console</title>
<link rel="stylesheet" href="/console/console.css">
<link rel="icon" href="data:,">
</head>
<body>
<header class="top"><h1>inferwatch</h1>
<span id="status" class="status">waiting for the analyzer…</span>
<nav><a href="/report">capacity report</a> <a href="/api/v1/snapshot">fleet snapshot</a> <a href="/metrics">analyzer /metrics</a></nav></header>
<main>
${CONSOLE_PANELS.map(section).join("\n")}
</main>
<script src="/console/echarts.min.js"></script>
<script type="module" src="/console/console.js"></script>
</body></html>
`;
}
