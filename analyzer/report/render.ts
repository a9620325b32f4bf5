import type { CapacityReport } from "./report-model.js";
import { renderHtml } from "./render-html.js";
import { renderMarkdown } from "./render-markdown.js";

/** The formats the report is rendered in. */
export const REPORT_FORMATS = ["html", "md", "json"] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** The report in one format: a self-contained HTML page, Markdown, or the model as JSON (indented). */
export function renderReport(report: CapacityReport, format: ReportFormat): string {
  if (format === "html") return renderHtml(report);
  if (format === "md") return renderMarkdown(report);
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** The Content-Type of a rendered format. */
export function reportContentType(format: ReportFormat): string {
  return format === "html"
    ? "text/html; charset=utf-8"
    : format === "md"
      ? "text/markdown; charset=utf-8"
      : "application/json; charset=utf-8";
}
