/**
 * OTLP trace fixtures for the decoder tests and the decode benchmark. Spans are ReadableSpan objects
 * encoded by the official serializers of @opentelemetry/otlp-transformer (protobufjs code generated
 * from opentelemetry-proto for protobuf, JSON.stringify of the OTLP/JSON mapping for JSON), so the
 * decoders are checked against an independent encoder, not against their own idea of the wire format.
 */
import { createRequire } from "node:module";
import {
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Attributes,
  type HrTime,
  type SpanContext,
} from "@opentelemetry/api";
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes, type Resource } from "@opentelemetry/resources";
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace-base";
import type { AttributeFilter } from "../../../agent/receivers/otlp-model.js";

/** The allow-list the agent uses for vLLM spans: the gen_ai.* keys it reads plus pod identity. */
export const VLLM_ALLOWED_KEYS: ReadonlySet<string> = new Set([
  "gen_ai.latency.time_in_queue",
  "gen_ai.latency.time_to_first_token",
  "gen_ai.latency.e2e",
  "gen_ai.latency.time_in_model_prefill",
  "gen_ai.latency.time_in_model_decode",
  "gen_ai.latency.time_in_model_inference",
  "gen_ai.usage.prompt_tokens",
  "gen_ai.usage.completion_tokens",
  "gen_ai.request.id",
  "gen_ai.request.max_tokens",
  "gen_ai.response.finish_reasons",
  "service.name",
  "k8s.pod.name",
  "k8s.namespace.name",
]);

export const vllmFilter: AttributeFilter = (key) => VLLM_ALLOWED_KEYS.has(key);

/** Prompt-like text of `bytes` ASCII bytes, recognisable by its marker. */
export function promptText(bytes: number): string {
  const sentence = "PROMPT-SECRET the user asked about quarterly revenue figures. ";
  return sentence.repeat(Math.ceil(bytes / sentence.length)).slice(0, bytes);
}

/** A pod's vLLM resource, as vLLM's init_tracer plus OTEL_RESOURCE_ATTRIBUTES would build it. */
export function vllmResource(pod = "vllm-0"): Resource {
  return resourceFromAttributes({
    "service.name": "vllm-server",
    "k8s.pod.name": pod,
    "k8s.namespace.name": "inference",
    "vllm.process_id": 4242,
  });
}

/** The resource of spans that name none: one object, so the serializer groups them together. */
const DEFAULT_RESOURCE = vllmResource();

export interface SpanSpec {
  readonly name?: string;
  readonly kind?: SpanKind;
  readonly traceId?: string;
  readonly spanId?: string;
  readonly parentSpanId?: string;
  readonly start?: HrTime;
  readonly end?: HrTime;
  readonly attributes?: Attributes;
  readonly events?: TimedEvent[];
  readonly status?: { code: SpanStatusCode; message?: string };
  readonly resource?: Resource;
  readonly scope?: string;
}

/** A finished ReadableSpan as the SDK hands it to exporters. */
export function readableSpan(spec: SpanSpec = {}): ReadableSpan {
  const context: SpanContext = {
    traceId: spec.traceId ?? "5b8efff798038103d269b633813fc60c",
    spanId: spec.spanId ?? "eee19b7ec3c1b174",
    traceFlags: TraceFlags.SAMPLED,
  };
  const start = spec.start ?? [1_700_000_000, 123_456_789];
  const end = spec.end ?? [1_700_000_002, 500_000_000];
  return {
    name: spec.name ?? "llm_request",
    kind: spec.kind ?? SpanKind.SERVER,
    spanContext: () => context,
    ...(spec.parentSpanId === undefined
      ? {}
      : {
          parentSpanContext: {
            traceId: context.traceId,
            spanId: spec.parentSpanId,
            traceFlags: TraceFlags.SAMPLED,
            isRemote: true,
          },
        }),
    startTime: start,
    endTime: end,
    status: spec.status ?? { code: SpanStatusCode.UNSET },
    attributes: spec.attributes ?? {},
    links: [],
    events: spec.events ?? [],
    duration: [end[0] - start[0], end[1] - start[1]],
    ended: true,
    resource: spec.resource ?? DEFAULT_RESOURCE,
    instrumentationScope: { name: spec.scope ?? "vllm.llm_engine", version: "0.11.0" },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/** The attributes vLLM's V1 output processor sets on `llm_request`, plus a prompt of `promptBytes`. */
export function vllmAttributes(i = 0, promptBytes = 2048): Attributes {
  return {
    "gen_ai.request.id": `cmpl-${i.toString(16).padStart(8, "0")}`,
    "gen_ai.prompt": promptText(promptBytes),
    "gen_ai.usage.prompt_tokens": 512 + i,
    "gen_ai.usage.completion_tokens": 128,
    "gen_ai.request.max_tokens": 256,
    "gen_ai.response.finish_reasons": '["stop"]',
    "gen_ai.latency.time_in_queue": 0.0125,
    "gen_ai.latency.time_to_first_token": 0.25,
    "gen_ai.latency.e2e": 2.376543211,
    "gen_ai.latency.time_in_model_prefill": 0.2375,
    "gen_ai.latency.time_in_model_decode": 2.1,
    "gen_ai.latency.time_in_model_inference": 2.3375,
  };
}

/** `count` vLLM llm_request spans of one pod, each with its own trace and span id. */
export function vllmBatch(count: number, promptBytes = 2048): ReadableSpan[] {
  const resource = vllmResource();
  return Array.from({ length: count }, (_, i) =>
    readableSpan({
      traceId: (0x10000000 + i).toString(16).padStart(32, "a"),
      spanId: (0x20000000 + i).toString(16).padStart(16, "b"),
      start: [1_700_000_000 + i, 123_456_789],
      end: [1_700_000_002 + i, 500_000_000],
      attributes: vllmAttributes(i, promptBytes),
      resource,
    }),
  );
}

/** The official OTLP/protobuf encoding of `spans`. */
export function toProtobuf(spans: ReadableSpan[]): Uint8Array {
  const bytes = ProtobufTraceSerializer.serializeRequest(spans);
  if (bytes === undefined) throw new Error("ProtobufTraceSerializer returned nothing");
  return bytes;
}

/** The official OTLP/JSON encoding of `spans`, as text. */
export function toJsonText(spans: ReadableSpan[]): string {
  const bytes = JsonTraceSerializer.serializeRequest(spans);
  if (bytes === undefined) throw new Error("JsonTraceSerializer returned nothing");
  return new TextDecoder().decode(bytes);
}

/** Nanoseconds since the epoch of an HrTime, in milliseconds (what the decoders return). */
export function hrTimeToMs(time: HrTime): number {
  return time[0] * 1e3 + time[1] / 1e6;
}

/** An encoder the protobufjs generated module exposes for one message type. */
export interface GeneratedMessageType {
  encode(message: object): { finish(): Uint8Array };
  decode(bytes: Uint8Array): unknown;
}

/**
 * The protobufjs code generated from opentelemetry-proto that @opentelemetry/otlp-transformer ships
 * (its own .d.ts types the module only as a protobufjs Root, so the used part is typed here).
 */
export interface GeneratedOtlpRoot {
  readonly opentelemetry: {
    readonly proto: {
      readonly collector: {
        readonly trace: { readonly v1: { readonly ExportTraceServiceRequest: GeneratedMessageType } };
      };
      readonly trace: { readonly v1: { readonly Span: GeneratedMessageType; readonly Status: GeneratedMessageType } };
      readonly common: {
        readonly v1: { readonly KeyValue: GeneratedMessageType; readonly AnyValue: GeneratedMessageType };
      };
    };
  };
}

const require = createRequire(import.meta.url);

/** Loads the generated module (CommonJS, assigned to module.exports, so it is required, not imported). */
export function generatedOtlpRoot(): GeneratedOtlpRoot {
  return require("@opentelemetry/otlp-transformer/build/src/generated/root.js") as GeneratedOtlpRoot;
}

/** Hand-written protobuf wire fragments, for payloads no encoder produces (unknown fields, corruption). */
export const wire = {
  varint(value: number): number[] {
    const out: number[] = [];
    let rest = value;
    while (rest >= 0x80) {
      out.push((rest % 0x80) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    out.push(rest);
    return out;
  },
  tag(field: number, wireType: number): number[] {
    return wire.varint(field * 8 + wireType);
  },
  /** A length-delimited field. */
  len(field: number, payload: Uint8Array | readonly number[]): Uint8Array {
    return concat(wire.tag(field, 2), wire.varint(payload.length), payload);
  },
  string(field: number, text: string): Uint8Array {
    return wire.len(field, new TextEncoder().encode(text));
  },
  /** One unknown field of each wire type (varint, fixed64, length-delimited, fixed32), high field numbers. */
  unknownFields(): Uint8Array {
    return concat(
      wire.tag(1000, 0),
      wire.varint(2 ** 50),
      wire.tag(1001, 1),
      [1, 2, 3, 4, 5, 6, 7, 8],
      // Its payload looks like fields (a string_value "PROMPT-SECRET") but must be skipped unread.
      wire.len(1002, wire.string(1, "PROMPT-SECRET")),
      wire.tag(1003, 5),
      [9, 9, 9, 9],
    );
  },
};

/** Concatenation of byte fragments. */
export function concat(...parts: (Uint8Array | readonly number[])[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * An AnyValue holding `depth` nested ArrayValues around a string, built bottom-up into one buffer
 * (concatenating level by level would copy quadratically).
 */
export function nestedArrayValue(depth: number): Uint8Array {
  const sizes: number[] = [3]; // innermost AnyValue: string_value "x" = 0a 01 78
  for (let level = 1; level <= depth; level++) {
    const inner = sizes[level - 1] ?? 0;
    const arrayValue = 1 + wire.varint(inner).length + inner; // ArrayValue.values = 1
    sizes.push(1 + wire.varint(arrayValue).length + arrayValue); // AnyValue.array_value = 5
  }
  const out = new Uint8Array(sizes[depth] ?? 0);
  let at = 0;
  const put = (bytes: readonly number[]): void => {
    out.set(bytes, at);
    at += bytes.length;
  };
  for (let level = depth; level >= 1; level--) {
    const inner = sizes[level - 1] ?? 0;
    put([0x2a, ...wire.varint(1 + wire.varint(inner).length + inner), 0x0a, ...wire.varint(inner)]);
  }
  put([0x0a, 0x01, 0x78]);
  return out;
}

/** Text of `traces` with Maps spelled out, to search the whole output for a string. */
export function dumpTraces(traces: unknown): string {
  return JSON.stringify(traces, (_key, value: unknown) => (value instanceof Map ? Object.fromEntries(value) : value));
}
