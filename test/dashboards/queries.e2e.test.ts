/**
 * Every query of every generated dashboard, run through a real Prometheus the way Grafana would
 * send it (template variables substituted, `$__rate_interval` for a 1-minute scrape), against three
 * hours of the simulated fleet's history backfilled with promtool (the agent series as
 * `writeHistory` produces them, every other catalog metric synthesized with its catalog labels).
 * No query may fail to parse or evaluate, and every panel must show data with All selected.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { poolResolver } from "../../analyzer/fleet/assemble.js";
import { configSchema } from "../../common/config/schema.js";
import { DEFAULT_SCENARIO } from "../../cli/simulate/scenario.js";
import { generateDashboards } from "../../dashboards/generate.js";
import { fleetOverview } from "../../dashboards/fleet-overview.js";
import { dashboardOptionsOf } from "../../dashboards/options.js";
import { createBlocksFromOpenMetrics, startPrometheus, type PrometheusServer } from "../fixtures/prometheus-server.js";
import { dataPanels, labelValuesQuery, substitute, type DashboardJson, type Substitution } from "./dashboard-json.js";
import { syntheticHistory, type SyntheticHistory } from "./synthetic-history.js";

const END_MS = Date.UTC(2026, 10, 2, 12, 0, 0);
const STEP_MS = 60_000;
const dashboards = generateDashboards(dashboardOptionsOf(configSchema.parse({}))).map(
  (f) => JSON.parse(f.content) as DashboardJson,
);
const ALL: Substitution = {
  rateInterval: "4m",
  range: "1h",
  variables: { node: ".+", gpu: ".+", model: ".+", pool: ".+", slo: ".+", model_class: ".+" },
};

let prometheus: PrometheusServer | undefined;
let dataDir: string | undefined;
let history: SyntheticHistory;

interface QueryResult {
  readonly status: string;
  readonly error?: string;
  readonly data?: {
    readonly resultType: string;
    readonly result: readonly {
      readonly metric: Record<string, string>;
      readonly value?: [number, string];
      readonly values?: [number, string][];
    }[];
  };
}

/** Runs one expression as Grafana would: an instant query at the end, or a range query over the last hour. */
async function query(expr: string, instant: boolean): Promise<QueryResult> {
  const url = prometheus?.url as string;
  const params = new URLSearchParams({ query: expr });
  if (instant) params.set("time", String(END_MS / 1000));
  else {
    params.set("start", String(END_MS / 1000 - 3600));
    params.set("end", String(END_MS / 1000));
    params.set("step", "60");
  }
  const response = await fetch(`${url}/api/v1/${instant ? "query" : "query_range"}`, { method: "POST", body: params });
  return (await response.json()) as QueryResult;
}

beforeAll(async () => {
  history = syntheticHistory(DEFAULT_SCENARIO, { endMs: END_MS, hours: 3, stepMs: STEP_MS });
  dataDir = await mkdtemp(join(tmpdir(), "inferwatch-dashboards-tsdb-"));
  await createBlocksFromOpenMetrics(history.openMetrics, dataDir);
  prometheus = await startPrometheus({ dataDir, configYaml: "global:\n  scrape_interval: 1m\n" });
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe.each(dashboards.map((d) => [d.title, d] as const))("%s against a real Prometheus", (_title, dashboard) => {
  it("answers every panel's queries without error and every panel shows data", async () => {
    const empty: string[] = [];
    for (const panel of dataPanels(dashboard)) {
      let series = 0;
      for (const target of panel.targets ?? []) {
        const expr = substitute(target.expr, ALL);
        const result = await query(expr, target.instant === true);
        expect(result.error, `${panel.title}: ${expr}`).toBeUndefined();
        expect(result.status, `${panel.title}: ${expr}`).toBe("success");
        series += result.data?.result.length ?? 0;
      }
      if (series === 0) empty.push(panel.title);
    }
    expect(empty, "panels without data").toEqual([]);
  });

  it("answers its annotation queries and its queries with one node and one model selected", async () => {
    const one: Substitution = {
      ...ALL,
      variables: {
        ...ALL.variables,
        node: history.nodes[0] as string,
        model: history.models[0] as string,
        pool: history.pools[0] as string,
        gpu: "0",
      },
    };
    const exprs = [
      ...dataPanels(dashboard).flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
      ...(dashboard.annotations?.list ?? []).flatMap((a) => (a.target?.expr ? [a.target.expr] : [])),
    ];
    for (const expr of exprs) {
      const result = await query(substitute(expr, one), false);
      expect(result.error, expr).toBeUndefined();
      expect(result.status, expr).toBe("success");
    }
  });

  it("offers values for every label variable", async () => {
    for (const variable of dashboard.templating.list) {
      const labelValues = labelValuesQuery(variable);
      if (!labelValues) continue;
      const params = new URLSearchParams({
        "match[]": substitute(labelValues.series, ALL),
        start: String(END_MS / 1000 - 3600),
        end: String(END_MS / 1000),
      });
      const body = (await (
        await fetch(`${prometheus?.url}/api/v1/label/${labelValues.label}/values?${params.toString()}`)
      ).json()) as { status: string; data: string[] };
      expect(body.status).toBe("success");
      expect(body.data.length, variable.name).toBeGreaterThan(0);
    }
  });
});

describe("dashboard figures on the simulated fleet", () => {
  const instant = async (expr: string): Promise<number[]> =>
    ((await query(substitute(expr, ALL), true)).data?.result ?? []).map((r) => Number(r.value?.[1]));
  const target = (uid: string, title: string, refId = "A"): string => {
    const panel = dataPanels(dashboards.find((d) => d.uid === uid) as DashboardJson).find((p) => p.title === title);
    const expr = panel?.targets?.find((t) => t.refId === refId)?.expr;
    if (expr === undefined) throw new Error(`no panel ${title} in ${uid}`);
    return expr;
  };

  it("counts every GPU of the fleet, all in the default pool without analyzer.pools", async () => {
    expect(await instant(target("inferwatch-fleet-overview", "GPUs"))).toEqual([history.gpus]);
    expect(await instant(target("inferwatch-fleet-overview", "GPUs by pool"))).toEqual([history.gpus]);
  });

  it("counts GPUs per pool from analyzer.pools patterns the way the analyzer assigns nodes (searched, first match wins)", async () => {
    // The first pool matches its nodes exactly; the second by a pattern that also matches the first pool's nodes.
    const [first, second] = history.pools as [string, string];
    const pools = [
      { name: first, nodes: `^(${(history.poolNodes[first] ?? []).join("|")})$` },
      { name: second, nodes: "gpu-" },
    ];
    const defaults = dashboardOptionsOf(configSchema.parse({}));
    const overview = JSON.parse(JSON.stringify(fleetOverview({ ...defaults, pools }))) as DashboardJson;
    const panel = dataPanels(overview).find((p) => p.title === "GPUs by pool");
    const counts: Record<string, number> = {};
    for (const target of panel?.targets ?? []) {
      const result = (await query(substitute(target.expr, ALL), true)).data?.result ?? [];
      counts[(target as { legendFormat?: string }).legendFormat ?? ""] = Number(result[0]?.value?.[1] ?? 0);
    }
    const poolOf = poolResolver(pools);
    const expected: Record<string, number> = { default: 0 };
    for (const [node, gpus] of Object.entries(history.gpusByNode))
      expected[poolOf(node)] = (expected[poolOf(node)] ?? 0) + gpus;
    expect(counts).toEqual(expected);
    expect(counts[first]).toBe(history.gpusByPool[first]);
  });

  it("puts the p95 end-to-end latency of every model with traffic inside the histogram's range", async () => {
    const p95 = await instant(target("inferwatch-llm-latency", "End-to-end latency", "B"));
    expect(p95.length).toBeGreaterThan(0);
    for (const value of p95) {
      expect(value).toBeGreaterThan(0);
      expect(value).toBeLessThan(120);
    }
  });

  it("finds the model that holds GPUs without traffic", async () => {
    const result =
      (await query(substitute(target("inferwatch-capacity", "Models holding GPUs without traffic"), ALL), true)).data
        ?.result ?? [];
    expect(history.idleModels.length).toBeGreaterThan(0);
    expect(result.map((r) => r.metric["model"]).sort()).toEqual([...history.idleModels].sort());
  });
});
