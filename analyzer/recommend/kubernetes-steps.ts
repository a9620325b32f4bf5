/**
 * A consolidation plan as the kubectl steps an operator would run, for review. Nothing here is
 * run by inferwatch. The steps follow the descheduler's and Karpenter's practice: cordon what is to
 * be emptied, then evict one pod at a time and let its controller re-create it where there is room.
 */
import type { FleetSnapshot } from "../fleet/snapshot.js";
import type { ConsolidationPlan } from "./consolidation/index.js";
import { GIB } from "../../common/units.js";

/** Annotations the steps put on a pod before deleting it, so the move can be audited. */
export const MOVE_ANNOTATIONS = {
  step: "inferwatch.io/consolidation-step",
  node: "inferwatch.io/consolidation-target-node",
  gpus: "inferwatch.io/consolidation-target-gpus",
} as const;

/** Quotes a shell word when it holds anything but safe characters. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9._\-/=:,@]+$/.test(word) ? word : `'${word.replace(/'/g, `'"'"'`)}'`;
}

/**
 * Renders `plan` as a commented shell script to review: cordon the nodes the plan frees, then per
 * move annotate the pod with its target, delete it (its Deployment or StatefulSet re-creates it)
 * and wait for it to be Ready, and finally what to do with the freed nodes. Pure.
 */
export function kubernetesSteps(plan: ConsolidationPlan, snapshot: FleetSnapshot): string {
  const gpuIndex = new Map<string, string>();
  for (const node of snapshot.nodes) for (const gpu of node.gpus) gpuIndex.set(gpu.uuid, `${node.name}/${gpu.index}`);
  const total = plan.moves.length;
  const lines = [
    "#!/bin/sh",
    "# inferwatch consolidation plan: REVIEW BEFORE RUNNING ANYTHING. Nothing here has been applied.",
    `# Snapshot taken ${new Date(plan.takenAtMs).toISOString()}. ${total} move(s) free ${plan.gpusFreed} GPU(s) and ${plan.nodesFreed} node(s)`,
    `# (GPUs in use ${plan.gpusInUseBefore} -> ${plan.gpusInUseAfter}). Every step was checked against the plan's constraints.`,
    "# Run the steps in order, one at a time; stop if a model's SLO starts burning.",
    "set -eu",
  ];
  if (total === 0) {
    lines.push("", "# Nothing to do: no move frees a GPU or a node under the configured constraints.");
    return `${lines.join("\n")}\n`;
  }
  if (plan.freedNodes.length > 0) {
    lines.push("", "# 1. Keep new pods off the nodes this plan empties.");
    for (const node of plan.freedNodes) lines.push(`kubectl cordon ${shellWord(node)}`);
  } else {
    lines.push("", "# 1. No node is emptied entirely, so nothing is cordoned; the GPUs freed stay schedulable.");
  }
  lines.push(
    "",
    "# 2. Move the replicas. Each pod is re-created by its controller (Deployment or StatefulSet);",
    "#    wait until the new pod is Ready before the next step.",
  );
  for (const move of plan.moves) {
    const step = `${move.step}/${total}`;
    const from = move.fromGpus.map((uuid) => gpuIndex.get(uuid) ?? uuid).join(", ");
    const to = move.toGpus.map((uuid) => gpuIndex.get(uuid) ?? uuid).join(", ");
    const pod = `-n ${shellWord(move.namespace)} ${shellWord(move.pod)}`;
    lines.push(
      "",
      `# Step ${step}: replica ${move.replicaId} of ${move.model} (${move.tensorParallel} GPU(s), ${(move.memoryPerGpuBytes / GIB).toFixed(1)} GiB each)`,
      `#   from ${from}  ->  to ${to}`,
      `#   why: ${move.reason}`,
      `kubectl annotate pod ${pod} --overwrite ${MOVE_ANNOTATIONS.step}=${shellWord(step)} ${MOVE_ANNOTATIONS.node}=${shellWord(move.toNode)} ${MOVE_ANNOTATIONS.gpus}=${shellWord(move.toGpus.join(","))}`,
      `kubectl delete pod ${pod} --wait=true`,
      `#   The scheduler places the new pod where it fits. To pin it to ${move.toNode}, give its workload a`,
      `#   preferred node affinity on kubernetes.io/hostname=${move.toNode} before deleting (that rolls its`,
      "#   other pods too); the GPU indexes are picked by the device plugin or a GPU-sharing scheduler.",
      `#   Then wait: kubectl get pods -n ${shellWord(move.namespace)} -o wide --watch`,
    );
  }
  lines.push("", "# 3. Afterwards: check the freed GPUs are idle (inferwatch shows them).");
  if (plan.freedNodes.length > 0) {
    lines.push(`#    The emptied node(s) stay cordoned; drain and remove or repurpose them, or uncordon to undo:`);
    for (const node of plan.freedNodes)
      lines.push(
        `#    kubectl drain ${shellWord(node)} --ignore-daemonsets   # or: kubectl uncordon ${shellWord(node)}`,
      );
  }
  return `${lines.join("\n")}\n`;
}
