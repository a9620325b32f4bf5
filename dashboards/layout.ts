/**
 * The frame every inferwatch dashboard shares: identity (stable uid and title), the `datasource`
 * variable and the label variables, links to the sibling dashboards, rows of panels, and a final
 * pass that numbers panels and queries so the JSON is deterministic.
 */
import {
  DashboardBuilder,
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
  VariableSort,
  type Dashboard,
} from "@grafana/grafana-foundation-sdk/dashboard";
import type * as cog from "@grafana/grafana-foundation-sdk/cog";
import type { Panel } from "@grafana/grafana-foundation-sdk/dashboard";
import { DATASOURCE } from "./panels.js";

/** The tag every inferwatch dashboard carries; the dashboards' links list the dashboards with it. */
export const DASHBOARD_TAG = "inferwatch";

/** A dashboard's identity. The uid is its stable URL (8–40 characters) and never changes. */
export interface DashboardMeta {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly tags: readonly string[];
}

/** A titled row of panels. */
export interface Row {
  readonly title: string;
  readonly panels: readonly cog.Builder<Panel>[];
}

/** A label variable: a multi-select over `label_values(<series>, <label>)` with All meaning `.+`. */
export function labelVariable(name: string, label: string, series: string, description: string): QueryVariableBuilder {
  return new QueryVariableBuilder(name)
    .label(label)
    .description(description)
    .datasource(DATASOURCE)
    .query(`label_values(${series}, ${name})`)
    .definition(`label_values(${series}, ${name})`)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue(".+")
    .current({ selected: true, text: "All", value: "$__all" });
}

/** Builds one dashboard: `datasource` variable first, then `variables`, rows of panels, links to the others. */
export function buildDashboard(
  meta: DashboardMeta,
  variables: readonly QueryVariableBuilder[],
  rows: readonly Row[],
): Dashboard {
  const builder = new DashboardBuilder(meta.title)
    .uid(meta.uid)
    .description(meta.description)
    .tags([DASHBOARD_TAG, ...meta.tags])
    .editable()
    .tooltip(DashboardCursorSync.Crosshair)
    .time({ from: "now-6h", to: "now" })
    .refresh("1m")
    .timezone("browser")
    .link(
      new DashboardLinkBuilder("inferwatch dashboards")
        .type(DashboardLinkType.Dashboards)
        .tags([DASHBOARD_TAG])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    )
    .withVariable(
      new DatasourceVariableBuilder("datasource")
        .label("Data source")
        .type("prometheus")
        .description(
          "The Prometheus (or Thanos, Mimir, VictoriaMetrics) that scrapes the inferwatch agents and analyzer.",
        ),
    );
  for (const variable of variables) builder.withVariable(variable);
  for (const row of rows) {
    builder.withRow(new RowBuilder(row.title));
    for (const panel of row.panels) builder.withPanel(panel);
  }
  return numbered(builder.build());
}

/** Gives panels ids 1, 2, … and queries refIds A, B, … in layout order. */
function numbered(dashboard: Dashboard): Dashboard {
  let id = 0;
  for (const panel of dashboard.panels ?? []) {
    panel.id = ++id;
    const targets = (panel as { targets?: { refId?: string }[] }).targets ?? [];
    targets.forEach((target, i) => (target.refId = String.fromCharCode(65 + i)));
  }
  return dashboard;
}
