import type { CapacityReport } from "./report-model.js";
import { formatNumber, NO_RUNTIME_GAUGES, RUNTIME_CACHE_CAPTION, reportTables, type ReportTable } from "./tables.js";
import { GIB } from "../../common/units.js";

/** A Markdown cell: pipes and line breaks escaped. */
function cell(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("|", "\\|").replaceAll("\n", " ");
}

/** A GitHub-flavoured Markdown table; an empty table says so. */
export function markdownTable(table: ReportTable): string {
  if (table.rows.length === 0) return "_none_\n";
  const lines = [
    `| ${table.headers.map(cell).join(" | ")} |`,
    `| ${table.headers.map(() => "---").join(" | ")} |`,
    ...table.rows.map((row) => `| ${row.map(cell).join(" | ")} |`),
  ];
  return `${lines.join("\n")}\n`;
}

/** The report as Markdown: the same sections and tables as the HTML, without charts. */
export function renderMarkdown(report: CapacityReport): string {
  const t = reportTables(report);
  const section = (title: string, ...body: string[]) => `## ${title}\n\n${body.join("\n")}`;
  return [
    `# Capacity-planning report\n`,
    `Window: ${report.window.from} – ${report.window.to} (${report.window.days} days, ${report.window.stepSeconds / 60}-minute steps). Source: ${report.source}. Generated ${report.generatedAt}.\n`,
    `**${report.plan.summary}**\n`,
    section(t.demand.title, markdownTable(t.demand)),
    section(t.supply.title, markdownTable(t.supply)),
    section(t.slo.title, markdownTable(t.slo)),
    section(
      t.runtimeCache.title,
      report.runtimeCache.length === 0 ? `${NO_RUNTIME_GAUGES}\n` : `${RUNTIME_CACHE_CAPTION}\n`,
      ...(report.runtimeCache.length === 0 ? [] : [markdownTable(t.runtimeCache)]),
    ),
    section(
      "Fragmentation and stranded memory",
      `${report.fragmentation.length} snapshots from ${report.fragmentation[0]?.at ?? "–"} to ${report.fragmentation[report.fragmentation.length - 1]?.at ?? "–"}; latest per pool:\n`,
      markdownTable({
        id: "fragmentation",
        title: "",
        headers: ["pool", "fragmentation", "stranded memory", "free memory", "partially used GPUs"],
        rows: (report.fragmentation[report.fragmentation.length - 1]?.pools ?? []).map((p) => [
          p.pool,
          `${(p.fragmentationRatio * 100).toFixed(1)} %`,
          `${(p.strandedBytes / GIB).toFixed(1)} GiB`,
          `${(p.freeBytes / GIB).toFixed(1)} GiB`,
          String(p.partiallyUsedGpus),
        ]),
      }),
    ),
    section(
      "Recommendations",
      `${report.recommendations.gpusReclaimable} GPU(s) reclaimable now with ${report.recommendations.moves} move(s)${report.recommendations.checkedValid ? " (plan checked against every constraint)" : " (the plan failed its check: not shown)"}.\n`,
      markdownTable(t.recommendations),
      markdownTable(t.idle),
    ),
    section(
      "Forecast",
      `Method: ${report.forecast.method}\n`,
      markdownTable(t.headroom),
      markdownTable({
        id: "demand-forecast",
        title: "",
        headers: [
          "model class",
          "last daily peak tokens/s",
          "trend / day",
          `forecast peak in ${report.forecast.horizonDays} days (95 % interval)`,
          "method",
        ],
        rows: report.forecast.demand.map((d) => {
          const last = d.forecast.points[d.forecast.points.length - 1];
          return [
            d.modelClass,
            (d.forecast.history[d.forecast.history.length - 1]?.value ?? 0).toFixed(1),
            formatNumber(d.forecast.trendPerDay, 2),
            last ? `${last.value.toFixed(1)} (${last.lower.toFixed(1)} – ${last.upper.toFixed(1)})` : "–",
            d.forecast.method.kind,
          ];
        }),
      }),
    ),
    section(t.plan.title, markdownTable(t.plan), `${report.plan.summary}\n`),
    ...(report.notes.length > 0 ? [section("Notes", ...report.notes.map((n) => `- ${n}`), "")] : []),
  ].join("\n");
}
