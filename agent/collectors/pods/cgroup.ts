/** The pod and container a process belongs to, read from its cgroup path. */
export interface CgroupIdentity {
  /** Pod UID with dashes (`8f2a1c3e-5b6d-...`), as in the pod's metadata.uid. */
  readonly podUid: string;
  /** Runtime container id (64 hex digits); absent for pod-level processes such as crio's conmon. */
  readonly containerId?: string;
}

/**
 * A pod cgroup segment. cgroupfs driver: `pod<uid>`; systemd driver:
 * `kubepods[-<qos>]-pod<uid with _ for ->.slice`, with an extra `kubelet-` prefix under kind.
 * The UID is hex, so the literal `pod` cannot occur inside it.
 */
const POD_SEGMENT = /^(?:[a-z0-9-]*-)?pod([0-9a-f][0-9a-f_-]+)(?:\.slice)?$/;

/**
 * A container cgroup segment right below the pod's: cgroupfs `<id>` or `crio-<id>`; systemd
 * `cri-containerd-<id>.scope`, `crio-<id>.scope`, `docker-<id>.scope`. `crio-conmon-<id>.scope`
 * (the monitor process, not the container) does not match.
 */
const CONTAINER_SEGMENT = /^(?:cri-containerd-|crio-|docker-|containerd-)?([0-9a-f]{64})(?:\.scope)?$/;

/** Pod UIDs are RFC 4122 UUIDs; static pods get the 32-hex-digit hash the kubelet computes. */
const POD_UID = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$/;

/** Reads the identity from one cgroup path, or undefined when no pod segment is in it. */
function parseCgroupPath(path: string): CgroupIdentity | undefined {
  const segments = path.split("/");
  for (let i = 0; i < segments.length; i += 1) {
    const podMatch = POD_SEGMENT.exec(segments[i] ?? "");
    if (podMatch === null) continue;
    const podUid = (podMatch[1] ?? "").replaceAll("_", "-");
    if (!POD_UID.test(podUid)) continue;
    const containerId = CONTAINER_SEGMENT.exec(segments[i + 1] ?? "")?.[1];
    return containerId === undefined ? { podUid } : { podUid, containerId };
  }
  return undefined;
}

/**
 * Parses the text of `/proc/<pid>/cgroup` (cgroup v1, v2 or hybrid) into the pod UID and
 * container id of a Kubernetes container, or undefined for a process outside any pod.
 *
 * Each line is `hierarchy-id:controllers:path` (man 7 cgroups). Under a cgroup namespace the
 * path is relative to the reader's own cgroup and may start with `/..`, so the pod segment is
 * searched anywhere in the path. A line naming the container wins over a pod-only line.
 */
export function parseCgroupFile(text: string): CgroupIdentity | undefined {
  let podOnly: CgroupIdentity | undefined;
  for (const line of text.split("\n")) {
    const first = line.indexOf(":");
    const second = first < 0 ? -1 : line.indexOf(":", first + 1);
    if (second < 0) continue;
    const identity = parseCgroupPath(line.slice(second + 1).trim());
    if (identity === undefined) continue;
    if (identity.containerId !== undefined) return identity;
    podOnly ??= identity;
  }
  return podOnly;
}
