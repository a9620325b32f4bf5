/**
 * Every inferwatch dashboard, built from the configuration, as the files `inferwatch dashboards`
 * writes into dashboards/generated/ (one JSON file per dashboard, named by its uid).
 */
import type { Dashboard } from "@grafana/grafana-foundation-sdk/dashboard";
import { capacity, CAPACITY } from "./capacity.js";
import { fleetOverview, FLEET_OVERVIEW } from "./fleet-overview.js";
import { gpuNode, GPU_NODE } from "./gpu-node.js";
import { llmLatency, LLM_LATENCY } from "./llm-latency.js";
import type { DashboardOptions } from "./options.js";
import { slos, SLOS } from "./slos.js";

/** One dashboard generator: its stable identity and how to build it. */
export interface DashboardGenerator {
  readonly uid: string;
  readonly title: string;
  readonly build: (options: DashboardOptions) => Dashboard;
}

/** The dashboards, in the order their links list them. */
export const DASHBOARD_GENERATORS: readonly DashboardGenerator[] = [
  { ...FLEET_OVERVIEW, build: fleetOverview },
  { ...GPU_NODE, build: () => gpuNode() },
  { ...LLM_LATENCY, build: () => llmLatency() },
  { ...SLOS, build: slos },
  { ...CAPACITY, build: capacity },
];

/** A generated file: its name inside dashboards/generated/ and its content. */
export interface GeneratedFile {
  readonly file: string;
  readonly content: string;
}

/** Every dashboard as pretty-printed JSON ending in a newline; deterministic for one set of options. */
export function generateDashboards(options: DashboardOptions): GeneratedFile[] {
  return DASHBOARD_GENERATORS.map((generator) => ({
    file: `${generator.uid}.json`,
    content: `${JSON.stringify(generator.build(options), null, 2)}\n`,
  }));
}
