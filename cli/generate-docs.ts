import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fleetSnapshotJsonSchema } from "../analyzer/fleet/snapshot.js";
import { DEFAULT_SCENARIO } from "./simulate/scenario.js";
import { fleetSnapshotOf } from "./simulate/history.js";
import { pathToFileURL } from "node:url";
import { METRICS } from "../common/conventions.js";
import { formatDurationMs } from "../common/config/duration.js";
import { envName, OPTIONS } from "../common/config/options.js";
import { configSchema } from "../common/config/schema.js";
import { projectPath } from "../common/paths.js";

/** Settings whose defaults depend on the machine; the table names the rule instead of this machine's value. */
const DYNAMIC_DEFAULTS: Readonly<Record<string, string>> = { "agent.nodeName": "$NODE_NAME, else the host name" };
const DURATION_KEYS = /(interval|timeout|backoff)$/i;

function valueAt(tree: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], tree);
}

function formatDefault(path: string, value: unknown): string {
  if (path in DYNAMIC_DEFAULTS) return DYNAMIC_DEFAULTS[path] as string;
  if (typeof value === "number" && DURATION_KEYS.test(path)) return formatDurationMs(value);
  if (Array.isArray(value)) return value.join(",");
  if (typeof value === "object" && value !== null && "port" in value && "host" in value)
    return `${String(value.host)}:${String(value.port)}`;
  return value === "" ? "(empty)" : String(value);
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|");
}

/** The metric reference, one row per catalog entry. */
export function metricTable(): string {
  const rows = Object.values(METRICS).map(
    (m) => `| \`${m.name}\` | ${m.type} | ${m.labels.map((l) => `\`${l}\``).join(", ")} | ${cell(m.help)} |`,
  );
  return ["| metric | type | labels | meaning |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

/** The configuration reference, one row per option, with defaults read from the schema. */
export function configTable(): string {
  const defaults = configSchema.parse({});
  const rows = OPTIONS.map(
    (o) =>
      `| \`--${o.flag}\` | \`${envName(o.flag)}\` | \`${o.path}\` | \`${cell(formatDefault(o.path, valueAt(defaults, o.path)))}\` | ${cell(o.description)} |`,
  );
  return ["| flag | environment | config file | default | meaning |", "| --- | --- | --- | --- | --- |", ...rows].join(
    "\n",
  );
}

const SECTIONS = { metrics: metricTable, configuration: configTable } as const;

/** The generated reference pages, by path relative to the project root, each holding one generated block. */
export const REFERENCE_PAGES: Readonly<Record<string, keyof typeof SECTIONS>> = {
  "docs/reference/metrics.md": "metrics",
  "docs/reference/configuration.md": "configuration",
};

/** Replaces the `<!-- generated:NAME -->` … `<!-- /generated:NAME -->` block of a reference page with fresh content. */
export function regenerateReferencePage(page: string, file: string): string {
  const name = REFERENCE_PAGES[file];
  if (name === undefined) throw new Error(`${file} is not a generated reference page`);
  const start = `<!-- generated:${name} -->`;
  const end = `<!-- /generated:${name} -->`;
  const from = page.indexOf(start);
  const to = page.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${file} lacks the ${start} … ${end} block`);
  return `${page.slice(0, from + start.length)}\n${SECTIONS[name]()}\n${page.slice(to)}`;
}

/** The instant of the shipped example snapshot, fixed so the file is reproducible. */
export const EXAMPLE_SNAPSHOT_AT_MS = Date.UTC(2026, 10, 2, 14, 0, 0);

/** Generated files other than the reference pages, by path relative to the project root. */
export function generatedFiles(): Record<string, string> {
  return {
    "analyzer/fleet/fleet-snapshot.schema.json": `${JSON.stringify(fleetSnapshotJsonSchema(), null, 2)}\n`,
    "analyzer/fleet/examples/simulated-fleet.json": `${JSON.stringify(fleetSnapshotOf(DEFAULT_SCENARIO, EXAMPLE_SNAPSHOT_AT_MS), null, 2)}\n`,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  for (const file of Object.keys(REFERENCE_PAGES)) {
    const path = projectPath(file);
    writeFileSync(path, regenerateReferencePage(readFileSync(path, "utf8"), file));
    process.stdout.write(`regenerated ${file}\n`);
  }
  for (const [file, content] of Object.entries(generatedFiles())) {
    mkdirSync(dirname(projectPath(file)), { recursive: true });
    writeFileSync(projectPath(file), content);
    process.stdout.write(`regenerated ${file}\n`);
  }
}
