import { readFile } from "node:fs/promises";
import * as http from "node:http";
import * as https from "node:https";
import { z } from "zod";
import type { PodsConfig } from "../../../common/config/schema.js";
import { errorMessage, wrapError } from "../../../common/errors.js";
import { MIB } from "../../../common/units.js";

/** One pod on this node as the Kubernetes API describes it; only what attribution needs. */
export interface KubePod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly containers: readonly KubeContainer[];
  /** status.podIPs (status.podIP on old API servers); empty before the pod has an address. */
  readonly ips: readonly string[];
  /** spec.hostNetwork: the pod shares the node's address, so a connection from it names no pod. */
  readonly isHostNetwork: boolean;
  /** status.phase; "" when absent. */
  readonly phase: string;
}

export interface KubeContainer {
  readonly name: string;
  /** Runtime container id without the `containerd://` (or `cri-o://`, `docker://`) scheme. */
  readonly containerId?: string;
}

/** Where and how to reach the API server. */
export interface KubeApiTarget {
  /** Base URL without a trailing slash, such as `https://10.96.0.1:443`. */
  readonly url: string;
  readonly tokenFile: string;
  readonly caFile: string;
}

/** A pod list bigger than this is refused rather than buffered (a node holds at most a few hundred pods). */
const MAX_BODY_BYTES = 64 * MIB;

const containerStatusSchema = z.object({ name: z.string(), containerID: z.string().optional() });

const stringMap = z.record(z.string(), z.string()).nullish();

/** The parts of a core/v1 PodList that inferwatch reads; everything else is stripped. */
const podListSchema = z.object({
  items: z
    .array(
      z.object({
        metadata: z.object({
          name: z.string(),
          namespace: z.string(),
          uid: z.string(),
          labels: stringMap,
          annotations: stringMap,
        }),
        spec: z.object({ hostNetwork: z.boolean().nullish() }).nullish(),
        status: z
          .object({
            phase: z.string().nullish(),
            podIP: z.string().nullish(),
            podIPs: z.array(z.object({ ip: z.string() })).nullish(),
            containerStatuses: z.array(containerStatusSchema).nullish(),
            initContainerStatuses: z.array(containerStatusSchema).nullish(),
          })
          .nullish(),
      }),
    )
    .nullish(),
});

/**
 * The API server to use: `kubeApi.url` when set, else in-cluster from KUBERNETES_SERVICE_HOST
 * and KUBERNETES_SERVICE_PORT, else undefined (the API is off and pods carry no model name).
 */
export function resolveKubeApiTarget(
  config: PodsConfig["kubeApi"],
  env: NodeJS.ProcessEnv = process.env,
): KubeApiTarget | undefined {
  const files = { tokenFile: config.tokenFile, caFile: config.caFile };
  if (config.url !== "") return { url: config.url.replace(/\/+$/, ""), ...files };
  const host = env["KUBERNETES_SERVICE_HOST"];
  if (host === undefined || host === "") return undefined;
  const port = env["KUBERNETES_SERVICE_PORT"] || "443";
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return { url: `https://${hostPart}:${port}`, ...files };
}

/** Drops the runtime scheme from a containerStatuses[].containerID (`containerd://<id>` → `<id>`). */
export function stripContainerScheme(containerId: string): string {
  const at = containerId.indexOf("://");
  return at < 0 ? containerId : containerId.slice(at + 3);
}

/** Parses a PodList body (already JSON-decoded) into plain pods; throws with the schema's message. */
export function parsePodList(body: unknown): KubePod[] {
  const parsed = podListSchema.safeParse(body);
  if (!parsed.success) throw new Error(`unexpected PodList: ${parsed.error.message}`);
  return (parsed.data.items ?? []).map((item) => ({
    namespace: item.metadata.namespace,
    name: item.metadata.name,
    uid: item.metadata.uid,
    labels: item.metadata.labels ?? {},
    annotations: item.metadata.annotations ?? {},
    containers: [...(item.status?.containerStatuses ?? []), ...(item.status?.initContainerStatuses ?? [])].map(
      (status) =>
        status.containerID !== undefined && status.containerID !== ""
          ? { name: status.name, containerId: stripContainerScheme(status.containerID) }
          : { name: status.name },
    ),
    ips: podIps(item.status?.podIPs, item.status?.podIP),
    isHostNetwork: item.spec?.hostNetwork === true,
    phase: item.status?.phase ?? "",
  }));
}

/** The pod's addresses: every podIPs entry (dual stack), else podIP, without duplicates or empties. */
function podIps(
  podIPs: readonly { readonly ip: string }[] | null | undefined,
  podIP: string | null | undefined,
): string[] {
  const ips = (podIPs ?? []).map((entry) => entry.ip);
  if (podIP) ips.push(podIP);
  return [...new Set(ips.filter((ip) => ip !== ""))];
}

/** Reads a file, returning undefined when it is absent (no token outside a cluster, no CA for http). */
async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** GETs `url` and returns the body; rejects on a non-200 status, an oversize body or `timeoutMs`. */
function getText(
  url: URL,
  headers: Record<string, string>,
  ca: string | undefined,
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const options: https.RequestOptions = { method: "GET", headers, timeout: timeoutMs };
    if (ca !== undefined) options.ca = ca;
    const transport = url.protocol === "https:" ? https : http;
    const request = transport.request(url, options, (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) request.destroy(new Error(`response larger than ${MAX_BODY_BYTES} bytes`));
        else chunks.push(chunk);
      });
      response.on("error", reject);
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        if (response.statusCode === 200) resolve(text);
        else reject(new Error(`HTTP ${response.statusCode ?? "?"}: ${text.slice(0, 200)}`));
      });
    });
    const deadline = setTimeout(() => request.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    request.on("close", () => clearTimeout(deadline));
    request.on("timeout", () => request.destroy(new Error(`idle for ${timeoutMs} ms`)));
    request.on("error", reject);
    request.end();
  });
}

/**
 * Lists the pods scheduled on `nodeName` (`GET /api/v1/pods?fieldSelector=spec.nodeName=<node>`).
 * The service-account token is re-read on every call because projected tokens rotate; it goes
 * only into the Authorization header, never into an error or a log line. `resourceVersion=0`
 * lets the API server answer from its watch cache instead of etcd.
 */
export async function listNodePods(target: KubeApiTarget, nodeName: string, timeoutMs: number): Promise<KubePod[]> {
  const url = new URL(`${target.url}/api/v1/pods`);
  url.searchParams.set("fieldSelector", `spec.nodeName=${nodeName}`);
  url.searchParams.set("resourceVersion", "0");
  const context = `kube-api: list pods of node ${nodeName} from ${url.origin}`;
  try {
    const token = (await readOptional(target.tokenFile))?.trim();
    const ca = url.protocol === "https:" ? await readOptional(target.caFile) : undefined;
    const headers: Record<string, string> = { Accept: "application/json" };
    if (token !== undefined && token !== "") headers["Authorization"] = `Bearer ${token}`;
    const body = await getText(url, headers, ca, timeoutMs);
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch (err) {
      throw new Error(`response is not JSON: ${errorMessage(err)}`, { cause: err });
    }
    return parsePodList(json);
  } catch (err) {
    throw wrapError(context, err);
  }
}
