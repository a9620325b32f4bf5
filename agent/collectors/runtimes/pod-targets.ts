import { readFile } from "node:fs/promises";
import { z } from "zod";
import type { PodsConfig, RuntimesConfig } from "../../../common/config/schema.js";
import { errorMessage } from "../../../common/errors.js";
import type { Logger } from "../../../common/log.js";
import type { KubeApiTarget } from "../pods/kube-pods.js";
import { createPageAgents, fetchPage } from "./fetch-page.js";
import type { RuntimeTarget } from "./runtime-target.js";
import { MIB } from "../../../common/units.js";

/** A pod list bigger than this is refused (a node holds at most a few hundred pods). */
const MAX_LIST_BYTES = 64 * MIB;

const stringMap = z.record(z.string(), z.string()).nullish();

/** The parts of a core/v1 PodList that runtime discovery reads. */
const podListSchema = z.object({
  items: z
    .array(
      z.object({
        metadata: z.object({ name: z.string(), namespace: z.string(), labels: stringMap, annotations: stringMap }),
        status: z.object({ phase: z.string().nullish(), podIP: z.string().nullish() }).nullish(),
      }),
    )
    .nullish(),
});

/** A pod of this node as discovery sees it. */
export interface DiscoveredPod {
  readonly namespace: string;
  readonly name: string;
  readonly ip: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** Parses a PodList body into the running pods that have an IP; throws with the schema's message. */
export function parseDiscoveryPods(body: unknown): DiscoveredPod[] {
  const parsed = podListSchema.safeParse(body);
  if (!parsed.success) throw new Error(`unexpected PodList: ${parsed.error.message}`);
  return (parsed.data.items ?? []).flatMap((item) => {
    const ip = item.status?.podIP ?? "";
    if (ip === "" || (item.status?.phase ?? "Running") !== "Running") return [];
    return [
      {
        namespace: item.metadata.namespace,
        name: item.metadata.name,
        ip,
        labels: item.metadata.labels ?? {},
        annotations: item.metadata.annotations ?? {},
      },
    ];
  });
}

/**
 * The runtime targets of a node's pods, pure. Only pods that hold a GPU on this node (`holdsGpu`,
 * from the kubelet's pod-resources: the pods the agent knows) are candidates, so the many
 * `prometheus.io/port` pods of a cluster are left alone. A candidate is scraped on the port of the
 * first of `portAnnotations` it carries, else on `podPort` when that is set. The path comes from
 * `pathAnnotation` (default `/metrics`), the model from the pods' model label or annotation; the
 * runtime is detected from the page.
 */
export function podTargets(
  pods: readonly DiscoveredPod[],
  config: Pick<RuntimesConfig, "portAnnotations" | "podPort" | "pathAnnotation">,
  model: Pick<PodsConfig, "modelLabel" | "modelAnnotation">,
  holdsGpu: (namespace: string, pod: string) => boolean,
): RuntimeTarget[] {
  const targets: RuntimeTarget[] = [];
  for (const pod of pods) {
    if (!holdsGpu(pod.namespace, pod.name)) continue;
    const annotated = config.portAnnotations
      .map((key) => pod.annotations[key])
      .find((value) => value !== undefined && value !== "");
    const port = annotated !== undefined ? Number(annotated) : config.podPort > 0 ? config.podPort : undefined;
    if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) continue;
    const rawPath = pod.annotations[config.pathAnnotation] ?? "/metrics";
    const path = rawPath.startsWith("/") ? rawPath : `/${rawPath}`;
    const host = pod.ip.includes(":") ? `[${pod.ip}]` : pod.ip;
    const name = pod.labels[model.modelLabel] || pod.annotations[model.modelAnnotation] || undefined;
    targets.push({
      url: `http://${host}:${port}${path}`,
      namespace: pod.namespace,
      pod: pod.name,
      ...(name === undefined ? {} : { model: name }),
    });
  }
  return targets;
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Options of {@link createPodTargetDiscovery}. */
export interface PodTargetDiscoveryOptions {
  readonly kubeApi: KubeApiTarget;
  readonly nodeName: string;
  readonly runtimes: RuntimesConfig;
  readonly pods: Pick<PodsConfig, "modelLabel" | "modelAnnotation">;
  readonly holdsGpu: (namespace: string, pod: string) => boolean;
  readonly log: Logger;
  readonly now?: () => number;
}

/** Runtime targets from this node's pods; refresh() never throws and keeps the last list when the API fails. */
export interface PodTargetDiscovery {
  /** Lists the node's pods again when the last list is older than the relist interval. */
  refresh(): Promise<void>;
  targets(): readonly RuntimeTarget[];
  shutdown(): void;
}

/**
 * Finds runtime targets among the pods of this node (`GET /api/v1/pods?fieldSelector=spec.nodeName=`),
 * relisting at most every `runtimes.podRelistInterval`. The service-account token is re-read on
 * every list (projected tokens rotate) and goes only into the Authorization header.
 */
export function createPodTargetDiscovery(options: PodTargetDiscoveryOptions): PodTargetDiscovery {
  const now = options.now ?? Date.now;
  const agents = createPageAgents();
  let pods: readonly DiscoveredPod[] = [];
  let listedAtMs = -Infinity;
  let isDown = false;

  async function list(): Promise<DiscoveredPod[]> {
    const url = new URL(`${options.kubeApi.url}/api/v1/pods`);
    url.searchParams.set("fieldSelector", `spec.nodeName=${options.nodeName}`);
    url.searchParams.set("resourceVersion", "0");
    const token = (await readOptional(options.kubeApi.tokenFile))?.trim();
    const ca = url.protocol === "https:" ? await readOptional(options.kubeApi.caFile) : undefined;
    const headers: Record<string, string> = { Accept: "application/json" };
    if (token !== undefined && token !== "") headers["Authorization"] = `Bearer ${token}`;
    const body = await fetchPage(url, {
      timeoutMs: options.runtimes.timeout,
      maxBytes: MAX_LIST_BYTES,
      agents,
      headers,
      ...(ca === undefined ? {} : { ca }),
    });
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch (err) {
      throw new Error(`response is not JSON: ${errorMessage(err)}`, { cause: err });
    }
    return parseDiscoveryPods(json);
  }

  return {
    async refresh(): Promise<void> {
      if (now() - listedAtMs < options.runtimes.podRelistInterval) return;
      try {
        pods = await list();
        listedAtMs = now();
        if (isDown) options.log.info("runtime discovery: pod list is back");
        isDown = false;
      } catch (err) {
        if (!isDown)
          options.log.warn(
            { err: errorMessage(err), api: options.kubeApi.url },
            "runtime discovery: cannot list this node's pods; keeping the last list",
          );
        isDown = true;
      }
    },
    targets: () => podTargets(pods, options.runtimes, options.pods, options.holdsGpu),
    shutdown: () => agents.destroy(),
  };
}
