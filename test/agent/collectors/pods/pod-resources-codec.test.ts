/**
 * The hand-written pod-resources codec against the real schema: messages are encoded (and, as a
 * reference, decoded) by protobufjs through @grpc/proto-loader from podresources-v1.proto, the same
 * service definition the fake kubelet serves.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeListPodResourcesResponse,
  encodeListPodResourcesRequest,
  LIST_POD_RESOURCES_PATH,
  PodResourcesDecodeError,
} from "../../../../agent/collectors/pods/pod-resources-codec.js";
import type { PodResourcesEntry } from "../../../../agent/collectors/pods/pod-resources-client.js";
import { podResourcesService } from "../../../fixtures/fake-kubelet.js";

/** List as proto-loader defines it: protobufjs (de)serializers generated from the .proto. */
function listMethod() {
  const method = podResourcesService().service["List"];
  if (method === undefined) throw new Error("List missing from the service definition");
  return method;
}

/** Encodes a ListPodResourcesResponse (camelCase object, as proto-loader takes it) with protobufjs. */
function encodeReference(response: object): Buffer {
  return listMethod().responseSerialize(response);
}

/** protobufjs' decoding, cut down to the fields inferwatch reads. */
function decodeReference(bytes: Buffer): PodResourcesEntry[] {
  const decoded = listMethod().responseDeserialize(bytes) as {
    podResources: {
      name: string;
      namespace: string;
      containers: { name: string; devices: { resourceName: string; deviceIds: string[] }[] }[];
    }[];
  };
  return decoded.podResources.map((pod) => ({
    name: pod.name,
    namespace: pod.namespace,
    containers: pod.containers.map((container) => ({
      name: container.name,
      devices: container.devices.map((device) => ({ resourceName: device.resourceName, deviceIds: device.deviceIds })),
    })),
  }));
}

// A minimal protobuf encoder, for bytes protobufjs will not write (unknown fields, malformed input).
function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}
const tag = (field: number, wireType: number) => varint(field * 8 + wireType);
const len = (field: number, body: readonly number[]) => [...tag(field, 2), ...varint(body.length), ...body];
const str = (field: number, text: string) => len(field, [...Buffer.from(text, "utf8")]);
/** One unknown field of each wire type (varint, fixed64, length-delimited, fixed32), numbered from `base`. */
const unknownFields = (base: number) => [
  ...tag(base, 0),
  ...varint(2 ** 40),
  ...tag(base + 1, 1),
  1,
  2,
  3,
  4,
  5,
  6,
  7,
  8,
  ...len(base + 2, [0x0a, 0x01, 0x41]),
  ...tag(base + 3, 5),
  9,
  9,
  9,
  9,
];

const VLLM: PodResourcesEntry = {
  name: "vllm-7b-0",
  namespace: "llm",
  containers: [
    {
      name: "vllm",
      devices: [
        {
          resourceName: "nvidia.com/gpu",
          deviceIds: ["GPU-00000000-1111-2222-3333-444444444444", "GPU-00000001-1111-2222-3333-444444444444"],
        },
        { resourceName: "nvidia.com/mig-1g.10gb", deviceIds: ["MIG-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee::2"] },
      ],
    },
    { name: "sidecar", devices: [] },
  ],
};

describe("encodeListPodResourcesRequest", () => {
  it("is the zero-byte encoding protobufjs gives an empty ListPodResourcesRequest", () => {
    expect(encodeListPodResourcesRequest()).toEqual(listMethod().requestSerialize({}));
    expect(encodeListPodResourcesRequest()).toHaveLength(0);
  });

  it("names the method the service definition does", () => {
    expect(LIST_POD_RESOURCES_PATH).toBe(listMethod().path);
  });
});

describe("decodeListPodResourcesResponse", () => {
  it("decodes a reply protobufjs encoded, skipping the fields inferwatch does not read", () => {
    const bytes = encodeReference({
      podResources: [
        {
          ...VLLM,
          containers: VLLM.containers.map((container) => ({
            ...container,
            devices: container.devices.map((device) => ({ ...device, topology: { nodes: [{ ID: 0 }, { ID: 1 }] } })),
            cpuIds: [2, 3, 4],
            memory: [{ memoryType: "memory", size: 1024, topology: { nodes: [{ ID: 0 }] } }],
            dynamicResources: [
              {
                claimName: "gpu-claim",
                claimNamespace: "llm",
                claimResources: [
                  {
                    cdiDevices: [{ name: "nvidia.com/gpu=0" }],
                    driverName: "gpu.nvidia.com",
                    poolName: "node-1",
                    deviceName: "gpu-0",
                  },
                ],
              },
            ],
          })),
        },
        { name: "no-gpus", namespace: "default", containers: [{ name: "app", devices: [] }] },
      ],
    });
    expect(decodeListPodResourcesResponse(bytes)).toEqual([
      VLLM,
      { name: "no-gpus", namespace: "default", containers: [{ name: "app", devices: [] }] },
    ]);
  });

  it("decodes an empty reply (zero bytes) to no pods", () => {
    expect(encodeReference({ podResources: [] })).toHaveLength(0);
    expect(decodeListPodResourcesResponse(new Uint8Array(0))).toEqual([]);
  });

  it("gives fields proto3 leaves out their defaults", () => {
    const bytes = encodeReference({ podResources: [{ containers: [{ devices: [{}] }] }] });
    expect(decodeListPodResourcesResponse(bytes)).toEqual([
      { name: "", namespace: "", containers: [{ name: "", devices: [{ resourceName: "", deviceIds: [] }] }] },
    ]);
  });

  it("skips unknown fields of every wire type at every level, as protobufjs does", () => {
    const device = [
      ...str(1, "nvidia.com/gpu"),
      ...unknownFields(40),
      ...str(2, "GPU-a"),
      ...str(2, "GPU-b"),
      ...unknownFields(1000),
    ];
    const container = [...unknownFields(30), ...str(1, "vllm"), ...len(2, device), ...unknownFields(536870900)];
    const pod = [...str(1, "p"), ...unknownFields(20), ...str(2, "ns"), ...len(3, container)];
    const bytes = Buffer.from([...unknownFields(10), ...len(1, pod), ...unknownFields(100)]);
    const expected = [
      {
        name: "p",
        namespace: "ns",
        containers: [{ name: "vllm", devices: [{ resourceName: "nvidia.com/gpu", deviceIds: ["GPU-a", "GPU-b"] }] }],
      },
    ];
    expect(decodeReference(bytes)).toEqual(expected);
    expect(decodeListPodResourcesResponse(bytes)).toEqual(expected);
  });

  it("keeps the last value of a repeated singular field, as protobufjs does", () => {
    const bytes = Buffer.from(len(1, [...str(1, "first"), ...str(2, "ns"), ...str(1, "second")]));
    expect(decodeListPodResourcesResponse(bytes)).toEqual(decodeReference(bytes));
    expect(decodeListPodResourcesResponse(bytes)[0]?.name).toBe("second");
  });

  it("decodes whatever protobufjs encodes from the schema to the same entries", () => {
    const text = fc.string({ unit: "binary", maxLength: 20 });
    const entry = fc.record({
      name: text,
      namespace: text,
      containers: fc.array(
        fc.record({
          name: text,
          devices: fc.array(fc.record({ resourceName: text, deviceIds: fc.array(text, { maxLength: 4 }) }), {
            maxLength: 3,
          }),
        }),
        { maxLength: 3 },
      ),
    });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 5 }), (pods) => {
        expect(decodeListPodResourcesResponse(encodeReference({ podResources: pods }))).toEqual(pods);
      }),
      { numRuns: 300 },
    );
  });

  it.each([
    ["a truncated varint", [0x0a, 0x80]],
    ["a length past the end of the message", [0x0a, 0x05, 0x0a, 0x01]],
    ["a nested length past the end of its parent", len(1, [0x0a, 0x09, 0x41])],
    ["field number 0", [0x02, 0x00]],
    ["a group (wire type 3)", [0x0b]],
    ["wire type 6", [0x0e]],
    ["a varint longer than 10 bytes", [0x08, ...Array<number>(10).fill(0xff), 0x01]],
    ["a truncated fixed64", [...tag(9, 1), 1, 2, 3]],
    ["pod_resources with the varint wire type", [0x08, 0x01]],
    ["PodResources.name with the fixed32 wire type", len(1, [0x0d, 1, 2, 3, 4])],
    ["ContainerDevices.device_ids with the varint wire type", len(1, len(3, len(2, [0x10, 0x01])))],
  ])("throws PodResourcesDecodeError on %s", (_case, bytes) => {
    const decode = () => decodeListPodResourcesResponse(Uint8Array.from(bytes));
    expect(decode).toThrow(PodResourcesDecodeError);
    expect(decode).toThrow(/^malformed ListPodResourcesResponse: /);
  });

  it("either decodes or throws PodResourcesDecodeError on a valid reply cut at any byte", () => {
    const bytes = encodeReference({ podResources: [VLLM, VLLM] });
    let errors = 0;
    for (let end = 0; end < bytes.length; end++) {
      try {
        decodeListPodResourcesResponse(bytes.subarray(0, end));
      } catch (err) {
        expect(err).toBeInstanceOf(PodResourcesDecodeError);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(bytes.length / 2);
  });

  it("either decodes or throws PodResourcesDecodeError on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeListPodResourcesResponse(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(PodResourcesDecodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
