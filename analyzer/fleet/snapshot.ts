/**
 * The fleet snapshot: every GPU node, the model replicas on them and the SLO state of each model,
 * at one instant. The analyzer assembles it from its store; `inferwatch recommend --snapshot <file>`
 * reads it from a file. Fragmentation is computed on it and the recommender plans moves on it.
 *
 * Units: bytes for memory, milliseconds since the Unix epoch for instants, 0..1 for ratios,
 * requests per second for rates. One zod schema validates a snapshot at the edge (shape, ranges and
 * cross-references: a replica's node and GPUs must exist, each GPU listed once per replica); code
 * inside trusts the inferred types.
 */
import { z } from "zod";
import { runtimeMetadataSchema } from "./runtime-metadata.js";

/** Version of the snapshot document; bumped on incompatible changes. */
export const FLEET_SNAPSHOT_VERSION = 1;

const nonEmpty = z.string().min(1);
const bytes = z.number().int().nonnegative();
const ratio = z.number().min(0).max(1);

/** A Kubernetes taint (core/v1 Taint). */
export const taintSchema = z.strictObject({
  key: nonEmpty,
  value: z.string().optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]),
});

/** A Kubernetes toleration (core/v1 Toleration, without tolerationSeconds). */
export const tolerationSchema = z.strictObject({
  key: z.string().optional(),
  operator: z.enum(["Equal", "Exists"]).default("Equal"),
  value: z.string().optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
});

/**
 * A MIG device (GPU instance + compute instance). A replica that runs on it lists its `uuid`.
 * Fragmentation treats each MIG device as a unit of its own that cannot join a tensor-parallel group.
 */
export const migDeviceSchema = z
  .strictObject({
    uuid: nonEmpty,
    profile: nonEmpty.describe("The NVIDIA profile name, e.g. `1g.10gb`, `3g.40gb`."),
    memoryTotalBytes: bytes.describe("Memory of the MIG device, bytes."),
    memoryUsedBytes: bytes.describe("Memory in use on the MIG device, bytes."),
  })
  .describe("A MIG device; fragmentation treats it as a unit of its own that cannot join a tensor-parallel group.");

/** One GPU as the agent reports it. */
export const gpuSchema = z.strictObject({
  uuid: nonEmpty,
  index: z.number().int().nonnegative().describe("NVML index on its node."),
  gpuModel: nonEmpty.describe("Product name as NVML reports it, e.g. `NVIDIA H100 80GB HBM3`."),
  memoryTotalBytes: bytes.describe("Device memory, bytes."),
  memoryUsedBytes: bytes.describe("Device memory in use now (NVML), bytes."),
  utilizationRatio: ratio
    .nullable()
    .describe(
      "How busy the GPU is, 0..1, on `utilizationBasis`; null when the GPU reports no figure (a MIG GPU without GPM): unknown, never idle, and the planner treats it as fully busy.",
    ),
  utilizationBasis: z
    .enum(["sm", "tensor", "busy", "unknown"])
    .optional()
    .describe(
      "What `utilizationRatio` is: `sm` (GPM SM activity), `tensor` (GPM tensor-pipe activity), `busy` (NVML utilization.gpu, the share of time a kernel ran) or `unknown`; absent means `busy`.",
    ),
  nvlinkDomain: nonEmpty
    .nullable()
    .describe(
      "GPUs of one node with the same domain are joined by NVLink/NVSwitch and can hold one tensor-parallel replica together; null when the GPU has no NVLink peer (PCIe only).",
    ),
  isHealthy: z
    .boolean()
    .describe("False when the GPU is lost, has an uncorrectable error or a pending row remap: nothing goes there."),
  mig: z.array(migDeviceSchema).optional().describe("MIG devices when MIG mode is on; absent or empty when it is off."),
});

/** One GPU node. */
export const nodeSchema = z
  .strictObject({
    name: nonEmpty,
    pool: nonEmpty.describe("Node pool (for example `latency`, `batch`); replicas move within their pool."),
    labels: z.record(z.string(), z.string()).default({}),
    taints: z.array(taintSchema).default([]),
    gpus: z.array(gpuSchema),
    kvCacheUsage: ratio
      .optional()
      .describe(
        "Highest KV-cache usage among the inference runtimes on the node (the runtimes' own /metrics), 0..1; absent when none is scraped. Consolidation moves nothing onto a node at or past its KV watermark.",
      ),
    preemptionRate: z
      .number()
      .nonnegative()
      .optional()
      .describe(
        "Requests the node's runtimes preempted per second over the recent window (KV cache exhausted); absent when none is scraped.",
      ),
  })
  .describe("A GPU node.");

/** One model replica (a pod serving one model, possibly sharded over several GPUs). */
export const replicaSchema = z
  .strictObject({
    id: nonEmpty,
    model: nonEmpty,
    namespace: nonEmpty,
    pod: nonEmpty,
    node: nonEmpty,
    gpus: z
      .array(nonEmpty)
      .min(1)
      .describe("UUIDs of the GPUs (or MIG devices) it holds, one per tensor-parallel rank."),
    memoryPerGpuBytes: bytes.describe(
      "Device memory it holds on each of its GPUs (weights + KV cache as the runtime reserved it), bytes.",
    ),
    tier: nonEmpty.describe("Serving tier (for example `latency`, `batch`), as the agent's tier rules name it."),
    tensorParallel: z
      .number()
      .int()
      .positive()
      .describe("Tensor-parallel degree: the number of GPUs, all on one node and one NVLink domain."),
    lastRequestAtMs: z
      .number()
      .int()
      .nonnegative()
      .nullable()
      .describe("When its last request ended; `null` when it has served none since it started."),
    requestRate: z.number().nonnegative().describe("Requests per second over the recent window."),
    isPinned: z.boolean().describe("Pinned replicas are never moved or evicted."),
    tolerations: z
      .array(tolerationSchema)
      .default([])
      .describe("The pod's tolerations; taints it does not tolerate keep it off a node."),
    nodeSelector: z
      .record(z.string(), z.string())
      .default({})
      .describe("The pod's nodeSelector; a destination node must carry every label."),
  })
  .describe("A model replica: one pod serving one model, possibly sharded over several GPUs.");

/** SLO state of one model, as the analyzer's burn-rate evaluation left it. */
export const modelSloStateSchema = z.strictObject({
  isBurningPage: z
    .boolean()
    .describe("True while a page-level (fast) burn-rate alert fires: the model's replicas are not moved."),
  isBurningTicket: z.boolean().default(false).describe("True while a ticket-level (slow) burn-rate alert fires."),
  errorBudgetRemainingRatio: z
    .number()
    .optional()
    .describe("Share of the period's error budget left (may go below 0); absent when there is no data."),
});

const snapshotObjectSchema = z.strictObject({
  version: z.literal(FLEET_SNAPSHOT_VERSION),
  takenAtMs: z.number().int().nonnegative().describe("When the snapshot was taken."),
  nodes: z.array(nodeSchema),
  replicas: z.array(replicaSchema),
  slo: z
    .record(z.string(), modelSloStateSchema)
    .default({})
    .describe("SLO state by model name; a model absent here is treated as not burning."),
  runtime: runtimeMetadataSchema
    .optional()
    .describe("Adapter and weights metadata from the runtimes, for idle and cold-storage recommendations."),
});

type SnapshotObject = z.infer<typeof snapshotObjectSchema>;

/** Cross-reference checks that a field-by-field schema cannot express; each issue carries its path. */
function checkReferences(snapshot: SnapshotObject, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string): void => ctx.addIssue({ code: "custom", path, message });
  const nodes = new Map<string, SnapshotObject["nodes"][number]>();
  const devices = new Map<string, string>();
  snapshot.nodes.forEach((node, n) => {
    if (nodes.has(node.name)) issue(["nodes", n, "name"], `duplicate node name ${node.name}`);
    nodes.set(node.name, node);
    node.gpus.forEach((gpu, g) => {
      const at = ["nodes", n, "gpus", g];
      if (gpu.memoryUsedBytes > gpu.memoryTotalBytes) issue([...at, "memoryUsedBytes"], "exceeds memoryTotalBytes");
      if (devices.has(gpu.uuid)) issue([...at, "uuid"], `duplicate GPU uuid ${gpu.uuid}`);
      devices.set(gpu.uuid, node.name);
      gpu.mig?.forEach((mig, m) => {
        if (mig.memoryUsedBytes > mig.memoryTotalBytes)
          issue([...at, "mig", m, "memoryUsedBytes"], "exceeds memoryTotalBytes");
        if (devices.has(mig.uuid)) issue([...at, "mig", m, "uuid"], `duplicate device uuid ${mig.uuid}`);
        devices.set(mig.uuid, node.name);
      });
    });
  });
  const ids = new Set<string>();
  snapshot.replicas.forEach((replica, r) => {
    const at = ["replicas", r];
    if (ids.has(replica.id)) issue([...at, "id"], `duplicate replica id ${replica.id}`);
    ids.add(replica.id);
    if (!nodes.has(replica.node)) issue([...at, "node"], `unknown node ${replica.node}`);
    if (replica.gpus.length !== replica.tensorParallel) {
      issue([...at, "gpus"], `holds ${replica.gpus.length} GPUs but tensorParallel is ${replica.tensorParallel}`);
    }
    const listed = new Set<string>();
    replica.gpus.forEach((uuid, g) => {
      // One tensor-parallel rank per GPU: a GPU listed twice would count its memory and compute twice.
      if (listed.has(uuid))
        issue([...at, "gpus", g], `GPU ${uuid} is listed twice; each tensor-parallel rank holds its own GPU`);
      listed.add(uuid);
      const holder = devices.get(uuid);
      if (holder === undefined) issue([...at, "gpus", g], `unknown GPU ${uuid}`);
      else if (holder !== replica.node)
        issue([...at, "gpus", g], `GPU ${uuid} is on node ${holder}, not ${replica.node}`);
    });
  });
}

/** The fleet snapshot schema (shape, ranges and cross-references). */
export const fleetSnapshotSchema = snapshotObjectSchema.superRefine(checkReferences);

export type FleetSnapshot = z.infer<typeof fleetSnapshotSchema>;
export type FleetNode = z.infer<typeof nodeSchema>;
export type FleetGpu = z.infer<typeof gpuSchema>;
export type MigDevice = z.infer<typeof migDeviceSchema>;

/** The compute load the planner assumes for a GPU: its utilization, or all of it when unknown (nothing is moved onto it, its replicas weigh a whole GPU). */
export function plannedUtilization(gpu: { readonly utilizationRatio: number | null }): number {
  return gpu.utilizationRatio ?? 1;
}
export type FleetReplica = z.infer<typeof replicaSchema>;
export type ModelSloState = z.infer<typeof modelSloStateSchema>;
export type Taint = z.infer<typeof taintSchema>;
export type Toleration = z.infer<typeof tolerationSchema>;
/** What a snapshot file may contain before defaults are applied. */
export type FleetSnapshotInput = z.input<typeof fleetSnapshotSchema>;

/**
 * Validates an untrusted snapshot (a parsed JSON file or API body). Throws one Error listing every
 * problem as `path: message` (paths like `replicas.3.gpus.1`); never returns a partial snapshot.
 */
export function parseFleetSnapshot(input: unknown, source = "fleet snapshot"): FleetSnapshot {
  const result = fleetSnapshotSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.length === 0 ? "(top level)" : issue.path.map(String).join(".");
    return `${path}: ${issue.message}`;
  });
  throw new Error(`${source} is invalid:\n  ${problems.join("\n  ")}`, { cause: result.error });
}

/**
 * The snapshot's JSON Schema (draft 2020-12), generated from the zod schema, describing what a file
 * may contain (fields with defaults are optional). Cross-reference checks are not expressible in
 * JSON Schema; parseFleetSnapshot applies them. Returns a fresh object on each call.
 */
export function fleetSnapshotJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(snapshotObjectSchema, { target: "draft-2020-12", io: "input" }) as Record<
    string,
    unknown
  >;
  return {
    ...schema,
    title: "inferwatch fleet snapshot",
    description:
      "GPU nodes, model replicas and per-model SLO state at one instant (inferwatch analyzer/fleet/snapshot.ts).",
  };
}
