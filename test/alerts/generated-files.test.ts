/**
 * The committed files under alerts/generated/ are what `inferwatch rules` generates now (a stale
 * file fails here: regenerate with `node dist/cli/main.js rules`), pass `promtool check rules`
 * with every lint fatal, hold to the mixin conventions (mixtool's lint rules), link every alert to
 * its runbook section, and the PrometheusRule validates against the prometheus-operator schema.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { generateRuleFiles, ruleGroups, RULE_FILES } from "../../alerts/generate.js";
import { isAlertingRule, type AlertingRule } from "../../alerts/rule-model.js";
import { ALERTS, ALERT_LABELS } from "../../common/conventions.js";
import { DEFAULT_RULES_OPTIONS } from "../../alerts/rule-defaults.js";
import { anchorsOf } from "../docs/markdown-links.js";
import { projectPath } from "../../common/paths.js";
import { TEST_RULES_OPTIONS } from "./promtool.js";

const execFileAsync = promisify(execFile);
const GENERATED = projectPath("alerts", "generated");
const { groups } = ruleGroups(TEST_RULES_OPTIONS);
const alerts: AlertingRule[] = groups.flatMap((group) => group.rules).filter(isAlertingRule);

describe("alerts/generated", () => {
  it.each(Object.values(RULE_FILES))(
    "%s is what inferwatch rules generates from the default configuration",
    async (name) => {
      const committed = await readFile(join(GENERATED, name), "utf8");
      expect(committed, `alerts/generated/${name} is stale: run node dist/cli/main.js rules`).toBe(
        generateRuleFiles(TEST_RULES_OPTIONS).files[name],
      );
    },
  );

  it("inferwatch rules writes the same files, and --check passes on them and fails on a stale one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "inferwatch-rules-"));
    const cli = (...args: string[]) =>
      execFileAsync(process.execPath, [projectPath("dist/cli/main.js"), "rules", "--out-dir", dir, ...args], {
        env: { PATH: process.env["PATH"] ?? "" },
      });
    try {
      await cli();
      for (const name of Object.values(RULE_FILES))
        expect(await readFile(join(dir, name), "utf8")).toBe(await readFile(join(GENERATED, name), "utf8"));
      await expect(cli("--check")).resolves.toBeDefined();
      await expect(cli("--check", "--agent-job", "other")).rejects.toMatchObject({
        code: 1,
        stdout: expect.stringContaining("stale:"),
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("inferwatch rules reads the slo section of --config, and refuses what it cannot generate with a clear message", async () => {
    const dir = await mkdtemp(join(tmpdir(), "inferwatch-rules-"));
    const cli = (...args: string[]) =>
      execFileAsync(
        process.execPath,
        [projectPath("dist/cli/main.js"), "rules", "--out-dir", join(dir, "out"), ...args],
        { env: { PATH: process.env["PATH"] ?? "" } },
      );
    try {
      await writeFile(
        join(dir, "custom.yaml"),
        "slo:\n  classes:\n    - name: tiny\n      match: [{ model: tiny }]\n      latency: { threshold: 500ms, objective: 99% }\n",
      );
      await cli("--config", join(dir, "custom.yaml"));
      const rules = await readFile(join(dir, "out", RULE_FILES.rules), "utf8");
      expect(rules).toContain("name: inferwatch-slo-tiny-latency");
      expect(rules).toContain('le="0.5"');
      expect(rules).not.toContain("inferwatch-slo-7b-latency");

      await writeFile(
        join(dir, "lookahead.yaml"),
        'slo:\n  classes:\n    - name: odd\n      match: [{ model: "llama(?=-3)" }]\n      latency: { threshold: 1s }\n',
      );
      await expect(cli("--config", join(dir, "lookahead.yaml"))).rejects.toMatchObject({
        code: 2,
        stderr: expect.stringContaining("look-around"),
      });
      await expect(cli("--time-scale", "0")).rejects.toMatchObject({
        code: 2,
        stderr: expect.stringContaining("--time-scale"),
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("passes promtool check rules with every lint fatal", async () => {
    const { stdout } = await execFileAsync("promtool", [
      "check",
      "rules",
      "--lint=all",
      "--lint-fatal",
      join(GENERATED, RULE_FILES.rules),
    ]);
    expect(stdout).toMatch(new RegExp(`SUCCESS: ${groups.reduce((n, g) => n + g.rules.length, 0)} rules found`));
  });

  it("holds to the mixin conventions: CamelCase names of 40 characters at most, groups of 20 rules, a severity, a static summary, a templated description", () => {
    for (const group of groups) {
      expect(group.name.length, group.name).toBeLessThanOrEqual(40);
      expect(group.rules.length, group.name).toBeLessThanOrEqual(20);
    }
    for (const alert of alerts) {
      expect(alert.alert).toMatch(/^([A-Z]+[a-z0-9]+)+$/);
      expect(alert.alert.length).toBeLessThanOrEqual(40);
      expect(["critical", "warning", "info"]).toContain(alert.labels[ALERT_LABELS.severity]);
      expect(alert.annotations["summary"]).toMatch(/^[A-Z][^{}]+\.$/);
      expect(alert.annotations["description"]).toMatch(/\{\{.+\}\}/);
    }
  });

  it("generates every alert of the catalog, each linked by an absolute URL to a runbook section that exists and says what it means, how to confirm it and what to do", async () => {
    const runbooks = await readFile(projectPath("docs", "runbooks.md"), "utf8");
    const anchors = anchorsOf(runbooks);
    const sections = new Map(
      [...runbooks.matchAll(/^## (\S+)\n([\s\S]*?)(?=^## |(?![\s\S]))/gm)].map((m) => [m[1] as string, m[2] as string]),
    );
    expect(new Set(alerts.map((a) => a.alert))).toEqual(new Set(Object.values(ALERTS)));
    expect([...sections.keys()].sort()).toEqual(Object.values(ALERTS).sort());
    for (const alert of alerts) {
      const url = new URL(alert.annotations["runbook_url"] ?? "");
      expect(`${url.origin}${url.pathname}`).toBe(DEFAULT_RULES_OPTIONS.runbookBaseUrl);
      expect(url.pathname.endsWith("/docs/runbooks.md")).toBe(true);
      expect(anchors.has(url.hash.slice(1)), `${alert.alert}: docs/runbooks.md has no heading for ${url.hash}`).toBe(
        true,
      );
      const section = sections.get(alert.alert) ?? "";
      for (const part of ["**Meaning.**", "**Confirm.**", "**Act.**"])
        expect(section, `${alert.alert} runbook lacks ${part}`).toContain(part);
    }
  });

  it("labels every burn alert with its SLO, model class, severity and window pair", () => {
    const burns = alerts.filter((a) => a.alert === ALERTS.sloBurn);
    expect(burns.length).toBe(6 * 4);
    for (const burn of burns) {
      for (const label of [
        ALERT_LABELS.slo,
        ALERT_LABELS.modelClass,
        ALERT_LABELS.severity,
        ALERT_LABELS.window,
        ALERT_LABELS.longWindow,
        ALERT_LABELS.shortWindow,
      ]) {
        expect(burn.labels[label], `${label} on ${JSON.stringify(burn.labels)}`).toBeTruthy();
      }
    }
  });

  it("ships the same groups as a PrometheusRule that validates against the prometheus-operator schema", async () => {
    const resource = parse(await readFile(join(GENERATED, RULE_FILES.prometheusRule), "utf8")) as {
      spec: { groups: unknown };
    };
    const plain = parse(await readFile(join(GENERATED, RULE_FILES.rules), "utf8")) as { groups: unknown };
    expect(resource.spec.groups).toEqual(plain.groups);
    expect(() => new PrometheusRule(resource as never).validate()).not.toThrow();
  });
});
