/**
 * The generated dashboards follow the conventions operators rely on (grafana/dashboard-linter and
 * the monitoring mixins' rules): a `datasource` variable every panel and query uses, a unit and a
 * description on every panel, `$__rate_interval` in every rate, stable unique uids, links between
 * the dashboards, and only metric names the catalog defines. The committed JSON is what the
 * generators produce.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { configSchema } from "../../common/config/schema.js";
import { projectPath } from "../../common/paths.js";
import { generateDashboards } from "../../dashboards/generate.js";
import { dashboardOptionsOf } from "../../dashboards/options.js";
import { leMatcher } from "../../common/promql.js";
import { poolNodeMatchers } from "../../dashboards/promql.js";
import { dataPanels, type DashboardJson } from "./dashboard-json.js";
import { lintDashboard } from "./lint.js";

const run = promisify(execFile);
const defaults = dashboardOptionsOf(configSchema.parse({}));
const files = generateDashboards(defaults);
const dashboards = files.map((f) => JSON.parse(f.content) as DashboardJson);
const each = dashboards.map((d) => [d.title, d] as const);

describe("generated dashboards", () => {
  it("are the five dashboards with stable uids and unique titles", () => {
    expect(dashboards.map((d) => d.uid)).toEqual([
      "inferwatch-fleet-overview",
      "inferwatch-gpu-node",
      "inferwatch-llm-latency",
      "inferwatch-slos",
      "inferwatch-capacity",
    ]);
    for (const d of dashboards) expect(d.uid).toMatch(/^[a-z0-9-]{8,40}$/);
    expect(new Set(dashboards.map((d) => d.title)).size).toBe(dashboards.length);
    expect(files.map((f) => f.file)).toEqual(dashboards.map((d) => `${d.uid}.json`));
  });

  it.each(each)("%s follows the dashboard conventions", (_title, d) => {
    expect(dataPanels(d).length).toBeGreaterThan(5);
    expect(lintDashboard(d)).toEqual([]);
  });

  it("draw the utilization objective as a line on the utilization panels", () => {
    const overview = dashboards[0] as DashboardJson;
    const panel = dataPanels(overview).find((p) => p.title === "Pool utilization against the target") as unknown as {
      fieldConfig: {
        defaults: { custom: { thresholdsStyle: { mode: string } }; thresholds: { steps: { value: number | null }[] } };
      };
    };
    expect(panel.fieldConfig.defaults.custom.thresholdsStyle.mode).toBe("dashed");
    expect(panel.fieldConfig.defaults.thresholds.steps.map((s) => s.value)).toEqual([null, 0.6]);
  });

  it("ask for exemplars on the latency quantiles", () => {
    const llm = dashboards.find((d) => d.uid === "inferwatch-llm-latency") as DashboardJson;
    const e2e = dataPanels(llm).find((p) => p.title === "End-to-end latency");
    expect(e2e?.targets?.map((t) => t.exemplar)).toEqual([true, true, true]);
  });

  it("are committed as generated (run `inferwatch dashboards` after changing a generator)", async () => {
    for (const { file, content } of files)
      expect(await readFile(projectPath("dashboards", "generated", file), "utf8"), file).toBe(content);
  });
});

describe("the dashboard linter", () => {
  const fleet = (): DashboardJson => JSON.parse(files[0]?.content ?? "{}") as DashboardJson;
  type Mutable = { -readonly [K in keyof DashboardJson]: unknown } & { panels: Record<string, unknown>[] };
  const firstPanel = (d: Mutable): Record<string, unknown> =>
    d.panels.find((p) => p["type"] !== "row") as Record<string, unknown>;
  const firstTarget = (d: Mutable): Record<string, unknown> =>
    (firstPanel(d)["targets"] as Record<string, unknown>[])[0] as Record<string, unknown>;
  it.each([
    [
      "a panel without a unit",
      (d: Mutable) =>
        void ((firstPanel(d)["fieldConfig"] as { defaults: Record<string, unknown> }).defaults["unit"] = undefined),
      /has no unit/,
    ],
    ["a panel without a description", (d: Mutable) => void (firstPanel(d)["description"] = ""), /has no description/],
    [
      "a panel on a fixed data source",
      (d: Mutable) => void (firstPanel(d)["datasource"] = { type: "prometheus", uid: "prom-1" }),
      /does not use \$datasource/,
    ],
    [
      "a rate over a fixed window",
      (d: Mutable) => void (firstTarget(d)["expr"] = "sum(rate(inferwatch_llm_requests_total[5m]))"),
      /rate over \[5m\]/,
    ],
    [
      "a subquery",
      (d: Mutable) => void (firstTarget(d)["expr"] = "max_over_time(inferwatch_gpu_up[1h:1m])"),
      /max_over_time over|outside a plain/,
    ],
    [
      "a misspelt metric",
      (d: Mutable) => void (firstTarget(d)["expr"] = "inferwatch_gpu_utilisation_ratio"),
      /unknown series inferwatch_gpu_utilisation_ratio/,
    ],
    [
      "a label the metric lacks",
      (d: Mutable) => void (firstTarget(d)["expr"] = 'inferwatch_gpu_energy_joules_total{model="x"}'),
      /has no label model/,
    ],
    [
      "an undefined variable",
      (d: Mutable) => void (firstTarget(d)["expr"] = 'inferwatch_gpu_up{node=~"$host"}'),
      /undefined variable \$host/,
    ],
    ["a uid that is too short", (d: Mutable) => void (d.uid = "x"), /uid "x"/],
    ["no links", (d: Mutable) => void (d.links = []), /no link/],
  ])("reports %s", (_name, mutate, problem) => {
    const d = fleet() as unknown as Mutable;
    mutate(d);
    const problems = lintDashboard(d as unknown as DashboardJson);
    expect(
      problems.some((p) => problem.test(p)),
      problems.join("\n"),
    ).toBe(true);
  });
});

describe("dashboard PromQL pieces", () => {
  it.each([
    [1.2, 'le="1.2"'],
    [2, 'le=~"2(\\\\.0)?"'],
  ])("the bucket boundary %s matches before and after Prometheus 3's le normalisation", (seconds, matcher) => {
    expect(leMatcher(seconds)).toBe(matcher);
  });

  it("turns analyzer pools (searched JavaScript patterns, first match wins) into anchored RE2 node matchers", () => {
    expect(
      poolNodeMatchers([
        { name: "latency", nodes: "^gpu-[12]$" },
        { name: "batch", nodes: "gpu" },
      ]),
    ).toEqual([
      { pool: "latency", matchers: 'node=~".*(?:^gpu-[12]$).*"' },
      { pool: "batch", matchers: 'node!~".*(?:^gpu-[12]$).*", node=~".*(?:gpu).*"' },
      { pool: "default", matchers: 'node!~".*(?:^gpu-[12]$).*", node!~".*(?:gpu).*"' },
    ]);
    expect(poolNodeMatchers([])).toEqual([{ pool: "default", matchers: "" }]);
  });

  it("takes pools, the utilization target and the SLO thresholds from the configuration", () => {
    const options = dashboardOptionsOf(
      configSchema.parse({
        analyzer: { pools: [{ name: "a", nodes: "x" }] },
        slo: { gpuUtilization: { minRatio: 0.7 } },
      }),
    );
    expect(options).toMatchObject({
      pools: [{ name: "a", nodes: "x" }],
      utilizationTarget: 0.7,
      latencyThresholdsSeconds: [1.2, 2, 4],
      pageBurnFactors: [14.4, 6],
    });
  });
});

describe("inferwatch dashboards", () => {
  it("writes the files, and --check fails once one differs", async () => {
    const dir = await mkdtemp(join(tmpdir(), "inferwatch-dashboards-"));
    try {
      const cli = projectPath("dist/cli/main.js");
      const env = { PATH: process.env["PATH"] ?? "" };
      const written = await run(process.execPath, [cli, "dashboards", "--out-dir", dir], { env });
      expect(written.stdout.trim().split("\n")).toHaveLength(5);
      await run(process.execPath, [cli, "dashboards", "--out-dir", dir, "--check"], { env });
      await writeFile(join(dir, "inferwatch-slos.json"), "{}\n");
      const stale = await run(process.execPath, [cli, "dashboards", "--out-dir", dir, "--check"], { env }).then(
        () => undefined,
        (err: { code?: number; stdout?: string }) => err,
      );
      expect(stale?.code).toBe(1);
      expect(stale?.stdout).toContain("stale: ");
      expect(stale?.stdout).toContain("inferwatch-slos.json");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
