import { describe, expect, it } from "vitest";
import { parseCgroupFile } from "../../../../agent/collectors/pods/cgroup.js";

const UID = "8f2a1c3e-5b6d-4e7f-9a0b-1c2d3e4f5a6b";
const UID_SYSTEMD = UID.replaceAll("-", "_");
const CID = "3f4e5d6c7b8a99001122334455667788aabbccddeeff00112233445566778899";

/** A cgroup v1 file: the same path under every controller, as a container's processes see it. */
function v1File(path: string): string {
  return [
    `12:hugetlb:${path}`,
    `11:memory:${path}`,
    `10:cpu,cpuacct:${path}`,
    `9:devices:${path}`,
    `1:name=systemd:${path}`,
    `0::/`,
    "",
  ].join("\n");
}

describe("parseCgroupFile", () => {
  it.each([
    {
      name: "cgroup v2, systemd driver, containerd, burstable pod",
      text: `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_SYSTEMD}.slice/cri-containerd-${CID}.scope\n`,
    },
    {
      name: "cgroup v2, systemd driver, containerd, guaranteed pod (no QoS slice)",
      text: `0::/kubepods.slice/kubepods-pod${UID_SYSTEMD}.slice/cri-containerd-${CID}.scope\n`,
    },
    {
      name: "cgroup v2, systemd driver, CRI-O, besteffort pod",
      text: `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_SYSTEMD}.slice/crio-${CID}.scope\n`,
    },
    {
      name: "cgroup v1, systemd driver, dockershim",
      text: v1File(
        `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_SYSTEMD}.slice/docker-${CID}.scope`,
      ),
    },
    {
      name: "cgroup v1, cgroupfs driver, containerd, burstable pod",
      text: v1File(`/kubepods/burstable/pod${UID}/${CID}`),
    },
    {
      name: "cgroup v1, cgroupfs driver, guaranteed pod",
      text: v1File(`/kubepods/pod${UID}/${CID}`),
    },
    {
      name: "cgroup v2, cgroupfs driver, CRI-O",
      text: `0::/kubepods/besteffort/pod${UID}/crio-${CID}\n`,
    },
    {
      name: "cgroup v2 seen from another cgroup namespace (path climbs with ..)",
      text: `0::/../../kubepods-burstable-pod${UID_SYSTEMD}.slice/cri-containerd-${CID}.scope\n`,
    },
    {
      name: "kind node (kubelet.slice prefix)",
      text: `0::/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${UID_SYSTEMD}.slice/cri-containerd-${CID}.scope\n`,
    },
    {
      name: "process in a nested cgroup below the container scope",
      text: `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_SYSTEMD}.slice/cri-containerd-${CID}.scope/init.scope\n`,
    },
  ])("reads pod and container from $name", ({ text }) => {
    expect(parseCgroupFile(text)).toEqual({ podUid: UID, containerId: CID });
  });

  it("reads the 32-hex-digit UID of a static pod", () => {
    const uid = "0123456789abcdef0123456789abcdef";
    expect(parseCgroupFile(`0::/kubepods/burstable/pod${uid}/${CID}\n`)).toEqual({ podUid: uid, containerId: CID });
  });

  it("gives only the pod for CRI-O's conmon, which is not the container", () => {
    const text = `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_SYSTEMD}.slice/crio-conmon-${CID}.scope\n`;
    expect(parseCgroupFile(text)).toEqual({ podUid: UID });
  });

  it("prefers a line naming the container over a pod-only line of a hybrid hierarchy", () => {
    const text = [`1:name=systemd:/kubepods/burstable/pod${UID}`, `0::/kubepods/burstable/pod${UID}/${CID}`].join("\n");
    expect(parseCgroupFile(text)).toEqual({ podUid: UID, containerId: CID });
  });

  it.each([
    { name: "a systemd service", text: "0::/system.slice/containerd.service\n" },
    { name: "a login session", text: "0::/user.slice/user-1000.slice/session-3.scope\n" },
    { name: "PID 1", text: "0::/init.scope\n" },
    { name: "the root cgroup", text: "0::/\n" },
    { name: "a docker container outside Kubernetes", text: v1File(`/docker/${CID}`) },
    { name: "the kubepods slice itself", text: "0::/kubepods.slice/kubepods-burstable.slice\n" },
    { name: "a pod-like name that is not a UID", text: "0::/kubepods/burstable/podcast/abc\n" },
    { name: "an empty file", text: "" },
    { name: "garbage", text: "not a cgroup file\n" },
  ])("gives undefined for $name", ({ text }) => {
    expect(parseCgroupFile(text)).toBeUndefined();
  });
});
