import { generateDashboards } from "../dashboards/generate.js";
import { dashboardOptionsOf } from "../dashboards/options.js";
import type { Config } from "../common/config/schema.js";
import { writeOrCheckGenerated } from "./generated-files.js";

/** The command's own flags (where to write the files, not settings of a running component). */
export interface DashboardsCommandOptions {
  readonly outDir: string;
  /** Compare with the files in `outDir` instead of writing them; stale or missing files fail. */
  readonly check: boolean;
}

/**
 * `inferwatch dashboards`: writes one Grafana dashboard JSON file per dashboard (named by its uid)
 * into `outDir`, built from the configuration's pools and SLOs. Returns the exit code: 0, 1 when a
 * file cannot be written or (with `check`) is stale.
 */
export async function runDashboards(
  config: Config,
  options: DashboardsCommandOptions,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  return writeOrCheckGenerated(
    "dashboards",
    generateDashboards(dashboardOptionsOf(config)),
    options.outDir,
    options.check,
    out,
  );
}
