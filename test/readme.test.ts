import { readFile } from "node:fs/promises";
import { expect, it } from "vitest";
import { regenerateReadme } from "../cli/generate-docs.js";
import { METRICS } from "../common/conventions.js";
import { envName, OPTIONS } from "../common/config/options.js";
import { projectPath } from "../common/paths.js";

it("has a metric and configuration reference that matches the code (npm run docs refreshes it)", async () => {
  const readme = await readFile(projectPath("README.md"), "utf8");
  expect(readme).toBe(regenerateReadme(readme));
  for (const metric of Object.values(METRICS)) expect(readme).toContain(`| \`${metric.name}\` |`);
  for (const option of OPTIONS) expect(readme).toContain(`\`${envName(option.flag)}\``);
});

it("names exactly the test command that CI runs", async () => {
  const ci = await readFile(projectPath(".ci", "run"), "utf8");
  const readme = await readFile(projectPath("README.md"), "utf8");
  expect(ci).toMatch(/^npm test$/m);
  expect(readme).toMatch(/^npm test\s+#/m);
});
