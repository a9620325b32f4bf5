/**
 * promtool unit tests built from TypeScript tables: the test file
 * (https://prometheus.io/docs/prometheus/latest/configuration/unit_testing_rules/) is written to a
 * temporary directory beside the rule file under test and run with the real `promtool test rules`.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { stringify } from "yaml";
import {
  DEFAULT_RULES_OPTIONS,
  generateRuleFiles,
  ruleGroups,
  RULE_FILES,
  type RulesOptions,
} from "../../alerts/generate.js";
import { isAlertingRule, type AlertingRule } from "../../alerts/rule-model.js";
import { DEFAULT_SLO_CONFIG } from "../../common/slo/spec.js";

const execFileAsync = promisify(execFile);

export interface InputSeries {
  readonly series: string;
  readonly values: string;
}

export interface ExpectedAlert {
  readonly exp_labels: Readonly<Record<string, string>>;
  readonly exp_annotations: Readonly<Record<string, string>>;
}

export interface AlertTest {
  readonly eval_time: string;
  readonly alertname: string;
  readonly exp_alerts: readonly ExpectedAlert[];
}

export interface ExprTest {
  readonly expr: string;
  readonly eval_time: string;
  readonly exp_samples: readonly { readonly labels: string; readonly value: number }[];
}

export interface TestGroup {
  readonly name: string;
  readonly interval: string;
  readonly input_series: readonly InputSeries[];
  readonly alert_rule_test?: readonly AlertTest[];
  readonly promql_expr_test?: readonly ExprTest[];
}

/** The rule options every unit test uses: the defaults, the default SLO configuration, time scale 1. */
export const TEST_RULES_OPTIONS: RulesOptions = { ...DEFAULT_RULES_OPTIONS, slo: DEFAULT_SLO_CONFIG };

/** The generated alerting rule of that name whose own labels (an SLO's) agree with `labels`. */
export function alertingRule(
  name: string,
  labels: Readonly<Record<string, string>> = {},
  options: RulesOptions = TEST_RULES_OPTIONS,
): AlertingRule {
  const rule = ruleGroups(options)
    .groups.flatMap((group) => group.rules)
    .filter(isAlertingRule)
    .find(
      (r) =>
        r.alert === name &&
        Object.entries(r.labels).every(
          ([key, value]) => key === "severity" || labels[key] === undefined || labels[key] === value,
        ),
    );
  if (!rule) throw new Error(`no alert ${name} in the generated rules`);
  return rule;
}

/**
 * The annotations an alert of `name` should carry for these series labels: the rule's static
 * summary and runbook URL, and its description with `{{ $labels.x }}` filled in and every
 * `{{ $value … }}` replaced by `value`, the rendering the case expects (for example "99.38%").
 */
export function expectedAnnotations(
  name: string,
  labels: Readonly<Record<string, string>>,
  value: string,
): Record<string, string> {
  const rule = alertingRule(name, labels);
  const render = (template: string) =>
    template
      .replace(/\{\{ \$labels\.([a-z_]+) \}\}/g, (_, key: string) => labels[key] ?? "")
      .replace(/\{\{ \$value[^}]*\}\}/g, value);
  return Object.fromEntries(Object.entries(rule.annotations).map(([key, text]) => [key, render(text)]));
}

/** The expected firing alert: series labels plus the rule's labels, with rendered annotations. */
export function expectedAlert(
  name: string,
  seriesLabels: Readonly<Record<string, string>>,
  value: string,
): ExpectedAlert {
  const labels = { ...seriesLabels, ...alertingRule(name, seriesLabels).labels };
  return { exp_labels: labels, exp_annotations: expectedAnnotations(name, labels, value) };
}

/** A series selector in promtool's notation. */
export function seriesOf(metric: string, labels: Readonly<Record<string, string>>): string {
  return `${metric}{${Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(",")}}`;
}

/**
 * Writes the generated rules and the test file to a temporary directory and runs promtool; returns
 * its exit code and output. `onlyGroups` keeps the rule groups whose name matches (promtool
 * evaluates every rule at every step; the SLO suites need only their SLO's group).
 */
export async function runPromtoolTests(
  groups: readonly TestGroup[],
  onlyGroups?: RegExp,
  options: RulesOptions = TEST_RULES_OPTIONS,
): Promise<{ code: number; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), "inferwatch-promtool-"));
  try {
    const rules = onlyGroups
      ? stringify(
          { groups: ruleGroups(options).groups.filter((group) => onlyGroups.test(group.name)) },
          { lineWidth: 0, aliasDuplicateObjects: false },
        )
      : (generateRuleFiles(options).files[RULE_FILES.rules] as string);
    await writeFile(join(dir, RULE_FILES.rules), rules);
    const testFile = join(dir, "tests.yaml");
    await writeFile(
      testFile,
      stringify(
        { rule_files: [RULE_FILES.rules], evaluation_interval: "1m", tests: groups },
        { lineWidth: 0, aliasDuplicateObjects: false },
      ),
    );
    try {
      const { stdout, stderr } = await execFileAsync("promtool", ["test", "rules", testFile], {
        cwd: dir,
        maxBuffer: 64 * 1024 * 1024,
      });
      return { code: 0, output: stdout + stderr };
    } catch (err) {
      const failed = err as { code?: number; stdout?: string; stderr?: string; message?: string };
      return {
        code: typeof failed.code === "number" ? failed.code : -1,
        output: `${failed.message ?? ""}\n${failed.stdout ?? ""}${failed.stderr ?? ""}`,
      };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Minutes as promtool's eval_time. */
export function minutes(m: number): string {
  return `${m}m`;
}
