/**
 * What `inferwatch up` says once everything listens: what runs (real GPUs or a simulated fleet),
 * where to look (console, API, report, the agents' /metrics, OTLP), and how to stop. A person on a
 * terminal reads it as a short block ending with the console's URL; a log shipper gets one event
 * with the same URLs as fields.
 */

/** The facts the banner is made of. */
export interface UpFacts {
  readonly version: string;
  /** Real GPUs through NVML, or the simulated fleet's shape. */
  readonly fleet:
    | { readonly kind: "real"; readonly library: string }
    | { readonly kind: "simulated"; readonly scenario: string; readonly nodes: number; readonly gpus: number };
  /** The analyzer's base URL (http or https), without a trailing slash. */
  readonly analyzer: string;
  /** Whether the analyzer asks for a bearer token. */
  readonly hasTokens: boolean;
  /** Each agent's /metrics URL; the first is the one bound to --metrics-addr. */
  readonly agentMetrics: readonly string[];
  /** The first agent's OTLP receivers, when they run. */
  readonly otlp: { readonly http?: string; readonly grpc?: string };
}

/** The console's URL: the analyzer's root. */
export function consoleUrl(facts: UpFacts): string {
  return `${facts.analyzer}/`;
}

function fleetText(facts: UpFacts): string {
  return facts.fleet.kind === "real"
    ? `real GPUs through NVML (${facts.fleet.library})`
    : `SIMULATED fleet "${facts.fleet.scenario}": ${facts.fleet.nodes} nodes, ${facts.fleet.gpus} GPUs (no NVML library on this machine; every GPU series is labelled source="simulated")`;
}

function otlpText(otlp: UpFacts["otlp"]): string {
  const parts = [
    otlp.http === undefined ? "" : `http://${otlp.http}/v1/traces (HTTP)`,
    otlp.grpc === undefined ? "" : `${otlp.grpc} (gRPC)`,
  ].filter((p) => p !== "");
  return parts.length === 0 ? "off" : parts.join(", ");
}

/** The block a person reads on a terminal, one string per line; the last line names the console. */
export function bannerLines(facts: UpFacts): string[] {
  const [first, ...rest] = facts.agentMetrics;
  const agents =
    facts.fleet.kind === "simulated"
      ? `${facts.agentMetrics.length} agents, one per simulated node; ${first ?? "–"}${rest.length > 0 ? ` (${rest.length} more on loopback)` : ""}`
      : (first ?? "–");
  const row = (name: string, value: string) => `  ${name.padEnd(15)} ${value}`;
  return [
    `inferwatch ${facts.version} is up on ${fleetText(facts)}`,
    row("agent /metrics", agents),
    row("OTLP spans", otlpText(facts.otlp)),
    row(
      "analyzer API",
      `${facts.analyzer}/api/v1/slos  …/fleet  …/fragmentation  …/recommendations  …/snapshot${facts.hasTokens ? "  (bearer token, viewer role)" : ""}`,
    ),
    row("report", `${facts.analyzer}/report`),
    row("SLO table", `inferwatch slo status --source analyzer=${facts.analyzer}`),
    row("stop", "Ctrl-C"),
    "",
    `  Console: ${consoleUrl(facts)}`,
  ];
}

/** The same as one log event: a message a person can still read, and every URL as a field. */
export function bannerEvent(facts: UpFacts): {
  readonly fields: Readonly<Record<string, unknown>>;
  readonly message: string;
} {
  const api = facts.analyzer;
  return {
    fields: {
      console: consoleUrl(facts),
      api: `${api}/api/v1`,
      report: `${api}/report`,
      agentMetrics: facts.agentMetrics,
      otlp: facts.otlp,
      simulated: facts.fleet.kind === "simulated",
    },
    message:
      `inferwatch is up on ${fleetText(facts)}. console: ${consoleUrl(facts)}  SLOs: ${api}/api/v1/slos  fleet: ${api}/api/v1/fleet  ` +
      `fragmentation: ${api}/api/v1/fragmentation  recommendations: ${api}/api/v1/recommendations  report: ${api}/report  ` +
      `agent metrics: ${facts.agentMetrics[0] ?? "–"}  table: inferwatch slo status --source analyzer=${api}  (Ctrl-C stops)`,
  };
}
