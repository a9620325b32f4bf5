/**
 * The dashboards against a live fleet of one: a real `inferwatch agent` reading a fake NVML library
 * (two GPUs, one running two processes), attributing them to pods through a fake kubelet (a served
 * model on GPU 0, an idle one on GPU 1) and receiving vLLM spans from the OpenTelemetry SDK, scraped
 * every second by a real Prometheus for 20 s, which evaluates the committed recording rules of
 * alerts/generated every second. Every query of every dashboard runs without error;
 * the panels the agent alone feeds (GPU telemetry, LLM latency and traffic) show data; and every
 * panel whose series Prometheus holds shows data (a join or filter that drops everything fails).
 * Analyzer and runtime-scraper panels are covered by queries.e2e.test.ts.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_RULES_OPTIONS, RULE_FILES, ruleGroups } from "../../alerts/generate.js";
import { INCREASE_GROUP } from "../../alerts/recording-rules.js";
import { configSchema } from "../../common/config/schema.js";
import { projectPath } from "../../common/paths.js";
import { generateDashboards } from "../../dashboards/generate.js";
import { dashboardOptionsOf } from "../../dashboards/options.js";
import { startAgentProcess, type AgentProcess } from "../fixtures/agent-process.js";
import { apiPod, FakeKubeApi, FakeKubelet, kubeletPod } from "../fixtures/fake-kubelet.js";
import { gpu, scenarioFile } from "../fixtures/nvml-scenario.js";
import { sendSpans } from "../fixtures/otlp-client.js";
import { startPrometheus, type PrometheusServer } from "../fixtures/prometheus-server.js";
import { runtimeResource, vllmRawSpan } from "../fixtures/spans.js";
import { buildFakeNvml } from "../setup/build-fake-nvml.js";
import { dataPanels, substitute, type DashboardJson, type Substitution } from "./dashboard-json.js";
import { GIB } from "../../common/units.js";

const SCRAPE_SECONDS = 20;
const dashboards = generateDashboards(dashboardOptionsOf(configSchema.parse({}))).map(
  (f) => JSON.parse(f.content) as DashboardJson,
);
// Grafana's $__rate_interval for a 1 s scrape and a 1 s step is 4 s; 5 s keeps two samples in every window.
const ALL: Substitution = {
  rateInterval: "5s",
  range: `${SCRAPE_SECONDS}s`,
  variables: { node: ".+", gpu: ".+", model: ".+", pool: ".+", slo: ".+", model_class: ".+" },
};

/**
 * Rules computed from the recorded 5-minute increases (the 1 d and 3 d SLO ratios): their group runs
 * every 5 minutes, first at an offset of up to 5 minutes, so they cannot exist within this test's
 * 20 seconds; a panel is not required to show them here (alerts/recording-rules.ts is tested under
 * promtool instead).
 */
const FROM_RECORDED_INCREASES: ReadonlySet<string> = (() => {
  const groups = ruleGroups({ ...DEFAULT_RULES_OPTIONS, slo: configSchema.parse({}).slo }).groups;
  const recorded = (groups.find((group) => group.name === INCREASE_GROUP)?.rules ?? []).flatMap((rule) =>
    "record" in rule ? [rule.record] : [],
  );
  return new Set(
    groups
      .flatMap((group) => group.rules)
      .flatMap((rule) => ("record" in rule && recorded.some((name) => rule.expr.includes(name)) ? [rule.record] : [])),
  );
})();

/** Panels the agent alone must fill (by dashboard uid and title). */
const CORE_PANELS: Readonly<Record<string, readonly string[]>> = {
  "inferwatch-fleet-overview": [
    "GPUs",
    "Mean GPU utilization",
    "GPU memory in use",
    "Tokens/s per GPU",
    "Joules per token",
    "GPUs by pool",
    "GPU utilization by node",
    "GPU memory used by node",
    "GPU power by node",
    "GPU energy rate by node",
    "Joules per token by node",
    "Tokens/s per GPU by model",
  ],
  "inferwatch-gpu-node": [
    "NVML up",
    "GPUs answering",
    "GPUs",
    "Busy time (utilization.gpu)",
    "SM, tensor and DRAM activity (GPM)",
    "Memory used",
    "Temperature",
    "Power and limit",
    "SM clock",
    "Clock throttle reasons",
    "GPU memory by process",
    "GPU memory by pod",
    "GPU utilization by pod",
    "GPU holders",
    "Collector success",
    "Sample age",
  ],
  "inferwatch-llm-latency": [
    "End-to-end latency",
    "End-to-end latency distribution",
    "Phase breakdown (mean)",
    "Phase p95",
    "Time to first token",
    "Requests by status",
    "Tokens",
    "Time since the last request",
  ],
  "inferwatch-slos": [
    "Requests slower than each SLO threshold",
    "Failed requests",
    "Good-event ratio per window (recording rules)",
  ],
  "inferwatch-capacity": [
    "Free GPU memory by node",
    "Time since the last request",
    "Models holding GPUs without traffic",
    "GPUs held per model",
  ],
};

const SERVED = "llama-3-8b";
const IDLE = "mistral-7b-idle";

let agent: AgentProcess | undefined;
let kubelet: FakeKubelet | undefined;
let kubeApi: FakeKubeApi | undefined;
let dir: string | undefined;
let prometheus: PrometheusServer | undefined;
let names: Set<string>;
let endSeconds = 0;

interface QueryResult {
  readonly status: string;
  readonly error?: string;
  readonly data?: { readonly result: readonly unknown[] };
}

async function query(expr: string): Promise<QueryResult> {
  const params = new URLSearchParams({
    query: expr,
    start: String(endSeconds - SCRAPE_SECONDS),
    end: String(endSeconds),
    step: "1",
  });
  return (await (
    await fetch(`${prometheus?.url}/api/v1/query_range`, { method: "POST", body: params })
  ).json()) as QueryResult;
}

beforeAll(async () => {
  const libs = await buildFakeNvml();
  const file = await scenarioFile({
    gpus: [
      gpu(0, {
        procs: [
          [4242, 8 * GIB],
          [5555, GIB],
        ],
      }),
      gpu(1, { procs: [[6666, 20 * GIB]] }),
    ],
  });
  // Pod attribution as in test/agent/agent.e2e.test.ts: kubelet devices, API pod labels, /proc cgroups.
  dir = await mkdtemp(join(tmpdir(), "inferwatch-dashboards-live-"));
  kubelet = new FakeKubelet(join(dir, "kubelet.sock"));
  kubeApi = new FakeKubeApi();
  const pods = [
    {
      name: "vllm-8b-0",
      uid: "8f2a1c3e-5b6d-4e7f-9a0b-1c2d3e4f5a6b",
      container: "c".repeat(64),
      uuid: gpu(0)["uuid"] as string,
      model: SERVED,
      pid: 4242,
    },
    {
      name: "vllm-idle-0",
      uid: "1a2b3c4d-5e6f-4a0b-8c1d-2e3f4a5b6c7d",
      container: "d".repeat(64),
      uuid: gpu(1)["uuid"] as string,
      model: IDLE,
      pid: 6666,
    },
  ];
  kubelet.pods = pods.map((p) => kubeletPod("llm", p.name, "vllm", { "nvidia.com/gpu": [p.uuid] }));
  kubeApi.items = pods.map((p) =>
    apiPod("llm", p.name, p.uid, { labels: { "inferwatch.io/model": p.model }, containers: { vllm: p.container } }),
  );
  for (const p of pods) {
    await mkdir(join(dir, "proc", String(p.pid)), { recursive: true });
    await writeFile(
      join(dir, "proc", String(p.pid), "cgroup"),
      `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${p.uid.replaceAll("-", "_")}.slice/cri-containerd-${p.container}.scope\n`,
    );
  }
  await kubelet.start();
  const apiUrl = await kubeApi.start();
  agent = await startAgentProcess(
    [
      "--nvml-library",
      libs.full,
      "--interval",
      "500ms",
      "--host-interval",
      "1s",
      "--pods-refresh-interval",
      "1s",
      "--pod-resources-socket",
      kubelet.socketPath,
      "--proc-root",
      join(dir, "proc"),
      "--kube-api-url",
      apiUrl,
    ],
    { FAKE_NVML_SCENARIO: file.path },
  );
  const target = new URL(agent.url).host;
  prometheus = await startPrometheus({
    configYaml: `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: inferwatch-agent\n    static_configs:\n      - targets: ["${target}"]\n`,
    rulesFiles: [projectPath("alerts", "generated", RULE_FILES.rules)],
    extraArgs: ["--enable-feature=exemplar-storage"],
  });
  const otlp = agent.otlpHttp as string;
  let n = 0;
  const deadline = Date.now() + SCRAPE_SECONDS * 1000;
  while (Date.now() < deadline) {
    const now = Date.now();
    const spans = [0.4, 0.9, 1.5, 2.5, 5].map((e2e) =>
      vllmRawSpan({
        spanId: (++n).toString(16).padStart(16, "0"),
        startTimeMs: now - e2e * 1000,
        endTimeMs: now,
        attributes: { "gen_ai.latency.e2e": e2e, "gen_ai.response.model": SERVED },
      }),
    );
    await sendSpans("http/protobuf", otlp, runtimeResource("vllm"), spans);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  endSeconds = Math.floor(Date.now() / 1000);
  const body = (await (await fetch(`${prometheus.url}/api/v1/label/__name__/values`)).json()) as { data: string[] };
  names = new Set(body.data);
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await agent?.stop();
  await kubelet?.stop();
  await kubeApi?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.each(dashboards.map((d) => [d.title, d] as const))(
  "%s on a live agent scraped by Prometheus",
  (_title, dashboard) => {
    it("runs every query without error, fills the agent's panels and every panel whose series exist", async () => {
      const empty: string[] = [];
      const expected: string[] = [];
      for (const panel of dataPanels(dashboard)) {
        let series = 0;
        let hasAllSeries = true;
        for (const target of panel.targets ?? []) {
          const expr = substitute(target.expr, ALL);
          const result = await query(expr);
          expect(result.error, `${panel.title}: ${expr}`).toBeUndefined();
          expect(result.status).toBe("success");
          series += result.data?.result.length ?? 0;
          for (const [name] of target.expr.matchAll(/\b(?:[a-z]+:)?inferwatch_[a-z0-9_:]+/g))
            if (!names.has(name) && !FROM_RECORDED_INCREASES.has(name)) hasAllSeries = false;
        }
        if (series === 0) empty.push(panel.title);
        if (hasAllSeries) expected.push(panel.title);
      }
      const core = CORE_PANELS[dashboard.uid] ?? [];
      for (const title of core) expect(expected, `${title}: the agent should export its series`).toContain(title);
      expect(
        empty.filter((title) => expected.includes(title)),
        "panels without data although their series exist",
      ).toEqual([]);
    });
  },
);

describe("figures on the live agent", () => {
  it("lists exactly the model that holds a GPU without traffic as idle", async () => {
    const capacity = dashboards.find((d) => d.uid === "inferwatch-capacity") as DashboardJson;
    const expr = dataPanels(capacity).find((p) => p.title === "Models holding GPUs without traffic")?.targets?.[0]
      ?.expr as string;
    const params = new URLSearchParams({ query: substitute(expr, ALL), time: String(endSeconds) });
    const body = (await (await fetch(`${prometheus?.url}/api/v1/query`, { method: "POST", body: params })).json()) as {
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    expect(body.data.result.map((r) => [r.metric["model"], r.value[1]])).toEqual([[IDLE, "1"]]);
  });
});

describe("exemplars on the latency panels", () => {
  it("lead from the end-to-end latency query to the trace ids of the requests", async () => {
    const llm = dashboards.find((d) => d.uid === "inferwatch-llm-latency") as DashboardJson;
    const target = dataPanels(llm).find((p) => p.title === "End-to-end latency")?.targets?.[0];
    expect(target?.exemplar).toBe(true);
    const params = new URLSearchParams({
      query: substitute(target?.expr as string, ALL),
      start: String(endSeconds - SCRAPE_SECONDS),
      end: String(endSeconds),
    });
    const body = (await (
      await fetch(`${prometheus?.url}/api/v1/query_exemplars`, { method: "POST", body: params })
    ).json()) as {
      status: string;
      data: { seriesLabels: Record<string, string>; exemplars: { labels: Record<string, string> }[] }[];
    };
    expect(body.status).toBe("success");
    const traceIds = body.data.flatMap((d) => d.exemplars.map((e) => e.labels["trace_id"]));
    expect(traceIds.length).toBeGreaterThan(0);
    for (const id of traceIds) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(body.data.every((d) => d.seriesLabels["model"] === SERVED)).toBe(true);
  });
});
