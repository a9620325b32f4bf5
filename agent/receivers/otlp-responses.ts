/**
 * What an OTLP export request ends in, shared by the HTTP and gRPC receivers: running the decoder
 * and the next stage (exportTraces), and the few response messages, encoded by hand.
 *
 * Messages (field numbers from the .proto files named):
 * - ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1; }
 *   ExportTracePartialSuccess { int64 rejected_spans = 1; string error_message = 2; }
 *   (opentelemetry/proto/collector/trace/v1/trace_service.proto)
 * - google.rpc.Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
 *   (googleapis google/rpc/status.proto); Any { string type_url = 1; bytes value = 2; }
 * - google.rpc.RetryInfo { google.protobuf.Duration retry_delay = 1; } (google/rpc/error_details.proto);
 *   Duration { int64 seconds = 1; int32 nanos = 2; }
 * JSON forms follow the protobuf JSON mapping OTLP/JSON uses: lowerCamelCase keys, int64 as a decimal
 * string, default values left out (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding).
 */
import type { AddressInfo } from "node:net";
import type { OtlpConfig } from "../../common/config/schema.js";
import { errorMessage } from "../../common/errors.js";
import type { Logger } from "../../common/log.js";
import type { Refusals } from "../../common/auth/refusals.js";
import { WireWriter } from "../../common/protobuf/writer.js";
import type { Admission } from "./admission.js";
import { OtlpDecodeError, type AttributeFilter, type DecodeLimits, type DecodedTraces } from "./otlp-model.js";
import type { ConsumeResult, SpanConsumer } from "./span-consumer.js";

/** What both OTLP receivers are started with. */
export interface OtlpReceiverOptions {
  readonly config: OtlpConfig;
  /** Attribute keys decoded; every other attribute is skipped unread. */
  readonly filter: AttributeFilter;
  readonly consumer: SpanConsumer;
  readonly log: Logger;
  /** Shared by both receivers, so together they hold at most config.maxInflightBytes. */
  readonly admission: Admission;
  /** Decoder limits; DEFAULT_DECODE_LIMITS when absent. */
  readonly limits?: DecodeLimits;
  /** Where refused requests are counted (the agent's, for its /metrics); a receiver of its own when absent. */
  readonly refusals?: Refusals;
}

/** A listening receiver. close() is idempotent and stops accepting at once. */
export interface RunningReceiver {
  /** The bound address (the real port when 0 was asked for). */
  readonly address: AddressInfo;
  close(): Promise<void>;
}

/** google.rpc.Code values the receivers answer with (google/rpc/code.proto). */
export const RpcCode = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;
export type RpcCode = (typeof RpcCode)[keyof typeof RpcCode];

/**
 * Thrown by a SpanConsumer that cannot take spans right now (its queue is full, it is shutting
 * down). Receivers answer 503 / UNAVAILABLE with a retry delay, so the sender retries later; any
 * other error from consume() is a bug and gets 500 / INTERNAL, which senders do not retry.
 */
export class PipelineUnavailableError extends Error {
  override readonly name = "PipelineUnavailableError";
}

/** Whether `err` is a {@link PipelineUnavailableError}, also one from another copy of this module (matched by name). */
export function isPipelineUnavailable(err: unknown): err is Error {
  return err instanceof PipelineUnavailableError || (err instanceof Error && err.name === "PipelineUnavailableError");
}

/** OTLP partial_success: spans of an accepted request that were dropped, and why. */
export interface PartialSuccess {
  readonly rejectedSpans: number;
  readonly errorMessage: string;
}

/** How one export request ended, before it is put in HTTP or gRPC terms. */
export type ExportOutcome =
  | { readonly kind: "accepted"; readonly partialSuccess?: PartialSuccess }
  /** The body could not be decoded: 400 / INVALID_ARGUMENT, never retried. */
  | { readonly kind: "invalid"; readonly message: string }
  /** The pipeline refused for now: 503 / UNAVAILABLE with a retry delay. */
  | { readonly kind: "unavailable"; readonly message: string }
  /** The pipeline failed unexpectedly: 500 / INTERNAL. */
  | { readonly kind: "failed"; readonly message: string };

/**
 * Decodes one request body with `decode` and hands the spans, with the sender's `peer` address, to `consumer`. Never throws: a decoder
 * error of any kind is an invalid body (hostile input must not turn into a 5xx), and consumer errors
 * are classified as described on {@link PipelineUnavailableError}.
 */
export function exportTraces(
  decode: () => DecodedTraces,
  consumer: SpanConsumer,
  log: Logger,
  peer?: string,
): ExportOutcome {
  let traces: DecodedTraces;
  try {
    traces = decode();
  } catch (err) {
    if (!(err instanceof OtlpDecodeError)) log.warn({ err: errorMessage(err) }, "decoder failed on a request body");
    const message = err instanceof OtlpDecodeError ? err.message : `undecodable body: ${errorMessage(err)}`;
    log.debug({ reason: message }, "refused an undecodable OTLP request");
    return { kind: "invalid", message };
  }
  let consumed: ConsumeResult;
  try {
    consumed = consumer.consume(traces, peer);
  } catch (err) {
    if (isPipelineUnavailable(err)) return { kind: "unavailable", message: err.message };
    log.error({ err: errorMessage(err) }, "span consumer failed");
    return { kind: "failed", message: "internal error while processing spans" };
  }
  const rejectedSpans = traces.rejectedSpans + consumed.rejectedSpans;
  if (rejectedSpans === 0) return { kind: "accepted" };
  const reasons = [
    traces.rejectedSpans > 0 ? traces.rejectReason : undefined,
    consumed.rejectedSpans > 0 ? consumed.message : undefined,
  ];
  const errorMessageText = reasons
    .filter((reason): reason is string => reason !== undefined && reason !== "")
    .join("; ");
  return {
    kind: "accepted",
    partialSuccess: { rejectedSpans, errorMessage: errorMessageText || `${rejectedSpans} spans rejected` },
  };
}

/** Whole seconds for a Retry-After header: at least 1, rounded up. */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}

/** A google.protobuf.Any. */
export interface AnyMessage {
  readonly typeUrl: string;
  readonly value: Uint8Array;
}

/** ExportTraceServiceResponse bytes: empty when everything was accepted (all fields default). */
export function encodeExportResponseProtobuf(partialSuccess?: PartialSuccess): Buffer {
  if (partialSuccess === undefined) return Buffer.alloc(0);
  const partial = new WireWriter();
  if (partialSuccess.rejectedSpans > 0) partial.varintField(1, partialSuccess.rejectedSpans);
  if (partialSuccess.errorMessage !== "") partial.stringField(2, partialSuccess.errorMessage);
  return new WireWriter().bytesField(1, partial.finish()).finish();
}

/** ExportTraceServiceResponse in OTLP/JSON: `{}` when everything was accepted. */
export function encodeExportResponseJson(partialSuccess?: PartialSuccess): string {
  if (partialSuccess === undefined) return "{}";
  const partial: Record<string, string> = {};
  if (partialSuccess.rejectedSpans > 0) partial["rejectedSpans"] = String(partialSuccess.rejectedSpans);
  if (partialSuccess.errorMessage !== "") partial["errorMessage"] = partialSuccess.errorMessage;
  return JSON.stringify({ partialSuccess: partial });
}

/** google.rpc.Status bytes. */
export function encodeStatusProtobuf(code: RpcCode, message: string, details: readonly AnyMessage[] = []): Buffer {
  const writer = new WireWriter();
  if (code !== RpcCode.OK) writer.varintField(1, code);
  if (message !== "") writer.stringField(2, message);
  for (const detail of details)
    writer.bytesField(3, new WireWriter().stringField(1, detail.typeUrl).bytesField(2, detail.value).finish());
  return writer.finish();
}

/** google.rpc.Status in JSON, as OTLP/HTTP error bodies of JSON requests carry it. */
export function encodeStatusJson(code: RpcCode, message: string): string {
  return JSON.stringify({ code, message });
}

/** A google.rpc.RetryInfo asking the sender to wait `delayMs`, packed in an Any for Status.details. */
export function retryInfoDetail(delayMs: number): AnyMessage {
  const totalMs = Math.max(0, Math.round(delayMs));
  const duration = new WireWriter();
  const seconds = Math.floor(totalMs / 1000);
  const nanos = (totalMs % 1000) * 1_000_000;
  if (seconds > 0) duration.varintField(1, seconds);
  if (nanos > 0) duration.varintField(2, nanos);
  return {
    typeUrl: "type.googleapis.com/google.rpc.RetryInfo",
    value: new WireWriter().bytesField(1, duration.finish()).finish(),
  };
}
