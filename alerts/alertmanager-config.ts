/**
 * The Alertmanager configuration that goes with the rules
 * (https://prometheus.io/docs/alerting/latest/configuration/):
 *
 * - critical → the pager receiver, warning → the ticket receiver, info → nowhere (dashboards only);
 * - SLO alerts grouped by `slo` (one notification per SLO whatever the pairs and kinds firing),
 *   the others by alert name and node;
 * - inhibitions: a faster window pair mutes the slower pairs of the same severity on the same SLO
 *   (the workbook's "three notifications" problem; Pyrra #1883), any critical on an SLO mutes its
 *   warnings, and a critical on a GPU mutes that GPU's warnings. Every inhibition names the label
 *   it needs on both sides (`slo=~".+"`): Alertmanager treats a missing label as equal to an empty
 *   one, so without it an XID page on one node would mute a throttling ticket on another.
 */
import { BURN_WINDOWS } from "../common/slo/windows.js";
import { ALERT_LABELS, ALERTS } from "../common/conventions.js";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../common/units.js";
import { formatDurationMs } from "../common/config/duration.js";

export interface AlertmanagerOptions {
  /** Webhook that pages (PagerDuty, Opsgenie or an on-call bridge); replace the receiver for a native integration. */
  readonly pagerUrl: string;
  /** Webhook that opens tickets. */
  readonly ticketUrl: string;
  /** Divides group_wait, group_interval and repeat_interval, as for the rules (1 in production). */
  readonly timeScale: number;
}

export const RECEIVERS = { pager: "pager", ticket: "ticket", none: "blackhole" } as const;

interface Matchers {
  readonly source_matchers: readonly string[];
  readonly target_matchers: readonly string[];
  readonly equal: readonly string[];
}

/** Every inhibition: slower pairs by faster ones, SLO warnings by SLO criticals, GPU warnings by GPU criticals. */
export function inhibitRules(): Matchers[] {
  const pairs: Matchers[] = [];
  BURN_WINDOWS.forEach((faster, index) => {
    for (const slower of BURN_WINDOWS.slice(index + 1).filter((w) => w.severity === faster.severity)) {
      pairs.push({
        source_matchers: [
          `alertname="${ALERTS.sloBurn}"`,
          `${ALERT_LABELS.window}="${faster.id}"`,
          `${ALERT_LABELS.slo}=~".+"`,
        ],
        target_matchers: [
          `alertname="${ALERTS.sloBurn}"`,
          `${ALERT_LABELS.window}="${slower.id}"`,
          `${ALERT_LABELS.slo}=~".+"`,
        ],
        equal: [ALERT_LABELS.slo],
      });
    }
  });
  const bySeverity = (label: string): Matchers => ({
    source_matchers: [`${ALERT_LABELS.severity}="critical"`, `${label}=~".+"`],
    target_matchers: [`${ALERT_LABELS.severity}="warning"`, `${label}=~".+"`],
    equal: [label],
  });
  return [...pairs, bySeverity(ALERT_LABELS.slo), bySeverity("uuid")];
}

/** The configuration as a plain object, ready for YAML. */
export function alertmanagerConfig(options: AlertmanagerOptions): Record<string, unknown> {
  const d = (ms: number) => formatDurationMs(Math.max(1, Math.round(ms / options.timeScale)));
  const slo = `${ALERT_LABELS.slo}=~".+"`;
  const webhook = (url: string) => [{ url, send_resolved: true }];
  return {
    route: {
      receiver: RECEIVERS.none,
      group_by: ["alertname", "node"],
      group_wait: d(30_000),
      group_interval: d(5 * MINUTE_MS),
      repeat_interval: d(4 * HOUR_MS),
      routes: [
        {
          matchers: [slo, `${ALERT_LABELS.severity}="critical"`],
          receiver: RECEIVERS.pager,
          group_by: [ALERT_LABELS.slo],
        },
        {
          matchers: [slo, `${ALERT_LABELS.severity}="warning"`],
          receiver: RECEIVERS.ticket,
          group_by: [ALERT_LABELS.slo],
          repeat_interval: d(DAY_MS),
        },
        { matchers: [`${ALERT_LABELS.severity}="critical"`], receiver: RECEIVERS.pager },
        { matchers: [`${ALERT_LABELS.severity}="warning"`], receiver: RECEIVERS.ticket, repeat_interval: d(DAY_MS) },
      ],
    },
    inhibit_rules: inhibitRules(),
    receivers: [
      { name: RECEIVERS.none },
      { name: RECEIVERS.pager, webhook_configs: webhook(options.pagerUrl) },
      { name: RECEIVERS.ticket, webhook_configs: webhook(options.ticketUrl) },
    ],
  };
}
