/**
 * The generated Alertmanager configuration passes `amtool check-config`, and `amtool config routes
 * test` sends every generated alert to the receiver its severity names: critical → pager,
 * warning → ticket, info → nowhere. The inhibitions are checked live in alertmanager-inhibition.test.ts.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { inhibitRules, RECEIVERS } from "../../alerts/alertmanager-config.js";
import { ruleGroups, RULE_FILES } from "../../alerts/generate.js";
import { isAlertingRule } from "../../alerts/rule-model.js";
import { BURN_WINDOWS } from "../../common/slo/windows.js";
import { projectPath } from "../../common/paths.js";
import { TEST_RULES_OPTIONS } from "./promtool.js";

const execFileAsync = promisify(execFile);
const CONFIG = join(projectPath("alerts", "generated"), RULE_FILES.alertmanager);
const RECEIVER_OF = { critical: RECEIVERS.pager, warning: RECEIVERS.ticket, info: RECEIVERS.none } as const;

/** Every distinct label set of a generated alert (rule labels plus a node and GPU where its series have them). */
const ROUTED = ruleGroups(TEST_RULES_OPTIONS)
  .groups.flatMap((g) => g.rules)
  .filter(isAlertingRule)
  .map((rule): Record<string, string> => ({ alertname: rule.alert, ...rule.labels, node: "gpu-node-1" }))
  .filter((labels, index, all) => all.findIndex((other) => JSON.stringify(other) === JSON.stringify(labels)) === index);

async function routeOf(labels: Readonly<Record<string, string>>): Promise<string> {
  const { stdout } = await execFileAsync("amtool", [
    "config",
    "routes",
    "test",
    `--config.file=${CONFIG}`,
    ...Object.entries(labels).map(([k, v]) => `${k}=${v}`),
  ]);
  return stdout.trim();
}

describe("alerts/generated/alertmanager.yaml", () => {
  it("passes amtool check-config", async () => {
    const { stdout } = await execFileAsync("amtool", ["check-config", CONFIG]);
    expect(stdout).toContain("SUCCESS");
    expect(stdout).toContain(`${inhibitRules().length} inhibit rules`);
  });

  it.each(
    ROUTED.map(
      (labels) =>
        [
          `${labels["alertname"] ?? ""} ${labels["window"] ?? ""} ${labels["slo"] ?? ""} (${labels["severity"] ?? ""})`,
          labels,
        ] as const,
    ),
  )(
    "routes %s by its severity",
    async (_name, labels) => {
      expect(await routeOf(labels)).toBe(RECEIVER_OF[labels["severity"] as keyof typeof RECEIVER_OF]);
    },
    30_000,
  );

  it("verifies a page with amtool's own --verify.receivers, and refuses a wrong expectation", async () => {
    const page = ["alertname=InferwatchSloErrorBudgetBurn", "slo=7b-latency", "severity=critical", "window=page-1h-5m"];
    await expect(
      execFileAsync("amtool", [
        "config",
        "routes",
        "test",
        `--config.file=${CONFIG}`,
        `--verify.receivers=${RECEIVERS.pager}`,
        ...page,
      ]),
    ).resolves.toBeDefined();
    await expect(
      execFileAsync("amtool", [
        "config",
        "routes",
        "test",
        `--config.file=${CONFIG}`,
        `--verify.receivers=${RECEIVERS.ticket}`,
        ...page,
      ]),
    ).rejects.toMatchObject({ code: 1 });
  });

  it("inhibits each slower window pair by every faster pair of the same severity, on the same SLO", () => {
    const pairs = inhibitRules().filter((rule) => rule.source_matchers.some((m) => m.startsWith("window=")));
    const expected = BURN_WINDOWS.flatMap((faster, i) =>
      BURN_WINDOWS.slice(i + 1)
        .filter((w) => w.severity === faster.severity)
        .map((slower) => [faster.id, slower.id]),
    );
    expect(
      pairs.map((rule) => [
        rule.source_matchers.find((m) => m.startsWith("window="))?.slice(8, -1),
        rule.target_matchers.find((m) => m.startsWith("window="))?.slice(8, -1),
      ]),
    ).toEqual(expected);
    for (const rule of inhibitRules()) {
      for (const label of rule.equal) {
        // A label named in `equal` must be required on both sides: Alertmanager treats missing as equal.
        expect(rule.source_matchers).toContain(`${label}=~".+"`);
        expect(rule.target_matchers).toContain(`${label}=~".+"`);
      }
    }
  });
});
