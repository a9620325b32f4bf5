/**
 * The documentation stays inside the repository: every relative link of the README and docs/
 * resolves to a file here (and to a heading, where it names one), and nothing in the source, docs,
 * manifests or scripts points at notes outside the repository.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { projectPath, projectRoot } from "../../common/paths.js";
import { anchorsOf, brokenReason, headingSlug, isExternal, linksOf } from "./markdown-links.js";

/** Files below `dir` (relative to the root) whose names end with one of `extensions`. */
function filesUnder(dir: string, extensions: readonly string[]): string[] {
  const entries = readdirSync(projectPath(dir), { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && extensions.some((ext) => entry.name.endsWith(ext)))
    .map((entry) => relative(projectRoot(), join(entry.parentPath, entry.name)))
    .filter((file) => !file.split("/").includes("node_modules"))
    .sort();
}

const PAGES = ["README.md", ...filesUnder("docs", [".md"])];

describe("links in the README and docs/", () => {
  it("finds the pages and their links (the checks below are not vacuous)", () => {
    expect(PAGES).toContain("docs/architecture.md");
    const relativeLinks = PAGES.flatMap((page) =>
      linksOf(readFileSync(projectPath(page), "utf8")).filter((link) => !isExternal(link.target)),
    );
    expect(relativeLinks.length).toBeGreaterThan(10);
    expect(relativeLinks.some((link) => link.target.includes("#"))).toBe(true);
  });

  it.each(PAGES)("every relative link of %s resolves inside the repository, anchors included", (page) => {
    const file = projectPath(page);
    const broken = linksOf(readFileSync(file, "utf8"))
      .filter((link) => !isExternal(link.target))
      .flatMap((link) => {
        const reason = brokenReason(projectRoot(), file, link.target);
        return reason === undefined ? [] : [`${page}:${link.line} ${link.target}: ${reason}`];
      });
    expect(broken).toEqual([]);
  });
});

describe("the link checker", () => {
  const root = mkdtempSync(join(tmpdir(), "inferwatch-links-"));
  mkdirSync(join(root, "docs"));
  writeFileSync(
    join(root, "docs", "page.md"),
    '# A page\n\n## Burn rate: 14.4× (page)\n\n## `inferwatch up`\n\n## Twice\n\n## Twice\n\n<a id="custom"></a>\n',
  );
  writeFileSync(join(root, "README.md"), "x");
  const file = join(root, "README.md");

  it.each([
    ["docs/page.md", undefined],
    ["docs/page.md#a-page", undefined],
    ["docs/page.md#burn-rate-144-page", undefined],
    ["docs/page.md#inferwatch-up", undefined],
    ["docs/page.md#twice-1", undefined],
    ["docs/page.md#custom", undefined],
    ["docs/", undefined],
    ["/docs/page.md", undefined],
    ["docs/missing.md", "docs/missing.md does not exist"],
    ["docs/page.md#nowhere", "docs/page.md has no heading for #nowhere"],
    ["docs/page.md#twice-2", "docs/page.md has no heading for #twice-2"],
    ["../outside/x.md", "points outside the repository"],
    ["README.md#x", "README.md has no heading for #x"],
  ])("judges %s as %s", (target, reason) => {
    expect(brokenReason(root, file, target)).toBe(reason);
  });

  it("reads inline links, images, reference definitions and HTML, never code", () => {
    const page = [
      'See [the agent](docs/agent.md) and ![console](docs/images/console.png "the console").',
      "`[not a link](nowhere.md)`",
      "```",
      "[in a fence](nowhere.md)",
      "```",
      "[ref]: docs/reference/metrics.md",
      '<img src="docs/images/x.png"> and <a href="https://example.com">x</a>',
    ].join("\n");
    expect(linksOf(page)).toEqual([
      { target: "docs/agent.md", line: 1 },
      { target: "docs/images/console.png", line: 1 },
      { target: "docs/reference/metrics.md", line: 6 },
      { target: "docs/images/x.png", line: 7 },
      { target: "https://example.com", line: 7 },
    ]);
    expect(isExternal("https://example.com")).toBe(true);
    expect(isExternal("docs/agent.md")).toBe(false);
  });

  it("makes GitHub's heading anchors", () => {
    expect(headingSlug("InferwatchSloErrorBudgetBurn")).toBe("inferwatchsloerrorbudgetburn");
    expect(headingSlug("The analyzer and SLOs")).toBe("the-analyzer-and-slos");
    expect(headingSlug("Alerts — what fires")).toBe("alerts--what-fires");
    expect([...anchorsOf("# A\n```\n# not a heading\n```\n# A\n")]).toEqual(["a", "a-1"]);
  });
});

describe("nothing points outside the repository", () => {
  // Product code, docs, manifests, scripts and tests (the openb benchmark reads its trace from
  // test/bench/data/alibaba-openb/).
  const FILES = [
    ...["agent", "analyzer", "common", "cli", "alerts", "dashboards", "docs", "deploy", "scripts", "test"].flatMap(
      (dir) => filesUnder(dir, [".ts", ".md", ".yaml", ".yml", ".json", ".sh", ".c", ".h", ".html", ".css", ".js"]),
    ),
    "README.md",
    "package.json",
    "tsconfig.json",
    "vitest.config.ts",
  ].filter((file) => file !== "test/docs/links.test.ts");

  it("checks the whole tree", () => {
    expect(FILES.length).toBeGreaterThan(300);
    expect(FILES).toContain("agent/nvml/nvml-abi.ts");
  });

  it("names no shared/ notes and no /work paths in any file", () => {
    const offending = FILES.filter((file) => /shared\/|\/work\//.test(readFileSync(projectPath(file), "utf8")));
    expect(offending).toEqual([]);
  });
});
