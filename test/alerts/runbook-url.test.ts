import { describe, expect, it } from "vitest";
import { DEFAULT_RULES_OPTIONS } from "../../alerts/rule-defaults.js";
import { runbookBaseUrlProblem, runbookUrl } from "../../alerts/rule-model.js";

describe("runbook links", () => {
  it.each([
    ["the default: docs/runbooks.md where the project is hosted", DEFAULT_RULES_OPTIONS.runbookBaseUrl, undefined],
    ["an internal Git server", "https://git.example.com/platform/inferwatch/-/blob/main/docs/runbooks.md", undefined],
    ["plain http inside a cluster", "http://docs.monitoring.svc/inferwatch/runbooks.html", undefined],
    [
      "a relative path (Alertmanager and Grafana have nothing to resolve it against)",
      "docs/runbooks.md",
      'the runbook base URL must be absolute (https://…/docs/runbooks.md), got "docs/runbooks.md"',
    ],
    [
      "a file URL",
      "file:///srv/runbooks.md",
      'the runbook base URL must be http or https, got "file:///srv/runbooks.md"',
    ],
    [
      "a URL with an anchor already",
      "https://example.com/runbooks.md#top",
      'the runbook base URL must not carry an anchor (each alert adds its own), got "https://example.com/runbooks.md#top"',
    ],
  ])("%s", (_name, base, problem) => {
    expect(runbookBaseUrlProblem(base)).toBe(problem);
  });

  it("link each alert to its section by GitHub's heading anchor", () => {
    expect(
      runbookUrl(
        { timeScale: 1, agentJob: "x", runbookBaseUrl: "https://example.com/docs/runbooks.md" },
        "InferwatchGpuXidCritical",
      ),
    ).toBe("https://example.com/docs/runbooks.md#inferwatchgpuxidcritical");
  });
});
