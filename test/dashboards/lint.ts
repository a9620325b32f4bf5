/**
 * The dashboard conventions as a linter over dashboard JSON (the rules of grafana/dashboard-linter
 * and the monitoring mixins that apply here): it returns every problem as a sentence, so a test can
 * require none for the generated dashboards and check that each rule catches its violation.
 */
import { windowDurationsMs } from "../../common/slo/windows.js";
import { formatDurationMs } from "../../common/config/duration.js";
import { EXTERNAL_METRICS, METRICS, RECORDING_RULES } from "../../common/conventions.js";
import { dataPanels, expressions, type DashboardJson } from "./dashboard-json.js";

const DATASOURCE_UID = "${datasource}";

/** Series names a dashboard may read: the catalog (histograms with their suffixes), the recording rules, Prometheus' own. */
const KNOWN_SERIES = new Set<string>([
  ...Object.values(METRICS).flatMap((m) =>
    m.type === "histogram" ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
  ),
  ...windowDurationsMs().map((ms) => `${RECORDING_RULES.sloGoodRatio}${formatDurationMs(ms)}`),
  RECORDING_RULES.sloBudgetRemaining,
  ...Object.values(EXTERNAL_METRICS),
  "ALERTS",
]);

/** Labels of each catalog series (`le` on buckets). */
const LABELS_OF = new Map<string, readonly string[]>(
  Object.values(METRICS).flatMap((m) =>
    m.type === "histogram"
      ? ([
          [`${m.name}_bucket`, [...m.labels, "le"]],
          [`${m.name}_sum`, m.labels],
          [`${m.name}_count`, m.labels],
        ] as const)
      : ([[m.name, m.labels]] as const),
  ),
);

const GRAFANA_VARIABLES = new Set(["__rate_interval", "__range"]);

function lintExpression(expr: string, defined: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  for (const [, fn, range] of expr.matchAll(/\b(rate|irate|increase|[a-z_]+_over_time)\([^()]*\[([^\]]+)\]\)/g)) {
    const allowed = fn === "increase" ? ["$__rate_interval", "$__range"] : ["$__rate_interval"];
    if (!allowed.includes(range as string))
      problems.push(`${fn} over [${range}] instead of ${allowed.join(" or ")}: ${expr}`);
  }
  const calls = [...expr.matchAll(/\b(rate|irate|increase|[a-z_]+_over_time)\(/g)].length;
  const ranges = [...expr.matchAll(/\[[^\]]+\]/g)].length;
  if (ranges !== calls) problems.push(`a range outside a plain rate/increase call (subquery or nested): ${expr}`);
  const names = [...expr.matchAll(/\b((?:inferwatch_|slo:)[a-z0-9_:]+|ALERTS)\b/g)].map((m) => m[1] as string);
  if (names.length === 0) problems.push(`reads no inferwatch series: ${expr}`);
  for (const name of names) if (!KNOWN_SERIES.has(name)) problems.push(`unknown series ${name}: ${expr}`);
  for (const [, name, matchers] of expr.matchAll(/\b(inferwatch_[a-z0-9_]+)\{([^}]*)\}/g)) {
    const labels = LABELS_OF.get(name as string) ?? [];
    for (const [, label] of (matchers as string).matchAll(/([a-z_]+)\s*(?:=~|!~|!=|=)/g)) {
      if (!labels.includes(label as string)) problems.push(`${name} has no label ${label}: ${expr}`);
    }
  }
  for (const [, variable] of expr.matchAll(/\$\{?([a-z_]+)/g)) {
    if (!GRAFANA_VARIABLES.has(variable as string) && !defined.has(variable as string))
      problems.push(`undefined variable $${variable}: ${expr}`);
  }
  return problems;
}

/** Every convention the dashboard breaks, as sentences; empty when it follows them all. */
export function lintDashboard(d: DashboardJson): string[] {
  const problems: string[] = [];
  if (!/^[a-z0-9-]{8,40}$/.test(d.uid)) problems.push(`uid ${JSON.stringify(d.uid)} is not 8–40 lower-case characters`);
  if (!d.tags.includes("inferwatch")) problems.push("no inferwatch tag (the dashboards link each other by it)");
  if (!(d.links ?? []).some((l) => l.type === "dashboards" && (l.tags ?? []).includes("inferwatch")))
    problems.push("no link to the other inferwatch dashboards");
  const [first, ...rest] = d.templating.list;
  if (first?.type !== "datasource" || first.name !== "datasource" || first.query !== "prometheus")
    problems.push("the first variable is not a Prometheus `datasource` variable");
  const defined = new Set(d.templating.list.map((v) => v.name));
  for (const variable of rest) {
    if (variable.datasource?.uid !== DATASOURCE_UID)
      problems.push(`variable ${variable.name} does not read through $datasource`);
    if (typeof variable.query === "string")
      problems.push(...lintExpression(variable.query, defined).filter((p) => !p.startsWith("reads no")));
  }
  const ids = d.panels.map((p) => p.id);
  if (new Set(ids).size !== ids.length) problems.push("panel ids are not unique");
  for (const panel of dataPanels(d)) {
    const at = `panel ${JSON.stringify(panel.title)}`;
    if ((panel.description ?? "").trim().length < 10) problems.push(`${at} has no description`);
    if ((panel.fieldConfig?.defaults?.unit ?? "") === "") problems.push(`${at} has no unit`);
    if (panel.datasource?.uid !== DATASOURCE_UID) problems.push(`${at} does not use $datasource`);
    if ((panel.targets ?? []).length === 0) problems.push(`${at} has no query`);
    for (const target of panel.targets ?? [])
      if (target.datasource?.uid !== DATASOURCE_UID)
        problems.push(`${at} query ${target.refId} does not use $datasource`);
    const refIds = (panel.targets ?? []).map((t) => t.refId);
    if (new Set(refIds).size !== refIds.length) problems.push(`${at} repeats a refId`);
  }
  for (const annotation of d.annotations?.list ?? [])
    if (annotation.datasource?.uid !== DATASOURCE_UID)
      problems.push(`annotation ${annotation.name} does not use $datasource`);
  for (const expr of expressions(d)) problems.push(...lintExpression(expr, defined));
  return problems;
}
