import { stat } from "node:fs/promises";
import * as grpc from "@grpc/grpc-js";
import { wrapError } from "../../../common/errors.js";
import {
  decodeListPodResourcesResponse,
  encodeListPodResourcesRequest,
  LIST_POD_RESOURCES_PATH,
} from "./pod-resources-codec.js";
import type { PodResourcesEntry } from "./pod-resources-entry.js";
import { MIB } from "../../../common/units.js";

export type { ContainerDeviceEntry, ContainerResourcesEntry, PodResourcesEntry } from "./pod-resources-entry.js";

/**
 * The kubelet lists every pod on the node in one message; Kubernetes' own client raises gRPC's
 * 4 MiB default to 16 MiB for the same reason (`defaultPodResourcesMaxSize` in
 * k8s.io/kubernetes/pkg/kubelet/apis/podresources/client.go).
 */
const MAX_RECEIVE_BYTES = 16 * MIB;

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
  // A plain grpc-js client with a hand-made method (bytes in, decoded entries out): the schema is in
  // pod-resources-codec.ts, so neither @grpc/proto-loader nor protobufjs is loaded at run time.
  const client = new grpc.Client(`unix:${socketPath}`, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": MAX_RECEIVE_BYTES,
  });
  try {
    return await new Promise<PodResourcesEntry[]>((resolve, reject) => {
      client.makeUnaryRequest(
        LIST_POD_RESOURCES_PATH,
        encodeListPodResourcesRequest,
        decodeListPodResourcesResponse,
        undefined,
        { deadline: Date.now() + timeoutMs },
        (err, value) => {
          if (err) reject(err);
          else if (value === undefined) reject(new Error("no reply message"));
          else resolve(value);
        },
      );
    });
  } catch (err) {
    throw wrapError(`pod-resources: List on ${socketPath}`, err);
  } finally {
    client.close();
  }
}
