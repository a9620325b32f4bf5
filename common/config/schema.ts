import { hostname } from "node:os";
import { z } from "zod";
import { durationMs } from "./duration.js";
import { listenAddress } from "./listen-address.js";
import { safeRegexSource } from "./safe-regex.js";
import { sloConfigSchema } from "../slo/spec.js";
import { DEFAULT_SLO_THRESHOLDS } from "../slo/thresholds.js";
import { consolidationConfigSchema } from "./consolidation-config.js";
import { idleEvictionConfigSchema } from "./idle-eviction-config.js";
import { authConfigSchema } from "../auth/auth-config.js";
import { tlsConfigSchema } from "../tls/tls-config.js";
import { MIB } from "../units.js";

/** A boolean that also reads the strings flags and environment variables carry. */
const flag = (defaultValue: boolean) =>
  z
    .union([z.boolean(), z.enum(["true", "false", "1", "0", "yes", "no"])], { error: "expected true or false" })
    .default(defaultValue)
    .transform((value) => value === true || value === "true" || value === "1" || value === "yes");

const nonEmpty = z.string().min(1);

/** NVML binding settings. */
export const nvmlConfigSchema = z.strictObject({
  /** dlopen name or path of the NVML library. */
  library: nonEmpty.default("libnvidia-ml.so.1"),
  /** How long nvmlInit_v2 may take before NVML is reported down (it hangs on some H200 drivers). */
  initTimeout: durationMs("10s", { min: "100ms", max: "10m" }),
  /** How long one sampling round of every GPU may take before NVML is reported hung. */
  sampleTimeout: durationMs("5s", { min: "100ms", max: "10m" }),
  /** Wait before trying to load or initialise NVML again after it failed or hung. */
  retryInterval: durationMs("30s", { min: "100ms", max: "1d" }),
  /** Longest backoff between retries of a GPU that is lost or failing. */
  gpuMaxBackoff: durationMs("60s", { min: "100ms", max: "1d" }),
  /** Read GPM activity (SM, tensor, DRAM) on GPUs that have it; off leaves NVML's performance counters alone. */
  gpm: flag(true),
});

/** Host metrics settings. */
export const hostConfigSchema = z.strictObject({
  enabled: flag(true),
  interval: durationMs("15s", { min: "1s", max: "1h" }),
  /** A path on the volume that holds model weights; its free space and I/O are reported. */
  modelPath: nonEmpty.default("/"),
});

/** Kubernetes API access, used only to read pod labels and annotations (the model name). */
export const kubeApiConfigSchema = z.strictObject({
  /** API server URL; empty means in-cluster (KUBERNETES_SERVICE_HOST) or disabled outside a cluster. */
  url: z.string().default(""),
  tokenFile: nonEmpty.default("/var/run/secrets/kubernetes.io/serviceaccount/token"),
  caFile: nonEmpty.default("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"),
});

/** GPU-to-pod attribution settings. */
export const podsConfigSchema = z.strictObject({
  enabled: flag(true),
  /** The kubelet pod-resources socket (mount its directory, not the socket, into the pod). */
  podResourcesSocket: nonEmpty.default("/var/lib/kubelet/pod-resources/kubelet.sock"),
  refreshInterval: durationMs("10s", { min: "50ms", max: "1h" }),
  /** Where the host's /proc is visible (processes are mapped to containers through their cgroup). */
  procRoot: nonEmpty.default("/proc"),
  /** Extended-resource names that are GPUs; a trailing `*` matches a prefix (MIG profiles). */
  resourceNames: z.array(nonEmpty).default(["nvidia.com/gpu", "nvidia.com/mig-*"]),
  /** Pod label naming the model a pod serves. */
  modelLabel: nonEmpty.default("inferwatch.io/model"),
  /** Pod annotation naming the model, read when the label is absent. */
  modelAnnotation: nonEmpty.default("inferwatch.io/model"),
  kubeApi: kubeApiConfigSchema.prefault({}),
});

/** A size in bytes, given as a number or with a unit (`20MiB`, `512KiB`, `1GiB`); `min`, when given, is the smallest accepted (with its reason). */
const byteSize = (
  defaultValue: string,
  min?: { readonly bytes: number; readonly text: string; readonly why: string },
) =>
  z
    .union([z.number(), z.string()])
    .default(defaultValue)
    .transform((value, ctx) => {
      const match = typeof value === "number" ? null : /^(\d+)\s*(B|KiB|MiB|GiB)?$/.exec(value.trim());
      const bytes =
        typeof value === "number"
          ? value
          : match
            ? Number(match[1]) * ({ B: 1, KiB: 1024, MiB: MIB, GiB: 1024 * MIB }[match[2] ?? "B"] as number)
            : NaN;
      if (!(bytes > 0) || !Number.isSafeInteger(bytes)) {
        ctx.addIssue({
          code: "custom",
          message: `expected a positive size such as 512KiB or 20MiB, got ${JSON.stringify(value)}`,
        });
        return z.NEVER;
      }
      if (min !== undefined && bytes < min.bytes) {
        ctx.addIssue({
          code: "custom",
          message: `expected at least ${min.text} (${min.why}), got ${JSON.stringify(value)}`,
        });
        return z.NEVER;
      }
      return bytes;
    });

/**
 * The smallest spool: 4 segments of the spool's smallest segment size (4 KiB,
 * agent/exporters/spool/disk-spool.ts), so dropping the oldest segment to make room never drops
 * more than a quarter of what is spooled. Below it the spool cannot open (exit 1 at start, where a
 * configuration problem must exit 2).
 */
const MIN_SPOOL_BYTES = { bytes: 16 * 1024, text: "16KiB", why: "4 spool segments of 4 KiB" } as const;

/** OTLP trace receivers. */
export const otlpConfigSchema = z
  .strictObject({
    enabled: flag(true),
    httpAddr: listenAddress("0.0.0.0:4318"),
    grpcAddr: listenAddress("0.0.0.0:4317"),
    /** Largest request body accepted, measured after decompression (a gzip bomb stops here). */
    maxBodyBytes: byteSize("20MiB"),
    /**
     * Largest OTLP/gRPC message, after decompression, when smaller than maxBodyBytes: 4 MiB, the
     * OpenTelemetry Collector's and grpc-go's default (configgrpc max_recv_msg_size_mib). Every gRPC call
     * reserves twice this much of the in-flight budget before its message is read, since grpc-js
     * inflates a message whole (pieces, then their concatenation) before anyone sees it.
     */
    maxGrpcMessageBytes: byteSize("4MiB"),
    /** Request bytes being received or decoded at once; past it requests get 429 / RESOURCE_EXHAUSTED. */
    maxInflightBytes: byteSize("32MiB"),
    /** What Retry-After says when the pipeline is full; also how long a gRPC call waits for room in the budget. */
    retryAfter: durationMs("1s", { min: "100ms", max: "5m" }),
    /** Open connections per receiver (HTTP and gRPC each); past it new connections are closed at once. */
    maxConnections: z.coerce.number().int().min(1).max(65_536).default(256),
    /** Concurrent gRPC calls per connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); clients queue the rest. */
    maxConcurrentStreams: z.coerce.number().int().min(1).max(1_000).default(16),
  })
  .refine((otlp) => otlp.maxInflightBytes >= otlp.maxBodyBytes, {
    error:
      "maxInflightBytes must be at least maxBodyBytes, or a request of the largest allowed size could never be admitted",
    path: ["maxInflightBytes"],
  })
  .refine((otlp) => otlp.maxInflightBytes >= 2 * Math.min(otlp.maxBodyBytes, otlp.maxGrpcMessageBytes), {
    error:
      "maxInflightBytes must be at least twice the gRPC message limit (the smaller of maxGrpcMessageBytes and maxBodyBytes): each gRPC call reserves that before its message is read",
    path: ["maxInflightBytes"],
  });

/** Forwarding of received spans (allow-listed attributes only) to an upstream OTLP endpoint. */
export const forwardConfigSchema = z.strictObject({
  /** Upstream endpoint (`http://tempo:4318/v1/traces` or `http://collector:4317` for gRPC); empty turns forwarding off. */
  endpoint: z.string().default(""),
  protocol: z.enum(["http/protobuf", "grpc"]).default("http/protobuf"),
  /** Spans waiting to be forwarded at most; past it new spans are dropped and counted. */
  queueSize: z.coerce.number().int().positive().default(8192),
  batchSize: z.coerce.number().int().positive().default(512),
  flushInterval: durationMs("1s", { min: "10ms", max: "10m" }),
  timeout: durationMs("10s", { min: "100ms", max: "10m" }),
});

/** Long history in InfluxDB 1.x: GPU samples and request aggregates, through a durable disk spool. */
export const influxConfigSchema = z.strictObject({
  /** InfluxDB 1.x base URL (`http://influxdb:8086`); empty turns the sink off. Credentials go in credentialsFile, not here. */
  url: z
    .string()
    .default("")
    .refine((url) => {
      if (url === "") return true;
      try {
        const parsed = new URL(url);
        return (
          (parsed.protocol === "http:" || parsed.protocol === "https:") &&
          parsed.username === "" &&
          parsed.password === ""
        );
      } catch {
        return false;
      }
    }, "expected an http(s) URL without credentials (put them in credentialsFile)"),
  database: nonEmpty.default("inferwatch"),
  /** Retention policy written to; empty: the database's default. */
  retentionPolicy: z.string().default(""),
  /** Prepended to every measurement name (the catalog's metric names). */
  measurementPrefix: z
    .string()
    .default("")
    .refine((prefix) => /^[a-zA-Z0-9_:]*$/.test(prefix), "expected letters, digits, _ or :"),
  /** A file holding `username:password` on its first line; empty: no authentication. Never logged. */
  credentialsFile: z.string().default(""),
  /** Points per write request at most. */
  batchSize: z.coerce.number().int().positive().default(5000),
  /**
   * How often a GPU sampling round and the request counters are written: the sampler hands the sink
   * every (flushInterval ÷ agent.interval)th round, rounded, at least every round. Also the sender's idle wait.
   */
  flushInterval: durationMs("10s", { min: "100ms", max: "1h" }),
  /** Per-request limit. */
  timeout: durationMs("10s", { min: "100ms", max: "10m" }),
  /** Directory of the disk spool, one subdirectory per node name (on a hostPath or a persistent volume, so that it survives the pod). */
  spoolDir: nonEmpty.default("/var/lib/inferwatch/influx-spool"),
  /** Bytes the spool may hold; past it the oldest spooled points are dropped and counted. */
  spoolMaxBytes: byteSize("256MiB", MIN_SPOOL_BYTES),
});

/** The agent's own traces (sampling rounds, OTLP requests), exported with the OpenTelemetry Node SDK. */
export const selfTracesConfigSchema = z.strictObject({
  /** OTLP/HTTP protobuf endpoint for the agent's own spans; empty turns them off. */
  endpoint: z.string().default(""),
});

/** A rule giving the serving tier of the models whose name matches. */
const tierRuleSchema = z.strictObject({
  /** Regular expression matched against the model name (checked for catastrophic backtracking: common/config/safe-regex.ts). */
  model: safeRegexSource,
  tier: nonEmpty,
});

/** LLM request metrics from spans. */
export const spansConfigSchema = z.strictObject({
  /** Histogram bucket boundaries, seconds; every SLO threshold is added to them exactly. */
  buckets: z
    .array(z.number().positive())
    .min(1)
    .default([0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2.5, 3, 5, 7.5, 10, 15, 20, 30, 60, 120]),
  /** Time-per-output-token bucket boundaries, seconds (the scale of one decode step, not of a request). */
  tpotBuckets: z
    .array(z.number().positive())
    .min(1)
    .default([0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1]),
  /**
   * Latency SLO thresholds, seconds, each a bucket boundary so an SLO is a ratio of two counters. Default: the
   * default classes' thresholds (common/slo/thresholds.ts); loading the configuration adds every threshold of `slo`.
   */
  sloThresholds: z.array(z.number().positive()).default(() => [...DEFAULT_SLO_THRESHOLDS]),
  /** Label sets one metric may hold; past it new sets fold into model="__overflow__". */
  maxSeriesPerMetric: z.coerce.number().int().positive().default(2000),
  /** Series of a model not seen for this long are dropped. */
  seriesTtl: durationMs("1h", { min: "1m", max: "7d" }),
  /** Tier of each model, first matching rule wins. */
  tiers: z.array(tierRuleSchema).default([]),
  defaultTier: nonEmpty.default("default"),
});

/**
 * An http(s) URL of a runtime's /metrics page, without credentials: the URL is a label value
 * (`inferwatch_runtime_scrape_up{target}`) and appears in logs, so user:password in it would leak.
 */
const metricsUrl = z.string().refine((value) => {
  try {
    const parsed = new URL(value);
    return ["http:", "https:"].includes(parsed.protocol) && parsed.username === "" && parsed.password === "";
  } catch {
    return false;
  }
}, "expected an http:// or https:// URL without user:password (it becomes a label value)");

/** A runtime /metrics endpoint named in configuration: a URL, or a URL with what it serves. */
const runtimeTargetSchema = z.preprocess(
  (value) => (typeof value === "string" ? { url: value } : value),
  z.strictObject(
    {
      url: metricsUrl,
      /** vllm, sglang, tgi, triton or trtllm (trtllm-serve); detected from the metric names when absent. */
      runtime: z.enum(["vllm", "sglang", "tgi", "triton", "trtllm"]).optional(),
      /** Model label when the runtime's page names none (TGI) or to override it. */
      model: nonEmpty.optional(),
      namespace: z.string().optional(),
      pod: z.string().optional(),
      tier: nonEmpty.optional(),
    },
    { error: "expected a URL or { url, runtime?, model?, namespace?, pod?, tier? }" },
  ),
);

/** Scraping of the inference runtimes' own Prometheus /metrics (KV cache, prefix cache, queue, batch). */
export const runtimesConfigSchema = z
  .strictObject({
    enabled: flag(true),
    interval: durationMs("15s", { min: "1s", max: "1h" }),
    /** Per target; a target slower than this is reported down and costs nothing else. */
    timeout: durationMs("5s", { min: "100ms", max: "10m" }),
    /** Static targets (URLs, or objects with runtime, model, namespace, pod, tier). */
    targets: z.array(runtimeTargetSchema).default([]),
    /** Pod annotations naming the port of a pod's runtime /metrics, first present wins; GPU pods of this node are scraped at <podIP>:<port>/metrics. */
    portAnnotations: z.array(nonEmpty).default(["inferwatch.io/metrics-port", "prometheus.io/port"]),
    /** Port scraped on every GPU pod of this node without such an annotation; 0: annotated pods only. */
    podPort: z.coerce.number().int().min(0).max(65535).default(0),
    /** Pod annotation naming the path of a pod's runtime metrics (default `/metrics`). */
    pathAnnotation: nonEmpty.default("prometheus.io/path"),
    /** How often the pods of this node are listed again for targets (Kubernetes API). */
    podRelistInterval: durationMs("60s", { min: "1s", max: "1d" }),
    /**
     * Largest /metrics page read from a runtime; a larger one is refused (from its Content-Length, else
     * as soon as it passes the limit) and reports the target down. Pages are read as they arrive,
     * keeping only the model rows the series limits admit, so this bounds how long a page is read, not
     * what it holds in memory: a 16.5 MiB page of 130,000 model rows grows a fresh agent by ~18 MiB at its
     * peak, in 2 ms slices (test/bench/runtime-page-bench.ts). 16 MiB is ~3,000 times a stock vLLM,
     * SGLang, TGI or Triton page (3–6 KiB) and 8 times vLLM's with 64 data-parallel engines.
     */
    maxBodyBytes: byteSize("16MiB"),
    /**
     * Runtime page bytes received and not yet parsed, across every scrape at once (the chunk being
     * parsed and each scrape's partial line); a scrape waits for room before it reads on, and one that
     * waits past its timeout is reported down. At least 2 MiB: the longest line read (1 MiB) and the
     * chunk after it.
     */
    maxInflightBytes: byteSize("8MiB", {
      bytes: 2 * MIB,
      text: "2MiB",
      why: "the longest line a runtime page may have (1 MiB) and the chunk after it",
    }),
    /** Model rows one target's page may add; past it new models fold into model="__overflow__". */
    maxSeriesPerTarget: z.coerce.number().int().min(2).default(64),
    /** Model rows all targets together may add; past it new rows fold into one model="__overflow__" row. */
    maxSeries: z.coerce.number().int().min(2).default(1000),
  })
  .refine((runtimes) => runtimes.timeout <= runtimes.interval, {
    error: "timeout must not exceed interval (one scrape round must end before the next)",
    path: ["timeout"],
  });

/** The agent's settings. */
export const agentConfigSchema = z.strictObject({
  /** Node name on every series; defaults to $NODE_NAME (downward API), else the host name. */
  nodeName: nonEmpty.default(() => process.env["NODE_NAME"] || hostname()),
  metricsAddr: listenAddress("0.0.0.0:9464"),
  /** GPU sampling interval. */
  interval: durationMs("1s", { min: "50ms", max: "1h" }),
  /**
   * The agent's V8 heap (agent/heap-settings.ts): `small` keeps the young generation at its starting
   * size and grows the old generation by conservative steps (10–30 MiB less resident memory),
   * `v8` keeps V8's defaults (about 0.7 % of a core less under 500 spans a second).
   */
  heap: z.enum(["small", "v8"]).default("small"),
  nvml: nvmlConfigSchema.prefault({}),
  host: hostConfigSchema.prefault({}),
  pods: podsConfigSchema.prefault({}),
  otlp: otlpConfigSchema.prefault({}),
  spans: spansConfigSchema.prefault({}),
  forward: forwardConfigSchema.prefault({}),
  selfTraces: selfTracesConfigSchema.prefault({}),
  influx: influxConfigSchema.prefault({}),
  runtimes: runtimesConfigSchema.prefault({}),
});

/** A pool: the nodes whose name matches. */
const poolRuleSchema = z.strictObject({ name: nonEmpty, nodes: safeRegexSource });

/** The analyzer's settings. */
export const analyzerConfigSchema = z.strictObject({
  listen: listenAddress("0.0.0.0:9465"),
  /**
   * `prometheus=<url>` (also Thanos, Mimir, VictoriaMetrics), `influx=<url>?db=<database>&rp=<policy>`
   * (InfluxDB 1.x, the sink's layout), `agents=<url>,<url>` (pulled into the
   * embedded store), or — for `inferwatch slo status` only — `analyzer=<url>` (a running analyzer's API).
   */
  source: z
    .string()
    .default("")
    .refine(
      (source) => source === "" || /^(prometheus|influx|agents|analyzer)=\S+$/.test(source),
      "expected prometheus=<url>, influx=<url>, agents=<url>,<url> or analyzer=<url>",
    ),
  /** How often SLOs and fleet figures are evaluated (results are cached between evaluations). */
  interval: durationMs("30s", { min: "1s", max: "1d" }),
  /** How often the embedded store pulls the agents. */
  pullInterval: durationMs("10s", { min: "1s", max: "1h" }),
  /** Per store query; also sent to Prometheus (`timeout=`) so it stops working on an abandoned query. */
  queryTimeout: durationMs("10s", { min: "100ms", max: "10m" }),
  /** Store queries in flight at most (Prometheus runs 20 at once by default, for every client). */
  queryConcurrency: z.coerce.number().int().positive().default(6),
  /** Retries of a query answered 429 or 502/503/504 (with exponential backoff, honouring Retry-After). */
  queryRetries: z.coerce.number().int().nonnegative().default(3),
  /** Largest answer read from the store; a larger one is sharded by label where the query allows, else fails. */
  maxAnswerBytes: byteSize("32MiB"),
  /** Time budget of one evaluation; parts not done by then keep their last answer, marked stale. */
  evaluationTimeout: durationMs("60s", { min: "100ms", max: "1h" }),
  /** Bytes one evaluation may receive from the store; past it, the remaining parts keep their last answer. */
  evaluationMaxBytes: byteSize("256MiB"),
  /** How often the slow parts are refreshed: the 1 d, 3 d and period SLO windows, the day's utilization, the idle history, recording-rule detection. */
  slowInterval: durationMs("5m", { min: "1s", max: "1d" }),
  /** Read the recorded 5-minute increases of `inferwatch rules` where Prometheus has them (`auto`), or always the raw counters (`off`). */
  recordingRules: z.enum(["auto", "off"]).default("auto"),
  /** Where the embedded store keeps its history across restarts; empty: in memory only. */
  statePath: z.string().default(""),
  /** Node pools by node-name pattern, first match wins; nodes matching none are in pool `default`. */
  pools: z.array(poolRuleSchema).default([]),
  /**
   * What "utilization" means for fleet figures, the utilization objective, pool-hours, consolidation
   * and the report: `sm` (GPM SM activity), `tensor` (GPM tensor-pipe activity) or `busy` (NVML
   * utilization.gpu). GPUs without the chosen metric (pre-Hopper) fall back to `busy`.
   */
  utilizationBasis: z.enum(["sm", "tensor", "busy"]).default("sm"),
  /** Price of one GPU-hour by GPU model (as NVML names it), for cost per million tokens. */
  gpuHourPrices: z.record(nonEmpty, z.number().nonnegative()).default({}),
  /** Consolidation constraints and idle-eviction time-to-live (analyzer/recommend). */
  recommend: z
    .strictObject({
      consolidation: consolidationConfigSchema.prefault({}),
      idle: idleEvictionConfigSchema.prefault({}),
    })
    .prefault({}),
});

export const logConfigSchema = z.strictObject({
  level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** `auto`: one readable line per event on a terminal, JSON lines otherwise (common/log.ts). */
  format: z.enum(["auto", "pretty", "json"]).default("auto"),
});

/** The whole configuration file. Each section belongs to the component that reads it. */
export const configSchema = z.strictObject({
  log: logConfigSchema.prefault({}),
  agent: agentConfigSchema.prefault({}),
  analyzer: analyzerConfigSchema.prefault({}),
  /** TLS of the listeners (agent and analyzer), shared by the whole process (common/tls). */
  tls: tlsConfigSchema.prefault({}),
  /** Bearer tokens with roles and the audit log (common/auth). */
  auth: authConfigSchema.prefault({}),
  /** Model classes and their SLOs, read by the analyzer, the agent (histogram buckets) and the rule generator. */
  slo: sloConfigSchema.prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type AgentConfig = Config["agent"];
export type NvmlConfig = AgentConfig["nvml"];
export type HostConfig = AgentConfig["host"];
export type PodsConfig = AgentConfig["pods"];
export type OtlpConfig = AgentConfig["otlp"];
export type SpansConfig = AgentConfig["spans"];
export type ForwardConfig = AgentConfig["forward"];
export type InfluxConfig = AgentConfig["influx"];
export type RuntimesConfig = AgentConfig["runtimes"];
export type AnalyzerConfig = Config["analyzer"];
