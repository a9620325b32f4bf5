/**
 * Reads generated dashboards as plain JSON (what Grafana reads): panels, their queries, the
 * variables and annotation queries, and the template-variable substitution Grafana would do.
 */

/** A panel as the JSON has it (only the fields the tests read). */
export interface PanelJson {
  readonly id?: number;
  readonly type: string;
  readonly title: string;
  readonly description?: string;
  readonly datasource?: { readonly type?: string; readonly uid?: string };
  readonly fieldConfig?: { readonly defaults?: { readonly unit?: string } };
  readonly targets?: readonly TargetJson[];
}

/** A Prometheus query of a panel. */
export interface TargetJson {
  readonly refId?: string;
  readonly expr: string;
  readonly instant?: boolean;
  readonly range?: boolean;
  readonly exemplar?: boolean;
  readonly datasource?: { readonly type?: string; readonly uid?: string };
}

/** A template variable. */
export interface VariableJson {
  readonly type: string;
  readonly name: string;
  readonly query?: unknown;
  readonly datasource?: { readonly type?: string; readonly uid?: string };
  readonly allValue?: string;
}

/** A dashboard as the JSON has it. */
export interface DashboardJson {
  readonly uid: string;
  readonly title: string;
  readonly tags: readonly string[];
  readonly panels: readonly PanelJson[];
  readonly templating: { readonly list: readonly VariableJson[] };
  readonly annotations?: {
    readonly list?: readonly {
      readonly name: string;
      readonly target?: { readonly expr?: string };
      readonly datasource?: { readonly uid?: string };
    }[];
  };
  readonly links?: readonly { readonly type: string; readonly tags?: readonly string[] }[];
}

/** Panels that show data (rows excluded). */
export function dataPanels(dashboard: DashboardJson): PanelJson[] {
  return dashboard.panels.filter((panel) => panel.type !== "row");
}

/** Every PromQL expression of the dashboard: panel queries and annotation queries. */
export function expressions(dashboard: DashboardJson): string[] {
  const panelExprs = dataPanels(dashboard).flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
  const annotationExprs = (dashboard.annotations?.list ?? []).flatMap((a) =>
    a.target?.expr === undefined ? [] : [a.target.expr],
  );
  return [...panelExprs, ...annotationExprs];
}

/** Grafana's built-in variables the dashboards use, and what the tests put in their place. */
export interface Substitution {
  readonly rateInterval: string;
  readonly range: string;
  /** Value of every label variable (`.+` is what All means here). */
  readonly variables: Readonly<Record<string, string>>;
}

/** The expression with Grafana's variables replaced, as Grafana would send it to Prometheus. */
export function substitute(expr: string, substitution: Substitution): string {
  return expr
    .replaceAll("$__rate_interval", substitution.rateInterval)
    .replaceAll("$__range", substitution.range)
    .replace(/\$\{?([a-z_]+)\}?/g, (whole, name: string) => {
      const value = substitution.variables[name];
      if (value === undefined) throw new Error(`no value for the variable ${whole} in ${expr}`);
      return value;
    });
}

/** `label_values(<series>, <label>)` of a query variable, or undefined for other queries. */
export function labelValuesQuery(
  variable: VariableJson,
): { readonly series: string; readonly label: string } | undefined {
  const query = typeof variable.query === "string" ? variable.query : undefined;
  const match = query === undefined ? null : /^label_values\((.+), *([a-z_]+)\)$/.exec(query);
  return match ? { series: match[1] as string, label: match[2] as string } : undefined;
}
