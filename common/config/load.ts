import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type * as Yaml from "yaml";
import type { z } from "zod";
import { errorMessage } from "../errors.js";
import { CONFIG_FLAG, envName, OPTIONS, type OptionSpec } from "./options.js";
import { configSchema, type Config } from "./schema.js";
import { histogramThresholds } from "../slo/thresholds.js";

/**
 * The `yaml` package's parse, loaded on first use: most runs (the agent DaemonSet in particular) are
 * configured by flags and INFERWATCH_* variables alone, and a long-running agent need not keep the
 * YAML parser resident for a file it never reads. require() keeps loadConfig synchronous; yaml ships
 * a CommonJS build with the same API.
 */
function parseYaml(text: string): unknown {
  return (requireModule("yaml") as typeof Yaml).parse(text);
}

const requireModule = createRequire(import.meta.url);

/** Where settings come from; flags are keyed by config path. */
export interface ConfigSources {
  readonly flags: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Read a file; replaced in tests. */
  readonly readFile?: (path: string) => string;
}

export type ConfigResult =
  { readonly ok: true; readonly config: Config } | { readonly ok: false; readonly problems: readonly string[] };

type Tree = Record<string, unknown>;

function setPath(tree: Tree, path: string, value: unknown): void {
  const keys = path.split(".");
  let node = tree;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== "object" || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Tree;
  }
  node[keys.at(-1) as string] = value;
}

function optionValue(option: OptionSpec, raw: string): unknown {
  return option.isList
    ? raw
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item !== "")
    : raw;
}

function describeIssuePath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? "(top level)" : path.map(String).join(".");
}

/**
 * Builds the configuration from, in increasing precedence, the YAML file (`--config` or
 * INFERWATCH_CONFIG), INFERWATCH_* variables and flags, and validates it once with the schema.
 * Every problem is returned, each with its path and where the value came from.
 */
export function loadConfig(sources: ConfigSources): ConfigResult {
  const problems: string[] = [];
  const origins = new Map<string, string>();
  let tree: Tree = {};
  const file = sources.flags[CONFIG_FLAG] ?? sources.env[envName(CONFIG_FLAG)];
  if (file !== undefined && file !== "") {
    try {
      const parsed: unknown = parseYaml((sources.readFile ?? ((p) => readFileSync(p, "utf8")))(file));
      if (parsed !== null && parsed !== undefined) {
        if (typeof parsed !== "object" || Array.isArray(parsed))
          problems.push(`${file}: expected a mapping at the top level`);
        else tree = parsed as Tree;
      }
    } catch (err) {
      problems.push(`${file}: ${errorMessage(err)}`);
    }
  }
  const known = new Set([envName(CONFIG_FLAG), ...OPTIONS.map((option) => envName(option.flag))]);
  for (const name of Object.keys(sources.env)) {
    if (name.startsWith("INFERWATCH_") && !known.has(name)) problems.push(`${name}: not a known setting`);
  }
  for (const option of OPTIONS) {
    const fromEnv = sources.env[envName(option.flag)];
    if (fromEnv !== undefined) {
      setPath(tree, option.path, optionValue(option, fromEnv));
      origins.set(option.path, envName(option.flag));
    }
    const fromFlag = sources.flags[option.path];
    if (fromFlag !== undefined) {
      setPath(tree, option.path, optionValue(option, fromFlag));
      origins.set(option.path, `--${option.flag}`);
    }
  }
  const result = configSchema.safeParse(tree);
  if (!result.success) problems.push(...formatIssues(result.error.issues, origins, file));
  if (problems.length > 0 || !result.success) return { ok: false, problems };
  return { ok: true, config: withSloBuckets(result.data) };
}

function formatIssues(
  issues: readonly z.core.$ZodIssue[],
  origins: ReadonlyMap<string, string>,
  file: string | undefined,
): string[] {
  return issues.map((issue) => {
    const path = describeIssuePath(issue.path);
    const origin = origins.get(path) ?? (file ? file : undefined);
    const message = issue.code === "unrecognized_keys" ? `unknown setting(s) ${issue.keys.join(", ")}` : issue.message;
    return `${path}: ${message}${origin ? ` (from ${origin})` : ""}`;
  });
}

/** Every latency threshold of the SLO configuration becomes an exact bucket bound of the agent's histograms. */
function withSloBuckets(config: Config): Config {
  const thresholds = histogramThresholds(config.agent.spans.sloThresholds, config.slo);
  return { ...config, agent: { ...config.agent, spans: { ...config.agent.spans, sloThresholds: thresholds } } };
}
