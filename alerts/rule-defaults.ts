/**
 * The defaults of `inferwatch rules`, in a module of their own so the command line can show them
 * without loading the generators. The runbook base URL is docs/runbooks.md as the project's own
 * hosting renders it (set `--runbook-base-url` to where your copy is browsable: a fork, an internal
 * Git server, a wiki that serves the same page); the receivers are placeholders for the in-cluster
 * webhooks that page and open tickets.
 */
export const DEFAULT_RULES_OPTIONS = {
  timeScale: 1,
  runbookBaseUrl: "https://github.com/inferwatch/inferwatch/blob/main/docs/runbooks.md",
  agentJob: "inferwatch-agent",
  pagerUrl: "http://alert-receiver.monitoring.svc:8080/pager",
  ticketUrl: "http://alert-receiver.monitoring.svc:8080/ticket",
  outDir: "alerts/generated",
} as const;
