/**
 * Hand-written protobuf codec for the one kubelet pod-resources call inferwatch makes,
 * `/v1.PodResourcesLister/List` (schema: podresources-v1.proto next to this file). It replaces
 * @grpc/proto-loader, which would load protobufjs and parse the .proto at run time, costing the
 * agent several MiB of resident memory for one small message type.
 *
 * Only the fields inferwatch reads are decoded; every other field, known (cpu_ids, memory,
 * dynamic_resources, topology) or unknown (added by a newer kubelet), is skipped by wire type, as
 * protobuf requires. Malformed input throws PodResourcesDecodeError naming the message and byte.
 */
import { ProtobufDecodeError, WIRE_LEN, WireReader } from "../../../common/protobuf/reader.js";
import type { ContainerDeviceEntry, ContainerResourcesEntry, PodResourcesEntry } from "./pod-resources-entry.js";

/** The full method name of List. */
export const LIST_POD_RESOURCES_PATH = "/v1.PodResourcesLister/List";

/** A ListPodResourcesResponse that does not decode. */
export class PodResourcesDecodeError extends ProtobufDecodeError {}

/** ListPodResourcesRequest has no fields, so its encoding is zero bytes. */
export function encodeListPodResourcesRequest(): Buffer {
  return Buffer.alloc(0);
}

/** Strings are kept whole, as protobufjs kept them; the client's receive limit bounds the message. */
const WHOLE = Number.POSITIVE_INFINITY;

/**
 * Decodes ListPodResourcesResponse bytes into the entries inferwatch uses. Throws
 * PodResourcesDecodeError on malformed input (truncated fields, lengths past their message, invalid
 * wire types, or a known field with the wrong wire type).
 */
export function decodeListPodResourcesResponse(bytes: Uint8Array): PodResourcesEntry[] {
  const r = new WireReader(bytes, PodResourcesDecodeError);
  const pods: PodResourcesEntry[] = [];
  try {
    while (r.more()) {
      const tag = r.tag();
      if (tag >>> 3 === 1) {
        r.expect(tag & 7, WIRE_LEN, "ListPodResourcesResponse", "pod_resources");
        pods.push(readPodResources(r));
      } else r.skip(tag & 7);
    }
  } catch (err) {
    if (err instanceof PodResourcesDecodeError)
      throw new PodResourcesDecodeError(`malformed ListPodResourcesResponse: ${err.message}`, { cause: err });
    throw err;
  }
  return pods;
}

/** PodResources { string name = 1; string namespace = 2; repeated ContainerResources containers = 3; } */
function readPodResources(r: WireReader): PodResourcesEntry {
  const outer = r.enter();
  let name = "";
  let namespace = "";
  const containers: ContainerResourcesEntry[] = [];
  while (r.more()) {
    const tag = r.tag();
    switch (tag >>> 3) {
      case 1:
        r.expect(tag & 7, WIRE_LEN, "PodResources", "name");
        name = r.string(WHOLE);
        break;
      case 2:
        r.expect(tag & 7, WIRE_LEN, "PodResources", "namespace");
        namespace = r.string(WHOLE);
        break;
      case 3:
        r.expect(tag & 7, WIRE_LEN, "PodResources", "containers");
        containers.push(readContainerResources(r));
        break;
      default:
        r.skip(tag & 7);
    }
  }
  r.limit = outer;
  return { name, namespace, containers };
}

/** ContainerResources { string name = 1; repeated ContainerDevices devices = 2; (3 cpu_ids, 4 memory, 5 dynamic_resources skipped) } */
function readContainerResources(r: WireReader): ContainerResourcesEntry {
  const outer = r.enter();
  let name = "";
  const devices: ContainerDeviceEntry[] = [];
  while (r.more()) {
    const tag = r.tag();
    switch (tag >>> 3) {
      case 1:
        r.expect(tag & 7, WIRE_LEN, "ContainerResources", "name");
        name = r.string(WHOLE);
        break;
      case 2:
        r.expect(tag & 7, WIRE_LEN, "ContainerResources", "devices");
        devices.push(readContainerDevices(r));
        break;
      default:
        r.skip(tag & 7);
    }
  }
  r.limit = outer;
  return { name, devices };
}

/** ContainerDevices { string resource_name = 1; repeated string device_ids = 2; (3 topology skipped) } */
function readContainerDevices(r: WireReader): ContainerDeviceEntry {
  const outer = r.enter();
  let resourceName = "";
  const deviceIds: string[] = [];
  while (r.more()) {
    const tag = r.tag();
    switch (tag >>> 3) {
      case 1:
        r.expect(tag & 7, WIRE_LEN, "ContainerDevices", "resource_name");
        resourceName = r.string(WHOLE);
        break;
      case 2:
        r.expect(tag & 7, WIRE_LEN, "ContainerDevices", "device_ids");
        deviceIds.push(r.string(WHOLE));
        break;
      default:
        r.skip(tag & 7);
    }
  }
  r.limit = outer;
  return { resourceName, deviceIds };
}
