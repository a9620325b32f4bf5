import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { reportCharts, type ReportChart } from "./charts.js";
import type { CapacityReport } from "./report-model.js";
import { NO_RUNTIME_GAUGES, RUNTIME_CACHE_CAPTION, reportTables, type ReportTable } from "./tables.js";

const requireModule = createRequire(import.meta.url);
let echartsSource: string | undefined;

/** The ECharts browser bundle (Apache-2.0), read once from the installed package: inlined so the page works offline. */
function echartsBundle(): string {
  echartsSource ??= readFileSync(requireModule.resolve("echarts/dist/echarts.min.js"), "utf8").replaceAll(
    "</script",
    "<\\/script",
  );
  return echartsSource;
}

/** Text safe inside HTML. */
export function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

/** JSON safe inside a <script> element (no `</script>`, no `<!--`). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll("<", "\\u003c")
    .replaceAll("\u2028", "\\u2028")
    .replaceAll("\u2029", "\\u2029");
}

function htmlTable(table: ReportTable): string {
  if (table.rows.length === 0) return `<p class="empty">None.</p>`;
  return `<table id="table-${table.id}"><thead><tr>${table.headers.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead><tbody>${table.rows.map((row) => `<tr>${row.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
}

function figure(chart: ReportChart): string {
  return `<figure><h3>${escapeHtml(chart.title)}</h3><div class="chart" id="chart-${chart.id}" data-chart="${chart.id}" style="height:${chart.heightPx}px"></div><figcaption>${escapeHtml(chart.caption)}</figcaption></figure>`;
}

const STYLE = `body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:24px;color:#1d2330}
h1{margin:0 0 4px}h2{margin-top:36px;border-bottom:1px solid #d8dde6;padding-bottom:4px}h3{margin:8px 0;font-size:15px}
.meta{color:#5a6375}.summary{background:#eef4ff;border-left:4px solid #3a6fd8;padding:10px 14px;font-weight:600}
.notes{background:#fff8e6;border-left:4px solid #d8a23a;padding:8px 14px}
table{border-collapse:collapse;width:100%;margin:8px 0;font-size:13px}th,td{border:1px solid #d8dde6;padding:4px 6px;text-align:left;vertical-align:top}th{background:#f4f6fa}
figure{margin:16px 0}figcaption{color:#5a6375;font-size:12.5px}.chart{width:100%}.empty{color:#5a6375}`;

/**
 * The report as one self-contained HTML page: the tables, and every chart drawn in the browser by
 * the inlined ECharts bundle from options embedded as JSON (built from the report model). No
 * external request of any kind, so the file works offline and can be mailed; about 1.2 MB, most of
 * it the chart library.
 */
export function renderHtml(report: CapacityReport): string {
  const charts = reportCharts(report);
  const t = reportTables(report);
  const bySection = (section: ReportChart["section"]) =>
    charts
      .filter((c) => c.section === section)
      .map(figure)
      .join("\n");
  const title = `Capacity-planning report — ${report.window.to.slice(0, 10)}`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body>
<h1>Capacity-planning report</h1>
<p class="meta">Window ${escapeHtml(report.window.from)} – ${escapeHtml(report.window.to)} (${report.window.days} days, ${report.window.stepSeconds / 60}-minute steps) · source: ${escapeHtml(report.source)} · generated ${escapeHtml(report.generatedAt)}</p>
<p class="summary" id="plan-summary">${escapeHtml(report.plan.summary)}</p>
${report.notes.length > 0 ? `<div class="notes"><ul>${report.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("")}</ul></div>` : ""}
<h2>Demand per model class</h2>${htmlTable(t.demand)}${bySection("demand")}
<h2>GPU supply and utilization per pool</h2>${htmlTable(t.supply)}${bySection("supply")}
<h2>SLO attainment and error budget</h2>${htmlTable(t.slo)}${bySection("slo")}
<h2>${escapeHtml(t.runtimeCache.title)}</h2>${report.runtimeCache.length === 0 ? `<p class="empty" id="runtime-cache-none">${escapeHtml(NO_RUNTIME_GAUGES)}</p>` : `<p>${escapeHtml(RUNTIME_CACHE_CAPTION)}</p>${htmlTable(t.runtimeCache)}`}
<h2>Fragmentation and stranded memory</h2>${bySection("fragmentation")}
<h2>Recommendations</h2><p>${report.recommendations.gpusReclaimable} GPU(s) reclaimable now with ${report.recommendations.moves} move(s). Nothing is applied automatically.</p>${htmlTable(t.recommendations)}${htmlTable(t.idle)}${bySection("recommendations")}
<h2>Forecast</h2><p>${escapeHtml(report.forecast.method)}</p>${htmlTable(t.headroom)}${bySection("forecast")}
<h2>${escapeHtml(t.plan.title)}</h2>${htmlTable(t.plan)}<p><strong>${escapeHtml(report.plan.summary)}</strong></p>
<script>${echartsBundle()}</script>
<script id="report-charts" type="application/json">${scriptJson(charts.map((c) => ({ id: c.id, option: c.option })))}</script>
<script>
(function () {
  var charts = JSON.parse(document.getElementById("report-charts").textContent);
  charts.forEach(function (chart) {
    var element = document.getElementById("chart-" + chart.id);
    var instance = echarts.init(element, null, { renderer: "canvas" });
    instance.setOption(chart.option);
    window.addEventListener("resize", function () { instance.resize(); });
  });
})();
</script>
</body></html>
`;
}
