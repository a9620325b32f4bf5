import { generateRuleFiles, type RulesOptions } from "../alerts/generate.js";
import { runbookBaseUrlProblem } from "../alerts/rule-model.js";
import type { Config } from "../common/config/schema.js";
import { errorMessage } from "../common/errors.js";
import { writeOrCheckGenerated } from "./generated-files.js";

/** The command's own flags (how to write the files, not settings of a running component). */
export interface RulesCommandOptions {
  readonly outDir: string;
  readonly timeScale: number;
  readonly runbookBaseUrl: string;
  readonly agentJob: string;
  readonly pagerUrl: string;
  readonly ticketUrl: string;
  /** Compare with the files in `outDir` instead of writing them; stale or missing files fail. */
  readonly check: boolean;
}

/**
 * `inferwatch rules`: writes the Prometheus rule file, the PrometheusRule resource and the
 * Alertmanager configuration for the configuration's `slo` section into `outDir`. Returns the exit
 * code: 0, 1 when a file cannot be written or (with `check`) is stale, 2 for bad flags.
 */
export async function runRules(
  config: Config,
  options: RulesCommandOptions,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  if (!(options.timeScale >= 1) || !Number.isFinite(options.timeScale)) {
    process.stderr.write(`inferwatch rules: --time-scale must be a number ≥ 1, got ${options.timeScale}\n`);
    return 2;
  }
  const runbookProblem = runbookBaseUrlProblem(options.runbookBaseUrl);
  if (runbookProblem !== undefined) {
    process.stderr.write(`inferwatch rules: --runbook-base-url: ${runbookProblem}\n`);
    return 2;
  }
  const rulesOptions: RulesOptions = {
    slo: config.slo,
    timeScale: options.timeScale,
    runbookBaseUrl: options.runbookBaseUrl,
    agentJob: options.agentJob,
    pagerUrl: options.pagerUrl,
    ticketUrl: options.ticketUrl,
  };
  let generated: ReturnType<typeof generateRuleFiles>;
  try {
    generated = generateRuleFiles(rulesOptions);
  } catch (err) {
    process.stderr.write(`inferwatch rules: ${errorMessage(err)}\n`);
    return 2;
  }
  for (const warning of generated.warnings) process.stderr.write(`inferwatch rules: warning: ${warning}\n`);
  const files = Object.entries(generated.files).map(([file, content]) => ({ file, content }));
  return writeOrCheckGenerated("rules", files, options.outDir, options.check, out);
}
