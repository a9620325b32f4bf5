/**
 * The defaults of `inferwatch rules`, in a module of their own so the command line can show them
 * without loading the generators. The runbook link is the file's path in this repository (set
 * `--runbook-url` to where your copy is browsable); the receivers are placeholders for the
 * in-cluster webhooks that page and open tickets.
 */
export const DEFAULT_RULES_OPTIONS = {
  timeScale: 1,
  runbookBaseUrl: "alerts/runbooks.md",
  agentJob: "inferwatch-agent",
  pagerUrl: "http://alert-receiver.monitoring.svc:8080/pager",
  ticketUrl: "http://alert-receiver.monitoring.svc:8080/ticket",
  outDir: "alerts/generated",
} as const;
