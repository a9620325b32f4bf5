#!/usr/bin/env node
import { Command, Option } from "commander";
import { loadConfig } from "../common/config/load.js";
import { CONFIG_FLAG, envName, OPTIONS, type CommandName } from "../common/config/options.js";
import type { Config } from "../common/config/schema.js";
import { packageVersion } from "../common/paths.js";
// Each command's modules are imported when that command runs: the agent on a GPU node then never
// loads the analyzer, the simulator or their dependencies (several MiB of resident memory).

/** Adds the table's flags for one subcommand. */
function withOptions(command: Command, name: CommandName): Command {
  command.addOption(new Option(`--${CONFIG_FLAG} <file>`, "YAML configuration file").env(envName(CONFIG_FLAG)));
  for (const option of OPTIONS.filter((o) => o.commands.includes(name))) {
    command.addOption(new Option(`--${option.flag} <${option.valueName}>`, `${option.description} [${envName(option.flag)}]`));
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

withOptions(program.command("agent").description("Run the per-node agent (GPU telemetry, host metrics, pod attribution)"), "agent")
  .action(async (_options, command: Command) => {
    const config = configOf(command);
    process.exitCode = config ? await (await import("./run-agent.js")).runAgent(config) : 2;
  });

withOptions(program.command("up").description("Run everything on this machine: agent (real GPUs, else a simulated fleet) and analyzer"), "up")
  .action(async (_options, command: Command) => {
    const config = configOf(command);
    process.exitCode = config ? await (await import("./run-up.js")).runUp(config) : 2;
  });

withOptions(program.command("analyzer").description("Run the analyzer: SLO burn, utilization and fragmentation over Prometheus or the agents"), "analyzer")
  .action(async (_options, command: Command) => {
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

program.command("recommend").description("Plan consolidation and idle eviction for a fleet snapshot file (nothing is applied)")
  .requiredOption("--snapshot <file>", "fleet snapshot (JSON; schema: analyzer/fleet/fleet-snapshot.schema.json)")
  .addOption(new Option("--format <format>", "json or text").choices(["json", "text"]).default("text"))
  .addOption(new Option(`--${CONFIG_FLAG} <file>`, "YAML configuration file (analyzer.recommend)").env(envName(CONFIG_FLAG)))
  .action(async (options: { snapshot: string; format: "json" | "text" }, command: Command) => {
    const config = configOf(command);
    process.exitCode = config ? await (await import("./run-recommend.js")).runRecommend(config, options.snapshot, options.format) : 2;
  });

await program.parseAsync(process.argv);
