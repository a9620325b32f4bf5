/**
 * Panel and query builders shared by every inferwatch dashboard, on top of
 * `@grafana/grafana-foundation-sdk`. Each helper takes the few things a panel must have — title,
 * description, unit, queries — so no panel can be built without them, and points every panel and
 * query at the `datasource` template variable (file provisioning does not resolve `__inputs`:
 * grafana/grafana#10786).
 */
import type * as cog from "@grafana/grafana-foundation-sdk/cog";
import {
  BigValueGraphMode,
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  StackingConfigBuilder,
  StackingMode,
  VizLegendOptionsBuilder,
} from "@grafana/grafana-foundation-sdk/common";
import { ThresholdsConfigBuilder, ThresholdsMode, type Threshold } from "@grafana/grafana-foundation-sdk/dashboard";
import * as heatmap from "@grafana/grafana-foundation-sdk/heatmap";
import { DataqueryBuilder, PromQueryFormat } from "@grafana/grafana-foundation-sdk/prometheus";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import * as table from "@grafana/grafana-foundation-sdk/table";
import * as timeseries from "@grafana/grafana-foundation-sdk/timeseries";

/** The data source every panel, query and variable uses: the dashboard's `datasource` variable. */
export const DATASOURCE = { type: "prometheus", uid: "${datasource}" } as const;

/** One PromQL query of a panel. */
export interface QuerySpec {
  readonly expr: string;
  /** Grafana legend template, e.g. `{{model}} p95`. */
  readonly legend?: string;
  /** An instant query (stats, tables); range otherwise. */
  readonly instant?: boolean;
  /** Ask Prometheus for exemplars (trace ids on latency histograms). */
  readonly exemplar?: boolean;
  readonly format?: "table" | "heatmap";
}

/** What every panel must say: the lint test requires a description and a unit on each. */
export interface PanelSpec {
  readonly title: string;
  readonly description: string;
  /** A Grafana unit id (`percentunit`, `s`, `bytes`, `watt`, `joule`, `suffix:tok/s`, …). */
  readonly unit: string;
  readonly queries: readonly QuerySpec[];
  /** Grid columns (1..24); default 12. */
  readonly width?: number;
  /** Grid rows of 30 px; default 8. */
  readonly height?: number;
  readonly min?: number;
  readonly max?: number;
}

/** A line drawn at `value` (e.g. the 60% utilization target); below it `below`, at or above it `above`. */
export interface ThresholdLine {
  readonly value: number;
  readonly below: string;
  readonly above: string;
}

function query(spec: QuerySpec): DataqueryBuilder {
  const builder = new DataqueryBuilder()
    .datasource(DATASOURCE)
    .expr(spec.expr)
    .legendFormat(spec.legend ?? "__auto");
  if (spec.instant === true) builder.instant();
  else builder.range();
  if (spec.exemplar === true) builder.exemplar(true);
  if (spec.format === "table") builder.format(PromQueryFormat.Table);
  if (spec.format === "heatmap") builder.format(PromQueryFormat.Heatmap);
  return builder;
}

function thresholds(line: ThresholdLine | undefined, steps?: readonly Threshold[]): ThresholdsConfigBuilder {
  const list: Threshold[] = steps
    ? [...steps]
    : line
      ? [
          { value: null, color: line.below },
          { value: line.value, color: line.above },
        ]
      : [{ value: null, color: "green" }];
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(list);
}

/** The methods every SDK panel builder has that these helpers set. */
interface CommonPanelBuilder {
  title(title: string): this;
  description(description: string): this;
  datasource(datasource: { type?: string; uid?: string }): this;
  unit(unit: string): this;
  span(w: number): this;
  height(h: number): this;
  min(min: number): this;
  max(max: number): this;
  withTarget(target: cog.Builder<cog.Dataquery>): this;
}

function common<B extends CommonPanelBuilder>(builder: B, spec: PanelSpec): B {
  builder
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .span(spec.width ?? 12)
    .height(spec.height ?? 8);
  if (spec.min !== undefined) builder.min(spec.min);
  if (spec.max !== undefined) builder.max(spec.max);
  for (const q of spec.queries) builder.withTarget(query(q));
  return builder;
}

/**
 * A time series panel with a legend; `threshold` draws a dashed line (e.g. the utilization target),
 * `steps` several (e.g. the page burn factors).
 */
export function timeseriesPanel(
  spec: PanelSpec & {
    readonly threshold?: ThresholdLine;
    readonly steps?: readonly Threshold[];
    readonly stacked?: boolean;
  },
): timeseries.PanelBuilder {
  const builder = common(new timeseries.PanelBuilder(), spec)
    .legend(
      new VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(LegendDisplayMode.List)
        .placement(LegendPlacement.Bottom),
    )
    .fillOpacity(10)
    .lineWidth(1);
  if (spec.threshold || spec.steps) {
    builder
      .thresholds(thresholds(spec.threshold, spec.steps))
      .thresholdsStyle(new GraphThresholdsStyleConfigBuilder().mode(GraphThresholdsStyleMode.Dashed));
  }
  if (spec.stacked === true) builder.stacking(new StackingConfigBuilder().mode(StackingMode.Normal));
  return builder;
}

/** A single-value panel showing the last value; `steps` colour it. */
export function statPanel(spec: PanelSpec & { readonly steps?: readonly Threshold[] }): stat.PanelBuilder {
  return common(new stat.PanelBuilder(), { width: 4, height: 4, ...spec })
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(["lastNotNull"]).values(false))
    .graphMode(BigValueGraphMode.Area)
    .thresholds(thresholds(undefined, spec.steps));
}

/** A table of an instant query's series (labels as columns, the value in `Value`). */
export function tablePanel(spec: PanelSpec): table.PanelBuilder {
  return common(new table.PanelBuilder(), spec);
}

/** A heatmap of a histogram's buckets (`format: heatmap`, buckets as Prometheus reports them); the unit is the buckets' axis. */
export function heatmapPanel(spec: PanelSpec): heatmap.PanelBuilder {
  return common(new heatmap.PanelBuilder(), spec)
    .calculate(false)
    .yAxis(new heatmap.YAxisConfigBuilder().unit(spec.unit));
}
