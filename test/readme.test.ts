import { readFile } from "node:fs/promises";
import { expect, it } from "vitest";
import { generatedFiles, REFERENCE_PAGES, regenerateReferencePage } from "../cli/generate-docs.js";
import { parseFleetSnapshot } from "../analyzer/fleet/snapshot.js";
import { METRICS } from "../common/conventions.js";
import { envName, OPTIONS } from "../common/config/options.js";
import { projectPath } from "../common/paths.js";

it("has a metric and configuration reference that matches the code (npm run docs refreshes it)", async () => {
  for (const file of Object.keys(REFERENCE_PAGES)) {
    const page = await readFile(projectPath(file), "utf8");
    expect(page).toBe(regenerateReferencePage(page, file));
  }
  const metrics = await readFile(projectPath("docs/reference/metrics.md"), "utf8");
  const configuration = await readFile(projectPath("docs/reference/configuration.md"), "utf8");
  for (const metric of Object.values(METRICS)) expect(metrics).toContain(`| \`${metric.name}\` |`);
  for (const option of OPTIONS) expect(configuration).toContain(`\`${envName(option.flag)}\``);
});

it("names exactly the test command that CI runs", async () => {
  const ci = await readFile(projectPath(".ci", "run"), "utf8");
  const readme = await readFile(projectPath("README.md"), "utf8");
  expect(ci).toMatch(/^npm test$/m);
  expect(readme).toMatch(/^npm test\s+#/m);
});

it("ships the fleet snapshot JSON Schema and an example snapshot that match the code (npm run docs refreshes them)", async () => {
  for (const [file, content] of Object.entries(generatedFiles())) {
    expect([file, await readFile(projectPath(file), "utf8")]).toEqual([file, content]);
  }
  const example = JSON.parse(
    await readFile(projectPath("analyzer/fleet/examples/simulated-fleet.json"), "utf8"),
  ) as unknown;
  const snapshot = parseFleetSnapshot(example, "example");
  expect(snapshot.nodes.flatMap((node) => node.gpus)).toHaveLength(20);
  const schema = JSON.parse(await readFile(projectPath("analyzer/fleet/fleet-snapshot.schema.json"), "utf8")) as {
    properties: Record<string, unknown>;
  };
  expect(Object.keys(schema.properties).sort()).toEqual([
    "nodes",
    "replicas",
    "runtime",
    "slo",
    "takenAtMs",
    "version",
  ]);
});
