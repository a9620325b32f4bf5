import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generateDashboards } from "../dashboards/generate.js";
import { dashboardOptionsOf } from "../dashboards/options.js";
import type { Config } from "../common/config/schema.js";
import { errorMessage } from "../common/errors.js";

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
export async function runDashboards(config: Config, options: DashboardsCommandOptions, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const files = generateDashboards(dashboardOptionsOf(config));
  let stale = 0;
  try {
    if (!options.check) await mkdir(options.outDir, { recursive: true });
    for (const { file, content } of files) {
      const path = join(options.outDir, file);
      if (options.check) {
        const current = await readFile(path, "utf8").catch(() => undefined);
        if (current !== content) {
          stale++;
          out.write(`stale: ${path}\n`);
        }
        continue;
      }
      await writeFile(path, content);
      out.write(`wrote ${path}\n`);
    }
  } catch (err) {
    process.stderr.write(`inferwatch dashboards: ${errorMessage(err)}\n`);
    return 1;
  }
  if (stale > 0) process.stderr.write(`inferwatch dashboards: ${stale} file(s) differ from a fresh generation; run inferwatch dashboards --out-dir ${options.outDir}\n`);
  return stale > 0 ? 1 : 0;
}
