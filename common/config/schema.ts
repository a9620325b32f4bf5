import { hostname } from "node:os";
import { z } from "zod";
import { durationMs } from "./duration.js";
import { listenAddress } from "./listen-address.js";

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
  initTimeout: durationMs("10s"),
  /** How long one sampling round of every GPU may take before NVML is reported hung. */
  sampleTimeout: durationMs("5s"),
  /** Wait before trying to load or initialise NVML again after it failed or hung. */
  retryInterval: durationMs("30s"),
  /** Longest backoff between retries of a GPU that is lost or failing. */
  gpuMaxBackoff: durationMs("60s"),
});

/** Host metrics settings. */
export const hostConfigSchema = z.strictObject({
  enabled: flag(true),
  interval: durationMs("15s"),
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
  refreshInterval: durationMs("10s"),
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

/** The agent's settings. */
export const agentConfigSchema = z.strictObject({
  /** Node name on every series; defaults to $NODE_NAME (downward API), else the host name. */
  nodeName: nonEmpty.default(() => process.env["NODE_NAME"] || hostname()),
  metricsAddr: listenAddress("0.0.0.0:9464"),
  /** GPU sampling interval. */
  interval: durationMs("1s"),
  nvml: nvmlConfigSchema.prefault({}),
  host: hostConfigSchema.prefault({}),
  pods: podsConfigSchema.prefault({}),
});

export const logConfigSchema = z.strictObject({
  level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

/** The whole configuration file. Each section belongs to the component that reads it. */
export const configSchema = z.strictObject({
  log: logConfigSchema.prefault({}),
  agent: agentConfigSchema.prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type AgentConfig = Config["agent"];
export type NvmlConfig = AgentConfig["nvml"];
export type HostConfig = AgentConfig["host"];
export type PodsConfig = AgentConfig["pods"];
