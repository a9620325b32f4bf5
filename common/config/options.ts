/** The subcommands whose settings come from this table. */
/** `config dump` takes every setting of the table. */
export type CommandName = "agent" | "up" | "analyzer" | "slo status" | "report" | "config dump";

/**
 * One setting reachable from the command line and the environment. The flag is `--<flag>`, the
 * environment variable `INFERWATCH_<FLAG>` (upper case, `-` → `_`), and `path` is where the value
 * lands in the configuration file; all three are validated by the one schema in schema.ts.
 */
export interface OptionSpec {
  readonly path: string;
  readonly flag: string;
  readonly valueName: string;
  readonly description: string;
  readonly commands: readonly CommandName[];
  /** Comma-separated on the command line and in the environment. */
  readonly isList?: boolean;
}

const AGENT: readonly CommandName[] = ["agent", "up"];
const ANALYZER: readonly CommandName[] = ["analyzer", "up"];
const READERS: readonly CommandName[] = ["analyzer", "slo status", "report"];
const ALL: readonly CommandName[] = ["agent", "up", "analyzer", "slo status", "report"];
const SERVERS: readonly CommandName[] = ["agent", "up", "analyzer"];

/** Every setting with a flag and an environment variable. The configuration reference (docs/reference/configuration.md) is generated from it. */
export const OPTIONS: readonly OptionSpec[] = [
  {
    path: "log.level",
    flag: "log-level",
    valueName: "level",
    description: "Log level: fatal, error, warn, info, debug, trace or silent.",
    commands: ALL,
  },
  {
    path: "log.format",
    flag: "log-format",
    valueName: "format",
    description: "Log format: auto (one readable line per event on a terminal, JSON lines otherwise), pretty or json.",
    commands: ALL,
  },
  {
    path: "agent.nodeName",
    flag: "node-name",
    valueName: "name",
    description: "Node name on every series (default: $NODE_NAME, else the host name).",
    commands: AGENT,
  },
  {
    path: "agent.metricsAddr",
    flag: "metrics-addr",
    valueName: "host:port",
    description: "Listen address of /metrics, /v1/snapshot, /healthz and /readyz.",
    commands: AGENT,
  },
  {
    path: "agent.interval",
    flag: "interval",
    valueName: "duration",
    description: "GPU sampling interval.",
    commands: AGENT,
  },
  {
    path: "agent.nvml.library",
    flag: "nvml-library",
    valueName: "path",
    description: "NVML library to load (name or path).",
    commands: AGENT,
  },
  {
    path: "agent.nvml.initTimeout",
    flag: "nvml-init-timeout",
    valueName: "duration",
    description: "How long nvmlInit may take before NVML is reported down.",
    commands: AGENT,
  },
  {
    path: "agent.nvml.sampleTimeout",
    flag: "nvml-sample-timeout",
    valueName: "duration",
    description: "How long one sampling round may take before NVML is reported hung.",
    commands: AGENT,
  },
  {
    path: "agent.nvml.retryInterval",
    flag: "nvml-retry-interval",
    valueName: "duration",
    description: "Wait before loading or initialising NVML again after a failure.",
    commands: AGENT,
  },
  {
    path: "agent.nvml.gpuMaxBackoff",
    flag: "gpu-max-backoff",
    valueName: "duration",
    description: "Longest wait between retries of a lost or failing GPU.",
    commands: AGENT,
  },
  {
    path: "agent.nvml.gpm",
    flag: "nvml-gpm",
    valueName: "bool",
    description:
      "Read GPM activity (SM, tensor, DRAM, PCIe, NVLink) on Hopper and newer GPUs; false leaves the performance counters to another tool.",
    commands: AGENT,
  },
  {
    path: "agent.heap",
    flag: "heap",
    valueName: "mode",
    description:
      "The agent's V8 heap: small (young generation kept at its starting size, old generation grown by conservative steps; 10–30 MiB less resident memory) or v8 (V8's defaults; about 0.7 % of a core less under heavy span traffic).",
    commands: ["agent"],
  },
  {
    path: "agent.host.enabled",
    flag: "host-metrics",
    valueName: "bool",
    description: "Report host CPU, memory, load, model volume and network.",
    commands: AGENT,
  },
  {
    path: "agent.host.interval",
    flag: "host-interval",
    valueName: "duration",
    description: "Host metrics interval.",
    commands: AGENT,
  },
  {
    path: "agent.host.modelPath",
    flag: "model-path",
    valueName: "path",
    description: "A path on the volume holding model weights.",
    commands: AGENT,
  },
  {
    path: "agent.pods.enabled",
    flag: "pods",
    valueName: "bool",
    description: "Map GPUs and processes to pods.",
    commands: AGENT,
  },
  {
    path: "agent.pods.podResourcesSocket",
    flag: "pod-resources-socket",
    valueName: "path",
    description: "Kubelet pod-resources socket.",
    commands: AGENT,
  },
  {
    path: "agent.pods.refreshInterval",
    flag: "pods-refresh-interval",
    valueName: "duration",
    description: "How often the GPU-to-pod mapping is refreshed.",
    commands: AGENT,
  },
  {
    path: "agent.pods.procRoot",
    flag: "proc-root",
    valueName: "path",
    description: "Where the host's /proc is mounted.",
    commands: AGENT,
  },
  {
    path: "agent.pods.resourceNames",
    flag: "gpu-resource-names",
    valueName: "list",
    description: "Extended resources that are GPUs (a trailing * matches a prefix).",
    commands: AGENT,
    isList: true,
  },
  {
    path: "agent.pods.modelLabel",
    flag: "model-label",
    valueName: "key",
    description: "Pod label naming the served model.",
    commands: AGENT,
  },
  {
    path: "agent.pods.modelAnnotation",
    flag: "model-annotation",
    valueName: "key",
    description: "Pod annotation naming the served model (when the label is absent).",
    commands: AGENT,
  },
  {
    path: "agent.otlp.enabled",
    flag: "otlp",
    valueName: "bool",
    description: "Receive OTLP trace spans from the inference runtimes.",
    commands: AGENT,
  },
  {
    path: "agent.otlp.httpAddr",
    flag: "otlp-http-addr",
    valueName: "host:port",
    description: "OTLP/HTTP listen address (POST /v1/traces).",
    commands: AGENT,
  },
  {
    path: "agent.otlp.grpcAddr",
    flag: "otlp-grpc-addr",
    valueName: "host:port",
    description: "OTLP/gRPC listen address (TraceService/Export).",
    commands: AGENT,
  },
  {
    path: "agent.otlp.maxBodyBytes",
    flag: "otlp-max-body",
    valueName: "size",
    description: "Largest OTLP request accepted, after decompression.",
    commands: AGENT,
  },
  {
    path: "agent.otlp.maxGrpcMessageBytes",
    flag: "otlp-max-grpc-message",
    valueName: "size",
    description:
      "Largest OTLP/gRPC message after decompression (the smaller of this and --otlp-max-body); each call reserves it before its message is read.",
    commands: AGENT,
  },
  {
    path: "agent.otlp.maxInflightBytes",
    flag: "otlp-max-inflight",
    valueName: "size",
    description: "OTLP bytes in flight before requests are refused with 429.",
    commands: AGENT,
  },
  {
    path: "agent.otlp.maxConnections",
    flag: "otlp-max-connections",
    valueName: "n",
    description: "Open connections per OTLP receiver; past it new connections are closed at once.",
    commands: AGENT,
  },
  {
    path: "agent.otlp.maxConcurrentStreams",
    flag: "otlp-max-streams",
    valueName: "n",
    description: "Concurrent OTLP/gRPC calls per connection (HTTP/2 max concurrent streams).",
    commands: AGENT,
  },
  {
    path: "agent.spans.maxSeriesPerMetric",
    flag: "span-max-series",
    valueName: "n",
    description: 'Label sets per span metric before new ones fold into model="__overflow__".',
    commands: AGENT,
  },
  {
    path: "agent.spans.seriesTtl",
    flag: "span-series-ttl",
    valueName: "duration",
    description: "Drop the series of a model not seen for this long.",
    commands: AGENT,
  },
  {
    path: "agent.forward.endpoint",
    flag: "forward-endpoint",
    valueName: "url",
    description: "Forward received spans (allow-listed attributes only) to this OTLP endpoint; empty: off.",
    commands: AGENT,
  },
  {
    path: "agent.forward.protocol",
    flag: "forward-protocol",
    valueName: "protocol",
    description: "Protocol of the forward endpoint: http/protobuf or grpc.",
    commands: AGENT,
  },
  {
    path: "agent.forward.queueSize",
    flag: "forward-queue-size",
    valueName: "n",
    description: "Spans queued for forwarding at most; more are dropped and counted.",
    commands: AGENT,
  },
  {
    path: "agent.selfTraces.endpoint",
    flag: "self-traces-endpoint",
    valueName: "url",
    description: "Export the agent's own spans (sampling rounds) to this OTLP/HTTP endpoint; empty: off.",
    commands: AGENT,
  },
  {
    path: "agent.influx.url",
    flag: "influx-url",
    valueName: "url",
    description: "Write GPU samples and request aggregates to this InfluxDB 1.x (through a disk spool); empty: off.",
    commands: AGENT,
  },
  {
    path: "agent.influx.database",
    flag: "influx-database",
    valueName: "name",
    description: "InfluxDB database the sink writes to (created when missing).",
    commands: AGENT,
  },
  {
    path: "agent.influx.retentionPolicy",
    flag: "influx-retention-policy",
    valueName: "name",
    description: "InfluxDB retention policy the sink writes to; empty: the database's default.",
    commands: AGENT,
  },
  {
    path: "agent.influx.credentialsFile",
    flag: "influx-credentials-file",
    valueName: "path",
    description: "File holding username:password for InfluxDB (never logged); empty: no authentication.",
    commands: AGENT,
  },
  {
    path: "agent.influx.batchSize",
    flag: "influx-batch-size",
    valueName: "n",
    description: "Points per InfluxDB write request at most.",
    commands: AGENT,
  },
  {
    path: "agent.influx.flushInterval",
    flag: "influx-flush-interval",
    valueName: "duration",
    description:
      "How often a GPU sampling round and the request counters go to InfluxDB: every (flush interval ÷ sampling interval)th round, rounded, at least every round.",
    commands: AGENT,
  },
  {
    path: "agent.influx.spoolDir",
    flag: "influx-spool-dir",
    valueName: "path",
    description: "Directory of the InfluxDB sink's durable spool.",
    commands: AGENT,
  },
  {
    path: "agent.influx.spoolMaxBytes",
    flag: "influx-spool-max-bytes",
    valueName: "size",
    description: "Bytes the spool may hold; past it the oldest points are dropped and counted.",
    commands: AGENT,
  },
  {
    path: "agent.runtimes.enabled",
    flag: "runtimes",
    valueName: "bool",
    description: "Scrape the inference runtimes' own /metrics (KV cache, prefix cache, queue, batch).",
    commands: AGENT,
  },
  {
    path: "agent.runtimes.targets",
    flag: "runtime-targets",
    valueName: "list",
    description:
      "Runtime /metrics URLs to scrape (the config file also takes runtime, model, namespace, pod, tier per target).",
    commands: AGENT,
    isList: true,
  },
  {
    path: "agent.runtimes.interval",
    flag: "runtime-interval",
    valueName: "duration",
    description: "How often the runtimes' /metrics are scraped.",
    commands: AGENT,
  },
  {
    path: "agent.runtimes.podPort",
    flag: "runtime-pod-port",
    valueName: "port",
    description: "Port of the runtime /metrics on GPU pods without a metrics-port annotation; 0: annotated pods only.",
    commands: AGENT,
  },
  {
    path: "agent.runtimes.maxBodyBytes",
    flag: "runtime-max-page",
    valueName: "size",
    description:
      "Largest runtime /metrics page read (pages are read as they arrive, so this bounds read time, not memory); a larger one is refused and reports its target down.",
    commands: AGENT,
  },
  {
    path: "agent.runtimes.maxInflightBytes",
    flag: "runtime-max-inflight",
    valueName: "size",
    description: "Runtime page bytes received and not yet parsed, across all scrapes at once; a scrape waits for room.",
    commands: AGENT,
  },
  {
    path: "agent.runtimes.maxSeriesPerTarget",
    flag: "runtime-max-series-per-target",
    valueName: "n",
    description: 'Model rows one runtime page may add before new models fold into model="__overflow__".',
    commands: AGENT,
  },
  {
    path: "agent.runtimes.maxSeries",
    flag: "runtime-max-series",
    valueName: "n",
    description: 'Model rows all runtime pages together may add before new rows fold into model="__overflow__".',
    commands: AGENT,
  },
  {
    path: "agent.runtimes.timeout",
    flag: "runtime-timeout",
    valueName: "duration",
    description: "How long one runtime's /metrics may take before it is reported down.",
    commands: AGENT,
  },
  {
    path: "agent.pods.kubeApi.url",
    flag: "kube-api-url",
    valueName: "url",
    description: "Kubernetes API for pod labels (default: in-cluster when available).",
    commands: AGENT,
  },
  {
    path: "analyzer.listen",
    flag: "listen",
    valueName: "host:port",
    description: "Analyzer listen address (JSON API, /metrics).",
    commands: ANALYZER,
  },
  {
    path: "analyzer.source",
    flag: "source",
    valueName: "kind=url",
    description: "Where the analyzer reads: prometheus=<url>, influx=<url> or agents=<url>,<url>.",
    commands: READERS,
  },
  {
    path: "analyzer.interval",
    flag: "eval-interval",
    valueName: "duration",
    description: "How often SLOs and fleet figures are evaluated.",
    commands: ANALYZER,
  },
  {
    path: "analyzer.pullInterval",
    flag: "pull-interval",
    valueName: "duration",
    description: "How often the embedded store pulls the agents.",
    commands: ANALYZER,
  },
  {
    path: "analyzer.queryTimeout",
    flag: "query-timeout",
    valueName: "duration",
    description: "Limit of one store query (also sent to Prometheus as timeout=).",
    commands: READERS,
  },
  {
    path: "analyzer.queryConcurrency",
    flag: "query-concurrency",
    valueName: "n",
    description: "Store queries in flight at most.",
    commands: ANALYZER,
  },
  {
    path: "analyzer.maxAnswerBytes",
    flag: "max-answer-bytes",
    valueName: "size",
    description: "Largest store answer read; larger ones are sharded by label or fail.",
    commands: ANALYZER,
  },
  {
    path: "analyzer.evaluationTimeout",
    flag: "evaluation-timeout",
    valueName: "duration",
    description: "Time budget of one evaluation; unfinished parts keep their last answer, marked stale.",
    commands: ANALYZER,
  },
  {
    path: "analyzer.slowInterval",
    flag: "slow-interval",
    valueName: "duration",
    description: "Refresh of the long SLO windows, day utilization and idle history.",
    commands: ANALYZER,
  },
  {
    path: "analyzer.recordingRules",
    flag: "recording-rules",
    valueName: "auto|off",
    description: "Read the recorded increases of `inferwatch rules` where present (auto) or always raw counters (off).",
    commands: ANALYZER,
  },
  {
    path: "analyzer.statePath",
    flag: "state-path",
    valueName: "path",
    description: "File keeping the embedded store's history across restarts.",
    commands: ANALYZER,
  },
  {
    path: "analyzer.utilizationBasis",
    flag: "utilization-basis",
    valueName: "sm|tensor|busy",
    description:
      "What utilization means for fleet figures, the utilization objective, consolidation and the report: GPM SM activity (sm, the default), GPM tensor-pipe activity (tensor) or NVML busy time (busy); GPUs without GPM fall back to busy.",
    commands: [...ANALYZER, "report"],
  },
  {
    path: "tls.certFile",
    flag: "tls-cert-file",
    valueName: "path",
    description: "PEM certificate for the listeners; with --tls-key-file turns TLS on (re-read when it changes).",
    commands: SERVERS,
  },
  {
    path: "tls.keyFile",
    flag: "tls-key-file",
    valueName: "path",
    description: "PEM private key of --tls-cert-file.",
    commands: SERVERS,
  },
  {
    path: "tls.clientCaFile",
    flag: "tls-client-ca-file",
    valueName: "path",
    description:
      "PEM CA bundle; set, the OTLP receivers and the analyzer API require a client certificate it signed (mTLS).",
    commands: SERVERS,
  },
  {
    path: "tls.listeners",
    flag: "tls-listeners",
    valueName: "list",
    description: "Listeners that serve TLS when a certificate is set: metrics, otlp-http, otlp-grpc, analyzer.",
    commands: SERVERS,
    isList: true,
  },
  {
    path: "auth.tokenFile",
    flag: "auth-token-file",
    valueName: "path",
    description:
      "File of role:name:token lines (viewer, operator, ingest); set, the analyzer API and OTLP ingest require a bearer token.",
    commands: SERVERS,
  },
  {
    path: "auth.auditLog",
    flag: "audit-log",
    valueName: "path",
    description: "File the analyzer appends operator actions to, as JSON lines.",
    commands: ANALYZER,
  },
];

/** The environment variable of a flag. */
export function envName(flag: string): string {
  return `INFERWATCH_${flag.toUpperCase().replaceAll("-", "_")}`;
}

/** The configuration file's flag and variable, handled before the table. */
export const CONFIG_FLAG = "config";
