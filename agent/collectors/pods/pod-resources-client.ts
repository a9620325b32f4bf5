import { stat } from "node:fs/promises";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { z } from "zod";
import { wrapError } from "../../../common/errors.js";
import { projectPath } from "../../../common/paths.js";

/** Device-plugin devices of one extended resource held by a container. */
export interface ContainerDeviceEntry {
  readonly resourceName: string;
  /** As the device plugin reports them: `GPU-<uuid>`, `MIG-<uuid>`, `nvidia0`, possibly with `::N`. */
  readonly deviceIds: readonly string[];
}

export interface ContainerResourcesEntry {
  readonly name: string;
  readonly devices: readonly ContainerDeviceEntry[];
}

/** One pod as the kubelet pod-resources API lists it (plain data, safe to keep). */
export interface PodResourcesEntry {
  readonly name: string;
  readonly namespace: string;
  readonly containers: readonly ContainerResourcesEntry[];
}

/** Where the .proto lives inside the repository (tsc does not copy it into dist/). */
const PROTO_RELATIVE_PATH = join("agent", "collectors", "pods", "podresources-v1.proto");

/**
 * The kubelet lists every pod on the node in one message; Kubernetes' own client raises gRPC's
 * 4 MiB default to 16 MiB for the same reason (`defaultPodResourcesMaxSize` in
 * k8s.io/kubernetes/pkg/kubelet/apis/podresources/client.go).
 */
const MAX_RECEIVE_BYTES = 16 * 1024 * 1024;

/** Absolute path of podresources-v1.proto, from the sources and from dist/ alike. */
export function podResourcesProtoPath(): string {
  return projectPath(PROTO_RELATIVE_PATH);
}

let serviceCache: grpc.ServiceClientConstructor | undefined;

/**
 * The `v1.PodResourcesLister` client constructor, loaded once from the .proto. Its `.service`
 * is the service definition a server (such as a test's fake kubelet) registers.
 */
export function podResourcesService(): grpc.ServiceClientConstructor {
  if (serviceCache !== undefined) return serviceCache;
  const definition = protoLoader.loadSync(podResourcesProtoPath(), {
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    arrays: true,
  });
  const v1 = grpc.loadPackageDefinition(definition)["v1"] as grpc.GrpcObject | undefined;
  const service = v1?.["PodResourcesLister"];
  if (typeof service !== "function") throw new Error("pod-resources: v1.PodResourcesLister missing from the .proto");
  serviceCache = service;
  return service;
}

/** The decoded List response; only what inferwatch reads, the rest is dropped. */
const listResponseSchema = z.object({
  podResources: z.array(
    z.object({
      name: z.string(),
      namespace: z.string(),
      containers: z.array(
        z.object({
          name: z.string(),
          devices: z.array(z.object({ resourceName: z.string(), deviceIds: z.array(z.string()) })),
        }),
      ),
    }),
  ),
});

/**
 * Calls `/v1.PodResourcesLister/List` on the kubelet socket at `socketPath` with a deadline of
 * `timeoutMs`. Dials a fresh connection per call and closes it, so a kubelet restart (which
 * recreates the socket) needs nothing special. Rejects with an Error carrying the cause when the
 * socket is missing, the call fails or times out, or the reply does not decode.
 */
export async function listPodResources(socketPath: string, timeoutMs: number): Promise<PodResourcesEntry[]> {
  try {
    await stat(socketPath);
  } catch (err) {
    throw wrapError(`pod-resources: socket ${socketPath}`, err);
  }
  const Client = podResourcesService();
  const client = new Client(`unix:${socketPath}`, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": MAX_RECEIVE_BYTES,
  });
  try {
    const reply = await new Promise<unknown>((resolve, reject) => {
      const list = client["List"] as (
        request: object,
        options: grpc.CallOptions,
        callback: (err: grpc.ServiceError | null, reply?: unknown) => void,
      ) => grpc.ClientUnaryCall;
      list.call(client, {}, { deadline: Date.now() + timeoutMs }, (err, value) => {
        if (err) reject(err);
        else resolve(value);
      });
    });
    const parsed = listResponseSchema.safeParse(reply);
    if (!parsed.success) throw new Error(`unexpected reply: ${parsed.error.message}`);
    return parsed.data.podResources;
  } catch (err) {
    throw wrapError(`pod-resources: List on ${socketPath}`, err);
  } finally {
    client.close();
  }
}
