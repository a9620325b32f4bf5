/**
 * Alerts end to end: a real Prometheus scrapes a real `inferwatch agent` (fake NVML library, vLLM
 * spans sent with the OpenTelemetry SDK), evaluates the rules `inferwatch rules --time-scale 60`
 * wrote (an hour's window lasts a minute) every second and sends to a real Alertmanager running the
 * generated configuration, which delivers to webhook receivers in this test.
 *
 * A 7B model that starts serving every request slowly pages exactly once, with the fastest window
 * pair's labels: the slower pairs are inhibited by it, the tickets of the same SLO by the page.
 * A healthy 13B model and a 70B model without traffic stay silent. XID 79 on a fake GPU pages.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RULE_FILES } from "../../alerts/generate.js";
import { DEFAULT_RULES_OPTIONS } from "../../alerts/rule-defaults.js";
import { ALERTS } from "../../common/conventions.js";
import { projectPath } from "../../common/paths.js";
import { startAgentProcess, type AgentProcess } from "../fixtures/agent-process.js";
import {
  startAlertmanager,
  startWebhookReceiver,
  type AlertmanagerServer,
  type WebhookNotification,
  type WebhookReceiver,
} from "../fixtures/alertmanager-server.js";
import { gpu, scenarioFile, type ScenarioFile } from "../fixtures/nvml-scenario.js";
import { sendSpans } from "../fixtures/otlp-client.js";
import { startPrometheus, type PrometheusServer } from "../fixtures/prometheus-server.js";
import { runtimeResource, vllmRawSpan } from "../fixtures/spans.js";
import { waitFor } from "../fixtures/wait.js";
import { buildFakeNvml } from "../setup/build-fake-nvml.js";

const execFileAsync = promisify(execFile);
const TIME_SCALE = 60;
const GPUS = [gpu(0), gpu(1)];
/** The SLO alert group's notifications are sent again after group_interval (5 m ÷ 60); waiting past it shows no second one came. */
const SETTLE_MS = 7_000;

let dir: string;
let receiver: WebhookReceiver;
let alertmanager: AlertmanagerServer | undefined;
let agent: AgentProcess | undefined;
let prometheus: PrometheusServer | undefined;
let scenario: ScenarioFile;
let traffic: ReturnType<typeof setInterval> | undefined;
let spanSeq = 0;

/** Sends one span of `model` taking `e2eSeconds`, each with its own span id. */
async function request(model: string, e2eSeconds: number): Promise<void> {
  const spanId = (++spanSeq).toString(16).padStart(16, "0");
  await sendSpans("http/protobuf", agent?.otlpHttp as string, runtimeResource("vllm"), [
    vllmRawSpan({ spanId, attributes: { "gen_ai.latency.e2e": e2eSeconds, "gen_ai.response.model": model } }),
  ]);
}

async function query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const response = await fetch(`${prometheus?.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await response.json()) as {
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  return body.data.result;
}

const pagesFor = (slo: string): WebhookNotification[] =>
  receiver.received("/pager").filter((n) => n.groupLabels["slo"] === slo);

beforeAll(async () => {
  const libs = await buildFakeNvml();
  receiver = await startWebhookReceiver();
  dir = await mkdtemp(join(tmpdir(), "inferwatch-alerts-e2e-"));
  await execFileAsync(
    process.execPath,
    [
      projectPath("dist/cli/main.js"),
      "rules",
      "--out-dir",
      dir,
      "--time-scale",
      String(TIME_SCALE),
      "--pager-url",
      `${receiver.url}/pager`,
      "--ticket-url",
      `${receiver.url}/ticket`,
    ],
    { env: { PATH: process.env["PATH"] ?? "" } },
  );
  alertmanager = await startAlertmanager(await readFile(join(dir, RULE_FILES.alertmanager), "utf8"));
  scenario = await scenarioFile({ gpus: GPUS });
  agent = await startAgentProcess(
    ["--nvml-library", libs.full, "--pods", "false", "--host-metrics", "false", "--interval", "200ms"],
    { FAKE_NVML_SCENARIO: scenario.path },
  );
  prometheus = await startPrometheus({
    configYaml: [
      "global: { scrape_interval: 1s, evaluation_interval: 1s }",
      `scrape_configs: [{ job_name: inferwatch-agent, static_configs: [{ targets: ["${new URL(agent.url).host}"] }] }]`,
      `alerting: { alertmanagers: [{ static_configs: [{ targets: ["${alertmanager.address}"] }] }] }`,
    ].join("\n"),
    rulesFiles: [join(dir, RULE_FILES.rules)],
  });
  // Healthy 13B traffic from the start, so the incident below is one model's, not the fleet's.
  traffic = setInterval(() => void request("llama-2-13b", 0.6).catch(() => undefined), 250);
}, 60_000);

afterAll(async () => {
  if (traffic) clearInterval(traffic);
  await prometheus?.stop();
  await agent?.stop();
  await alertmanager?.stop();
  await receiver?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("alerts end to end", () => {
  it("a slow-request incident pages exactly once, with the SLO, class, severity and fastest window pair", async () => {
    let upSeen = false;
    await waitFor(
      () => upSeen,
      20_000,
      async () => {
        upSeen = (await query('slo:inferwatch_slo_good_events:ratio_rate5m{slo="13b-latency"}')).length > 0;
      },
    );
    // The incident: every 7B request takes 3 s against a 1.2 s threshold (burn rate 20).
    const incident = setInterval(() => void request("llama-3-8b", 3).catch(() => undefined), 250);
    try {
      await waitFor(() => pagesFor("7b-latency").length > 0, 30_000);
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    } finally {
      clearInterval(incident);
    }
    const pages = pagesFor("7b-latency");
    expect(pages, JSON.stringify(pages, null, 2)).toHaveLength(1);
    const [page] = pages as [WebhookNotification];
    expect(page.status).toBe("firing");
    expect(page.alerts).toHaveLength(1);
    expect(page.alerts[0]?.labels).toMatchObject({
      alertname: ALERTS.sloBurn,
      slo: "7b-latency",
      model_class: "7b",
      severity: "critical",
      window: "page-1h-5m",
      long_window: "1h",
      short_window: "5m",
    });
    expect(page.alerts[0]?.annotations["runbook_url"]).toBe(
      `${DEFAULT_RULES_OPTIONS.runbookBaseUrl}#inferwatchsloerrorbudgetburn`,
    );
    // The slower page pair fired too, but Alertmanager held it back (inhibited by the faster one).
    const firing = await query(`ALERTS{alertname="${ALERTS.sloBurn}", slo="7b-latency", alertstate="firing"}`);
    expect(firing.map((s) => s.metric["window"]).sort()).toEqual(expect.arrayContaining(["page-1h-5m", "page-6h-30m"]));
    // Tickets of the same SLO are inhibited by its page; the healthy and idle classes say nothing.
    expect(receiver.received("/ticket").filter((n) => n.groupLabels["slo"] === "7b-latency")).toEqual([]);
    expect(receiver.received("/pager").filter((n) => n.groupLabels["slo"] !== "7b-latency")).toEqual([]);
    expect(await query('ALERTS{model_class=~"13b|70b"}')).toEqual([]);
  }, 60_000);

  it("an XID 79 on a fake GPU pages", async () => {
    await scenario.write({ gpus: GPUS, events: [[1, 0, 79]] });
    const xidPages = () =>
      receiver.received("/pager").filter((n) => n.groupLabels["alertname"] === ALERTS.gpuXidCritical);
    await waitFor(() => xidPages().length > 0, 20_000);
    const alert = xidPages()[0]?.alerts[0];
    expect(alert?.labels).toMatchObject({
      alertname: ALERTS.gpuXidCritical,
      severity: "critical",
      xid: "79",
      gpu: "0",
      uuid: GPUS[0]?.["uuid"] as string,
      node: "test-node",
    });
    expect(alert?.annotations["description"]).toContain("reported XID 79");
  }, 30_000);
});
