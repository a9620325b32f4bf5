/**
 * Shared pieces of the OTLP receiver suites: a recording SpanConsumer, receiver configs, vLLM spans
 * as the OpenTelemetry SDK hands them to exporters (built from test/fixtures/spans.ts), a gzip bomb
 * built as a stream, and small readers of the response messages.
 */
import type { Attributes as OtelAttributes } from "@opentelemetry/api";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes, type Resource } from "@opentelemetry/resources";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { createGzip } from "node:zlib";
import { otlpConfigSchema, type OtlpConfig } from "../../../common/config/schema.js";
import {
  OtlpDecodeError,
  type AttributeFilter,
  type DecodedSpan,
  type DecodedTraces,
} from "../../../agent/receivers/otlp-model.js";
import { decodeOtlpProtobuf } from "../../../agent/receivers/otlp-protobuf-decoder.js";
import type { ConsumeResult, SpanConsumer } from "../../../agent/receivers/span-consumer.js";
import { readableSpan } from "../../fixtures/otlp-client.js";
import { runtimeResource, vllmRawSpan, type RawSpan } from "../../fixtures/spans.js";

/** The keys the receiver suites decode; everything else (the prompt included) must be skipped. */
export const ALLOWED_KEYS: ReadonlySet<string> = new Set([
  "gen_ai.latency.e2e",
  "gen_ai.usage.prompt_tokens",
  "service.name",
  "k8s.pod.name",
]);
export const allowListFilter: AttributeFilter = (key) => ALLOWED_KEYS.has(key);

/** Prompt text a vLLM span carries in the tests; it must never reach the consumer. */
export const PROMPT_TEXT = "PROMPT-SECRET summarise the attached quarterly report for the board";

/** A SpanConsumer that records what it was given; `failWith` makes consume() throw instead. */
export class RecordingConsumer implements SpanConsumer {
  readonly received: DecodedTraces[] = [];
  result: ConsumeResult = { rejectedSpans: 0 };
  failWith: Error | undefined;

  consume(traces: DecodedTraces): ConsumeResult {
    if (this.failWith) throw this.failWith;
    this.received.push(traces);
    return this.result;
  }

  /** Every span received, in order. */
  spans(): DecodedSpan[] {
    return this.received.flatMap((traces) => traces.resourceSpans.flatMap((resource) => resource.spans));
  }
}

/** A receiver config on loopback with OS-chosen ports; overrides use the config file's syntax. */
export function receiverConfig(overrides: Record<string, unknown> = {}): OtlpConfig {
  return otlpConfigSchema.parse({
    httpAddr: "127.0.0.1:0",
    grpcAddr: "127.0.0.1:0",
    maxBodyBytes: "1MiB",
    retryAfter: "2s",
    ...overrides,
  });
}

/**
 * The SDK Resource of a runtime's process. Share one between spans: the serializer groups spans
 * into ResourceSpans by Resource object, as one SDK process does.
 */
export function runtimeOtelResource(runtime: Parameters<typeof runtimeResource>[0]): Resource {
  return resourceFromAttributes(runtimeResource(runtime) as OtelAttributes);
}

/** A RawSpan as the SDK's ReadableSpan, under the given resource, from vLLM's instrumentation scope. */
export function toReadableSpan(raw: RawSpan, resource: Resource = runtimeOtelResource("vllm")): ReadableSpan {
  return readableSpan(raw, resource, { name: "vllm.llm_engine", version: "0.11.0" });
}

/** The reason the protobuf decoder gives for an undecodable body (what the receivers must answer with). */
export function decoderReason(body: Uint8Array): string {
  try {
    decodeOtlpProtobuf(body, allowListFilter);
  } catch (err) {
    if (err instanceof OtlpDecodeError) return err.message;
    throw err;
  }
  throw new Error("the body decodes; it is not a bad-input example");
}

/** `count` vLLM `llm_request` spans with distinct ids and the prompt attribute set. */
export function vllmSpans(count: number): ReadableSpan[] {
  const resource = runtimeOtelResource("vllm");
  return Array.from({ length: count }, (_, i) =>
    toReadableSpan(
      vllmRawSpan({
        traceId: (0x1000 + i).toString(16).padStart(32, "4"),
        spanId: (0x2000 + i).toString(16).padStart(16, "0"),
        attributes: { "gen_ai.prompt": PROMPT_TEXT, "gen_ai.usage.prompt_tokens": 100 + i },
      }),
      resource,
    ),
  );
}

/**
 * The OTLP/protobuf encoding of `spans` by the SDK's serializer, copied into its own Uint8Array
 * (protobufjs returns a view of a shared Buffer pool slab, whose slice() does not copy).
 */
export function protobufRequest(spans: ReadableSpan[]): Uint8Array {
  const bytes = ProtobufTraceSerializer.serializeRequest(spans);
  if (bytes === undefined) throw new Error("ProtobufTraceSerializer returned nothing");
  return Uint8Array.from(bytes);
}

/** gzip of `totalBytes` zero bytes, compressed chunk by chunk so the zeros never exist at once. */
export async function gzipBomb(totalBytes: number): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const output: Buffer[] = [];
  gzip.on("data", (chunk: Buffer) => output.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    gzip.on("end", resolve);
    gzip.on("error", reject);
  });
  const zeros = Buffer.alloc(1024 * 1024);
  for (let written = 0; written < totalBytes; written += zeros.length) {
    if (!gzip.write(zeros)) await new Promise((resolve) => gzip.once("drain", resolve));
  }
  gzip.end();
  await done;
  return Buffer.concat(output);
}

/** One protobuf field: a varint as a number, a length-delimited field as its bytes. */
export interface WireField {
  readonly field: number;
  readonly value: number | Uint8Array;
}

/**
 * Splits protobuf bytes into fields, independently of the receiver's encoder. Varint and
 * length-delimited fields only, which is all the response messages use.
 */
export function wireFields(bytes: Uint8Array): WireField[] {
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    for (let shift = 1; ; shift *= 128) {
      const byte = bytes[pos++];
      if (byte === undefined) throw new Error("truncated varint");
      value += (byte & 0x7f) * shift;
      if (byte < 0x80) return value;
    }
  };
  const fields: WireField[] = [];
  while (pos < bytes.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    if (tag % 8 === 0) {
      fields.push({ field, value: varint() });
    } else if (tag % 8 === 2) {
      const length = varint();
      if (pos + length > bytes.length) throw new Error("truncated field");
      fields.push({ field, value: bytes.subarray(pos, pos + length) });
      pos += length;
    } else {
      throw new Error(`unexpected wire type ${tag % 8}`);
    }
  }
  return fields;
}

/** A decoded google.rpc.Status (code = 1, message = 2, details = 3 as Any { type_url = 1, value = 2 }). */
export interface RpcStatus {
  readonly code: number;
  readonly message: string;
  readonly details: readonly { readonly typeUrl: string; readonly value: Uint8Array }[];
}

const text = (value: number | Uint8Array | undefined): string =>
  value instanceof Uint8Array ? Buffer.from(value).toString("utf8") : "";

export function decodeRpcStatus(bytes: Uint8Array): RpcStatus {
  const fields = wireFields(bytes);
  const code = fields.find((f) => f.field === 1)?.value;
  const details = fields
    .filter((f) => f.field === 3 && f.value instanceof Uint8Array)
    .map((f) => {
      const any = wireFields(f.value as Uint8Array);
      const value = any.find((a) => a.field === 2)?.value;
      return {
        typeUrl: text(any.find((a) => a.field === 1)?.value),
        value: value instanceof Uint8Array ? value : new Uint8Array(),
      };
    });
  return {
    code: typeof code === "number" ? code : 0,
    message: text(fields.find((f) => f.field === 2)?.value),
    details,
  };
}

/** The retry delay of a google.rpc.RetryInfo (retry_delay = 1, a Duration { seconds = 1, nanos = 2 }), in ms. */
export function retryInfoDelayMs(bytes: Uint8Array): number {
  const delay = wireFields(bytes).find((f) => f.field === 1)?.value;
  if (!(delay instanceof Uint8Array)) return 0;
  const duration = wireFields(delay);
  const seconds = duration.find((f) => f.field === 1)?.value;
  const nanos = duration.find((f) => f.field === 2)?.value;
  return (typeof seconds === "number" ? seconds * 1000 : 0) + (typeof nanos === "number" ? nanos / 1e6 : 0);
}

/** Reads an ExportTraceServiceResponse with the SDK's generated code; int64 is turned into a number. */
export function decodeExportResponse(bytes: Uint8Array): { rejectedSpans: number; errorMessage: string } | undefined {
  const response = ProtobufTraceSerializer.deserializeResponse(bytes);
  const partial = response.partialSuccess;
  if (partial === undefined || partial === null) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- protobufjs hands int64 over as a Long at run time, whatever the declared type says
  return { rejectedSpans: Number(partial.rejectedSpans ?? 0), errorMessage: partial.errorMessage ?? "" };
}
