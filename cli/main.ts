#!/usr/bin/env node
// First: the agent's heap settings must precede every other module's allocations.
import "./agent-heap.js";
import { Command, Option } from "commander";
import { parseReportWindow } from "../analyzer/report/report-window.js";
import { loadConfig } from "../common/config/load.js";
import { CONFIG_FLAG, envName, OPTIONS, type CommandName } from "../common/config/options.js";
import type { Config } from "../common/config/schema.js";
import { packageVersion } from "../common/paths.js";
import { DEFAULT_RULES_OPTIONS as RULES_DEFAULTS } from "../alerts/rule-defaults.js";
// Each command's modules are imported when that command runs: the agent on a GPU node then never
// loads the analyzer, the simulator or their dependencies (several MiB of resident memory).

/** Adds the table's flags for one subcommand. */
function withOptions(command: Command, name: CommandName): Command {
  command.addOption(new Option(`--${CONFIG_FLAG} <file>`, "YAML configuration file").env(envName(CONFIG_FLAG)));
  for (const option of OPTIONS.filter((o) => name === "config dump" || o.commands.includes(name))) {
    command.addOption(
      new Option(`--${option.flag} <${option.valueName}>`, `${option.description} [${envName(option.flag)}]`),
    );
  }
  return command;
}

/** Collects the flags given on the command line, keyed by config path (environment is read by loadConfig). */
function flagsOf(command: Command): Record<string, string> {
  const flags: Record<string, string> = {};
  const values = command.opts<Record<string, unknown>>();
  const configFile = values[CONFIG_FLAG];
  if (typeof configFile === "string") flags[CONFIG_FLAG] = configFile;
  for (const option of OPTIONS) {
    const key = option.flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (command.getOptionValueSource(key) === "cli") flags[option.path] = String(values[key]);
  }
  return flags;
}

/** Loads and validates the configuration, printing every problem; undefined when invalid. */
function configOf(command: Command): Config | undefined {
  const result = loadConfig({ flags: flagsOf(command), env: process.env });
  if (result.ok) return result.config;
  process.stderr.write(`inferwatch: invalid configuration:\n${result.problems.map((p) => `  - ${p}`).join("\n")}\n`);
  return undefined;
}

const program = new Command("inferwatch")
  .description("Monitoring agent and SLO analytics for on-prem LLM inference fleets")
  .version(packageVersion());

withOptions(
  program.command("agent").description("Run the per-node agent (GPU telemetry, host metrics, pod attribution)"),
  "agent",
).action(async (_options, command: Command) => {
  const config = configOf(command);
  process.exitCode = config ? await (await import("./run-agent.js")).runAgent(config) : 2;
});

withOptions(
  program
    .command("up")
    .description("Run everything on this machine: agent (real GPUs, else a simulated fleet) and analyzer"),
  "up",
).action(async (_options, command: Command) => {
  const config = configOf(command);
  process.exitCode = config ? await (await import("./run-up.js")).runUp(config) : 2;
});

withOptions(
  program
    .command("analyzer")
    .description("Run the analyzer: SLO burn, utilization and fragmentation over Prometheus or the agents"),
  "analyzer",
).action(async (_options, command: Command) => {
  const config = configOf(command);
  process.exitCode = config ? await (await import("./run-analyzer.js")).runAnalyzer(config) : 2;
});

const slo = program.command("slo").description("Service-level objectives");
withOptions(slo.command("status").description("Print every SLO's burn rates, budget and diagnosis"), "slo status")
  .addOption(new Option("--format <format>", "table or json").choices(["table", "json"]).default("table"))
  .action(async (options: { format: "table" | "json" }, command: Command) => {
    const config = configOf(command);
    process.exitCode = config ? await (await import("./run-slo-status.js")).runSloStatus(config, options.format) : 2;
  });

program
  .command("recommend")
  .description("Plan consolidation and idle eviction for a fleet snapshot file (nothing is applied)")
  .requiredOption("--snapshot <file>", "fleet snapshot (JSON; schema: analyzer/fleet/fleet-snapshot.schema.json)")
  .addOption(new Option("--format <format>", "json or text").choices(["json", "text"]).default("text"))
  .addOption(
    new Option(`--${CONFIG_FLAG} <file>`, "YAML configuration file (analyzer.recommend)").env(envName(CONFIG_FLAG)),
  )
  .action(async (options: { snapshot: string; format: "json" | "text" }, command: Command) => {
    const config = configOf(command);
    process.exitCode = config
      ? await (await import("./run-recommend.js")).runRecommend(config, options.snapshot, options.format)
      : 2;
  });

withOptions(
  program
    .command("report")
    .description(
      "Capacity-planning report (HTML, Markdown or JSON); without --source, from the simulated fleet's month of history",
    ),
  "report",
)
  .addOption(new Option("--since <duration>", "length of the window, e.g. 30d (1d to 730d)").default("30d"))
  .addOption(
    new Option("--format <format>", "html (one self-contained file), md or json")
      .choices(["html", "md", "json"])
      .default("html"),
  )
  .option("--out <file>", "write the report to this file instead of standard output")
  .action(async (options: { since: string; format: "html" | "md" | "json"; out?: string }, command: Command) => {
    const config = configOf(command);
    const window = parseReportWindow(options.since);
    if (!window.ok) {
      process.stderr.write(`inferwatch report: --${window.message}\n`);
      process.exitCode = 2;
      return;
    }
    const { sinceMs } = window;
    process.exitCode = config
      ? await (
          await import("./run-report.js")
        ).runReport(config, {
          sinceMs,
          format: options.format,
          ...(options.out === undefined ? {} : { out: options.out }),
        })
      : 2;
  });

program
  .command("rules")
  .description(
    "Generate the Prometheus rules, PrometheusRule and Alertmanager configuration from the SLO configuration",
  )
  .addOption(
    new Option(`--${CONFIG_FLAG} <file>`, "YAML configuration file (its slo section)").env(envName(CONFIG_FLAG)),
  )
  .option("--out-dir <dir>", "where to write the files", RULES_DEFAULTS.outDir)
  .option("--time-scale <n>", "divide every window and duration by n (tests only)", String(RULES_DEFAULTS.timeScale))
  .option(
    "--runbook-base-url <url>",
    "absolute URL where docs/runbooks.md is browsable; each alert links to its section",
    RULES_DEFAULTS.runbookBaseUrl,
  )
  .option("--agent-job <job>", "Prometheus job scraping the agents", RULES_DEFAULTS.agentJob)
  .option("--pager-url <url>", "webhook of the pager receiver", RULES_DEFAULTS.pagerUrl)
  .option("--ticket-url <url>", "webhook of the ticket receiver", RULES_DEFAULTS.ticketUrl)
  .option("--check", "compare with the files in --out-dir instead of writing; exit 1 when stale", false)
  .action(
    async (
      options: {
        outDir: string;
        timeScale: string;
        runbookBaseUrl: string;
        agentJob: string;
        pagerUrl: string;
        ticketUrl: string;
        check: boolean;
      },
      command: Command,
    ) => {
      const config = configOf(command);
      process.exitCode = config
        ? await (await import("./run-rules.js")).runRules(config, { ...options, timeScale: Number(options.timeScale) })
        : 2;
    },
  );

program
  .command("dashboards")
  .description("Generate the Grafana dashboards (JSON) from the configuration's pools and SLOs")
  .addOption(
    new Option(`--${CONFIG_FLAG} <file>`, "YAML configuration file (analyzer.pools, slo)").env(envName(CONFIG_FLAG)),
  )
  .option("--out-dir <dir>", "where to write the files", "dashboards/generated")
  .option("--check", "compare with the files in --out-dir instead of writing; exit 1 when stale", false)
  .action(async (options: { outDir: string; check: boolean }, command: Command) => {
    const config = configOf(command);
    process.exitCode = config ? await (await import("./run-dashboards.js")).runDashboards(config, options) : 2;
  });

const configCommand = program.command("config").description("The configuration");
withOptions(
  configCommand
    .command("dump")
    .description(
      "Print the resolved configuration (file, INFERWATCH_* variables, flags, defaults) as JSON, secrets redacted",
    ),
  "config dump",
).action(async (_options, command: Command) => {
  const config = configOf(command);
  if (config)
    process.stdout.write(
      `${JSON.stringify((await import("../common/auth/redact-config.js")).redactConfig(config), null, 2)}\n`,
    );
  process.exitCode = config ? 0 : 2;
});

await program.parseAsync(process.argv);
