/**
 * The generated inhibitions in a real Alertmanager: alerts are posted to its API and the webhook
 * receivers record what it delivers. A faster pair mutes the slower one and the SLO's tickets;
 * a GPU's page mutes that GPU's tickets only; alerts of other SLOs, other GPUs and without either
 * label are delivered (Alertmanager treats a missing `equal` label as equal to an empty one, which
 * the generated rules guard against).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { alertmanagerConfig } from "../../alerts/alertmanager-config.js";
import { ALERTS } from "../../common/conventions.js";
import {
  startAlertmanager,
  startWebhookReceiver,
  type AlertmanagerServer,
  type WebhookReceiver,
} from "../fixtures/alertmanager-server.js";
import { waitFor } from "../fixtures/wait.js";

let receiver: WebhookReceiver;
let alertmanager: AlertmanagerServer | undefined;

const burn = (slo: string, window: string, severity: string) => ({
  alertname: ALERTS.sloBurn,
  slo,
  model_class: slo.split("-")[0] as string,
  window,
  severity,
});
const gpuAlert = (alertname: string, uuid: string, node: string, severity: string) => ({
  alertname,
  uuid,
  node,
  gpu: "0",
  severity,
});

const POSTED = [
  burn("7b-latency", "page-1h-5m", "critical"),
  burn("7b-latency", "page-6h-30m", "critical"),
  burn("7b-latency", "ticket-1d-2h", "warning"),
  { alertname: ALERTS.sloBudgetExhausted, slo: "7b-latency", model_class: "7b", severity: "warning" },
  burn("13b-latency", "ticket-3d-6h", "warning"),
  gpuAlert(ALERTS.gpuXidCritical, "GPU-0", "n1", "critical"),
  gpuAlert(ALERTS.gpuThermalThrottling, "GPU-0", "n1", "warning"),
  gpuAlert(ALERTS.gpuThermalThrottling, "GPU-1", "n2", "warning"),
  { alertname: ALERTS.poolUtilizationLow, pool: "batch", severity: "warning" },
  { alertname: ALERTS.gpuXidApplication, uuid: "GPU-1", node: "n2", gpu: "1", severity: "info" },
];

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  alertmanager = await startAlertmanager(
    stringify(
      alertmanagerConfig({ pagerUrl: `${receiver.url}/pager`, ticketUrl: `${receiver.url}/ticket`, timeScale: 60 }),
    ),
  );
}, 60_000);

afterAll(async () => {
  await alertmanager?.stop();
  await receiver?.close();
});

/** Every alert delivered to a receiver path, as `alertname slo-or-uuid-or-pool window`. */
function delivered(path: string): string[] {
  return receiver
    .received(path)
    .flatMap((n) =>
      n.alerts.map((a) =>
        [a.labels["alertname"], a.labels["slo"] ?? a.labels["uuid"] ?? a.labels["pool"], a.labels["window"] ?? ""]
          .join(" ")
          .trim(),
      ),
    )
    .sort();
}

describe("generated Alertmanager inhibitions", () => {
  it("deliver one page per SLO and GPU, and mute only the same SLO's and the same GPU's lesser alerts", async () => {
    const now = new Date().toISOString();
    const response = await fetch(`${alertmanager?.url}/api/v2/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(POSTED.map((labels) => ({ labels, annotations: { summary: "Test." }, startsAt: now }))),
    });
    expect(response.status).toBe(200);
    await waitFor(() => delivered("/pager").length >= 2 && delivered("/ticket").length >= 3, 15_000);
    // Past group_interval (5 m ÷ 60): nothing else arrives.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    expect(delivered("/pager")).toEqual(
      [`${ALERTS.sloBurn} 7b-latency page-1h-5m`, `${ALERTS.gpuXidCritical} GPU-0`].sort(),
    );
    expect(delivered("/ticket")).toEqual(
      [
        `${ALERTS.sloBurn} 13b-latency ticket-3d-6h`,
        `${ALERTS.gpuThermalThrottling} GPU-1`,
        `${ALERTS.poolUtilizationLow} batch`,
      ].sort(),
    );
    expect(receiver.received("/pager").find((n) => n.groupLabels["slo"] === "7b-latency")?.alerts).toHaveLength(1);
  }, 40_000);
});
