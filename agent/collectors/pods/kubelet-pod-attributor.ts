import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { PodsConfig } from "../../../common/config/schema.js";
import { errorMessage } from "../../../common/errors.js";
import type { Logger } from "../../../common/log.js";
import { parseCgroupFile, type CgroupIdentity } from "./cgroup.js";
import { buildDeviceMap, podRef, type PodMetadata } from "./device-mapping.js";
import { listNodePods, resolveKubeApiTarget, type KubePod } from "./kube-pods.js";
import type { NodePod, PodAttribution, PodAttributor, PodRef } from "./pod-attribution.js";
import { listPodResources, type PodResourcesEntry } from "./pod-resources-client.js";

/** Test seams; production passes none. */
export interface PodAttributorOptions {
  /** Environment read for in-cluster API discovery; defaults to process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Clock in Unix ms; defaults to Date.now. */
  readonly now?: () => number;
}

/** dcgm-exporter gives the pod-resources List call 10 s; a faster refresh gets a shorter deadline. */
const MAX_CALL_TIMEOUT_MS = 10_000;
const MIN_CALL_TIMEOUT_MS = 1_000;
/** Pod labels rarely change: the pod list is re-read this often, or sooner when an unknown pod shows up. */
const KUBE_RELIST_MS = 60_000;

/** The Kubernetes pod list of this node, indexed the three ways attribution looks pods up. */
interface KubeIndex {
  readonly byName: ReadonlyMap<string, KubePod>;
  readonly byUid: ReadonlyMap<string, KubePod>;
  readonly byContainerId: ReadonlyMap<string, { readonly pod: KubePod; readonly container: string }>;
}

type SourceState = "unknown" | "up" | "down";

function indexPods(pods: readonly KubePod[]): KubeIndex {
  const byName = new Map<string, KubePod>();
  const byUid = new Map<string, KubePod>();
  const byContainerId = new Map<string, { pod: KubePod; container: string }>();
  for (const pod of pods) {
    byName.set(`${pod.namespace}/${pod.name}`, pod);
    byUid.set(pod.uid, pod);
    for (const container of pod.containers) {
      if (container.containerId !== undefined)
        byContainerId.set(container.containerId, { pod, container: container.name });
    }
  }
  return { byName, byUid, byContainerId };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/**
 * Maps GPUs to pods from the kubelet pod-resources socket and processes to containers from
 * `<procRoot>/<pid>/cgroup`, with model names and pod UIDs from the Kubernetes API when one is
 * configured or in-cluster. Refreshes on `config.refreshInterval` from start() until shutdown().
 *
 * When the socket goes away (kubelet restart, unmounted directory) the last good mapping is
 * kept and `isUp` turns false; `refreshedAtMs` keeps the time of the last success so a consumer
 * can judge staleness. Dropping the mapping instead would strip pod labels from every GPU series
 * for the seconds a kubelet restart takes and churn the series.
 */
export function createPodAttributor(
  config: PodsConfig,
  nodeName: string,
  log: Logger,
  options: PodAttributorOptions = {},
): PodAttributor {
  const now = options.now ?? Date.now;
  const callTimeoutMs = Math.min(MAX_CALL_TIMEOUT_MS, Math.max(MIN_CALL_TIMEOUT_MS, config.refreshInterval));
  const kubeTarget = resolveKubeApiTarget(config.kubeApi, options.env ?? process.env);

  let attribution: PodAttribution = { byDevice: new Map(), refreshedAtMs: undefined, isUp: false };
  let lastEntries: readonly PodResourcesEntry[] = [];
  let kube: KubeIndex | undefined;
  let kubeListedAtMs = -Infinity;
  let isKubeRelistNeeded = false;
  const states: Record<"podResources" | "kubeApi", SourceState> = { podResources: "unknown", kubeApi: "unknown" };
  /** PID → identity; `undefined` marks a PID read once and found outside any pod. */
  const pidIdentities = new Map<number, CgroupIdentity | undefined>();

  let isStarted = false;
  let isStopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;

  /** Logs only when a source changes between up and down, never on every refresh. */
  function setState(source: keyof typeof states, up: boolean, err?: unknown): void {
    const next: SourceState = up ? "up" : "down";
    if (states[source] === next) return;
    const wasKnown = states[source] !== "unknown";
    states[source] = next;
    if (up) log.info({ source }, wasKnown ? `${source} is back` : `${source} is up`);
    else log.warn({ source, err: errorMessage(err) }, `${source} is down; keeping the last mapping`);
  }

  function metadataOf(pod: KubePod | undefined): PodMetadata | undefined {
    if (pod === undefined) return undefined;
    const model = nonEmpty(pod.labels[config.modelLabel]) ?? nonEmpty(pod.annotations[config.modelAnnotation]);
    return model === undefined ? { uid: pod.uid } : { uid: pod.uid, model };
  }

  function rebuild(refreshedAtMs: number | undefined, isUp: boolean): void {
    const byDevice = buildDeviceMap(lastEntries, config.resourceNames, (namespace, name) =>
      metadataOf(kube?.byName.get(`${namespace}/${name}`)),
    );
    attribution =
      kube === undefined
        ? { byDevice, refreshedAtMs, isUp }
        : { byDevice, refreshedAtMs, isUp, nodePods: nodePodsOf(kube) };
  }

  /** The running pods of the node list, as span attribution needs them (finished pods may hand their address on). */
  function nodePodsOf(index: KubeIndex): NodePod[] {
    return [...index.byUid.values()]
      .filter((pod) => pod.phase !== "Succeeded" && pod.phase !== "Failed")
      .map((pod) => {
        const model = metadataOf(pod)?.model;
        return {
          namespace: pod.namespace,
          name: pod.name,
          uid: pod.uid,
          ips: pod.ips,
          isHostNetwork: pod.isHostNetwork,
          ...(model === undefined ? {} : { model }),
        };
      });
  }

  async function refreshKube(): Promise<void> {
    if (kubeTarget === undefined) return;
    try {
      kube = indexPods(await listNodePods(kubeTarget, nodeName, callTimeoutMs));
      kubeListedAtMs = now();
      isKubeRelistNeeded = false;
      setState("kubeApi", true);
    } catch (err) {
      setState("kubeApi", false, err);
    }
  }

  function hasUnknownHolder(): boolean {
    for (const refs of attribution.byDevice.values()) if (refs.some((ref) => ref.podUid === undefined)) return true;
    return false;
  }

  async function refresh(): Promise<void> {
    let isUp = false;
    try {
      lastEntries = await listPodResources(config.podResourcesSocket, callTimeoutMs);
      isUp = true;
      setState("podResources", true);
    } catch (err) {
      setState("podResources", false, err);
    }
    const refreshedAtMs = isUp ? now() : attribution.refreshedAtMs;
    rebuild(refreshedAtMs, isUp);
    if (kubeTarget === undefined) return;
    if (isKubeRelistNeeded || hasUnknownHolder() || now() - kubeListedAtMs >= KUBE_RELIST_MS) {
      await refreshKube();
      rebuild(refreshedAtMs, isUp);
    }
  }

  /** Runs one refresh, then schedules the next; never rejects. */
  function runRefresh(): Promise<void> {
    inFlight = refresh()
      .catch((err: unknown) => log.error({ err: errorMessage(err) }, "pod attribution refresh failed"))
      .finally(() => {
        inFlight = undefined;
        if (isStopped) return;
        timer = setTimeout(() => void runRefresh(), config.refreshInterval);
        timer.unref();
      });
    return inFlight;
  }

  async function resolvePid(pid: number): Promise<void> {
    let text: string;
    try {
      text = await readFile(join(config.procRoot, String(pid), "cgroup"), "utf8");
    } catch {
      return; // The process exited or is hidden from us: it stays unknown and is tried again.
    }
    const identity = parseCgroupFile(text);
    pidIdentities.set(pid, identity);
    if (identity !== undefined && kube !== undefined && !isKnownToKube(identity, kube)) isKubeRelistNeeded = true;
  }

  function isKnownToKube(identity: CgroupIdentity, index: KubeIndex): boolean {
    return identity.containerId !== undefined
      ? index.byContainerId.has(identity.containerId)
      : index.byUid.has(identity.podUid);
  }

  return {
    name: "pods",

    async start(): Promise<void> {
      if (isStarted || isStopped || !config.enabled) return;
      isStarted = true;
      if (kubeTarget === undefined)
        log.info("no Kubernetes API configured; pods carry no model name and PIDs map to no pod");
      // Each call has its own deadline; this bound only guards start() against a stuck one.
      let guard: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => {
        guard = setTimeout(resolve, 2 * callTimeoutMs + 1_000);
      });
      await Promise.race([runRefresh(), bound]);
      clearTimeout(guard);
    },

    async shutdown(): Promise<void> {
      isStopped = true;
      clearTimeout(timer);
      timer = undefined;
      await inFlight;
    },

    current(): PodAttribution {
      return attribution;
    },

    containerOfPid(pid: number): PodRef | undefined {
      const identity = pidIdentities.get(pid);
      if (identity === undefined || kube === undefined) return undefined;
      if (identity.containerId !== undefined) {
        const hit = kube.byContainerId.get(identity.containerId);
        if (hit !== undefined) return podRef(hit.pod.namespace, hit.pod.name, hit.container, metadataOf(hit.pod));
      }
      // The container id is newer than the cached pod status (a restart): a one-container pod is still unambiguous.
      const pod = kube.byUid.get(identity.podUid);
      const only = pod?.containers.length === 1 ? pod.containers[0] : undefined;
      return pod !== undefined && only !== undefined
        ? podRef(pod.namespace, pod.name, only.name, metadataOf(pod))
        : undefined;
    },

    async resolvePids(pids: readonly number[]): Promise<void> {
      try {
        const wanted = new Set(pids.filter((pid) => Number.isInteger(pid) && pid > 0));
        for (const pid of pidIdentities.keys()) if (!wanted.has(pid)) pidIdentities.delete(pid);
        await Promise.all([...wanted].filter((pid) => !pidIdentities.has(pid)).map(resolvePid));
      } catch (err) {
        log.debug({ err: errorMessage(err) }, "resolving PIDs failed");
      }
    },
  };
}
