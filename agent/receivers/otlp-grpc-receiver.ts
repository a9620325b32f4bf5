/**
 * OTLP/gRPC trace receiver: the unary method
 * `/opentelemetry.proto.collector.trace.v1.TraceService/Export` on @grpc/grpc-js, registered from a
 * hand-written service definition (no proto-loader): the request message arrives as raw bytes and
 * goes to the project's own protobuf decoder; the response is encoded by hand.
 *
 * Bounds: grpc-js refuses a message whose frame is longer than maxReceiveMessageLength
 * (= config.maxBodyBytes) and stops inflating a `grpc-encoding: gzip`/`deflate` message once its
 * output passes the same length, both with RESOURCE_EXHAUSTED (grpc-js server-interceptors.js,
 * decompressMessage; stream-decoder.js). The whole message is then in memory before the handler runs,
 * so admission here bounds decoding, not receiving; HTTP/2 flow control and the stream limit below
 * bound what is being received.
 *
 * Status codes follow the OTLP/gRPC rules (https://opentelemetry.io/docs/specs/otlp/#otlpgrpc-response):
 * INVALID_ARGUMENT for an undecodable message (not retried), RESOURCE_EXHAUSTED when admission
 * refuses and UNAVAILABLE when the pipeline does, both with a google.rpc.RetryInfo in
 * `grpc-status-details-bin` so senders retry after config.retryAfter.
 */
import { Metadata, Server, ServerCredentials, status as GrpcStatus, type ServerErrorResponse, type ServerUnaryCall, type ServiceDefinition, type sendUnaryData } from "@grpc/grpc-js";
import type { AddressInfo } from "node:net";
import type { IngestSecurity } from "../../common/auth/ingest-security.js";
import { errorMessage } from "../../common/errors.js";
import { AdmissionLease } from "./admission.js";
import { DEFAULT_DECODE_LIMITS } from "./otlp-model.js";
import { decodeOtlpProtobuf } from "./otlp-protobuf-decoder.js";
import {
  encodeExportResponseProtobuf,
  encodeStatusProtobuf,
  exportTraces,
  retryInfoDetail,
  type OtlpReceiverOptions,
  type PartialSuccess,
  type RpcCode,
  type RunningReceiver,
} from "./otlp-responses.js";

/** The full method name of OTLP trace export (opentelemetry/proto/collector/trace/v1/trace_service.proto). */
export const OTLP_TRACE_EXPORT_PATH = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/** What the Export handler answers; encoded to ExportTraceServiceResponse bytes by the definition. */
export interface ExportTraceResponse {
  readonly partialSuccess?: PartialSuccess;
}

/**
 * The TraceService definition. Requests pass through as bytes in both directions (the server
 * decodes them itself); responses are encoded by responseSerialize. The client half
 * (requestSerialize, responseDeserialize) passes raw bytes, for raw clients in tests and tools.
 */
export const TRACE_SERVICE_DEFINITION = {
  Export: {
    path: OTLP_TRACE_EXPORT_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (request: Buffer): Buffer => request,
    requestDeserialize: (bytes: Buffer): Buffer => bytes,
    responseSerialize: (response: ExportTraceResponse): Buffer => encodeExportResponseProtobuf(response.partialSuccess),
    responseDeserialize: (bytes: Buffer): Buffer => bytes,
  },
} satisfies ServiceDefinition;

/**
 * Concurrent streams one HTTP/2 connection may open. An OTLP exporter sends one batch at a time per
 * connection (OTel SDK batch processors export serially), so this only stops one connection from
 * opening thousands of streams that each buffer up to maxBodyBytes before admission sees them.
 */
const MAX_CONCURRENT_STREAMS = 32;

/** How long close() waits for calls in flight before cutting connections. */
const SHUTDOWN_GRACE_MS = 2_000;

/**
 * Starts the OTLP/gRPC receiver on config.grpcAddr: plaintext unless `security.tls` is given (vLLM,
 * TGI and TensorRT-LLM export with insecure=True by default), with bearer tokens (role ingest) in
 * the `authorization` metadata when `security.auth` is. Resolves once listening; rejects when the
 * address cannot be bound.
 */
export async function startOtlpGrpcReceiver(options: OtlpReceiverOptions & { readonly security?: IngestSecurity | undefined }): Promise<RunningReceiver> {
  const { config, log } = options;
  const server = new Server({
    "grpc.max_receive_message_length": config.maxBodyBytes,
    "grpc.max_concurrent_streams": MAX_CONCURRENT_STREAMS,
  });
  server.addService(TRACE_SERVICE_DEFINITION, {
    Export: (call: ServerUnaryCall<Buffer, ExportTraceResponse>, callback: sendUnaryData<ExportTraceResponse>) => {
      const header = call.metadata.get("authorization")[0];
      const auth = options.security?.auth?.check(typeof header === "string" ? header : undefined, "ingest");
      if (auth !== undefined && auth.kind !== "allowed") {
        callback(auth.kind === "unauthenticated" ? statusError(GrpcStatus.UNAUTHENTICATED, "unauthenticated") : statusError(GrpcStatus.PERMISSION_DENIED, "permission denied"));
        return;
      }
      handleExport(call.request, callback, options, call.getPeer());
    },
  });
  const { host, port: askedPort } = config.grpcAddr;
  const target = `${host.includes(":") ? `[${host}]` : host}:${askedPort}`;
  const port = await new Promise<number>((resolve, reject) => {
    const credentials = options.security?.tls?.grpcCredentials() ?? ServerCredentials.createInsecure();
    server.bindAsync(target, credentials, (err, boundPort) => (err ? reject(err) : resolve(boundPort)));
  });
  const address: AddressInfo = { address: host, family: host.includes(":") ? "IPv6" : "IPv4", port };
  log.info({ server: "otlp-grpc", address: `${target.slice(0, target.lastIndexOf(":"))}:${port}`, tls: options.security?.tls !== undefined }, "listening");
  let closing: Promise<void> | undefined;
  return {
    address,
    close() {
      closing ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), SHUTDOWN_GRACE_MS);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return closing;
    },
  };
}

function handleExport(request: Buffer, callback: sendUnaryData<ExportTraceResponse>, options: OtlpReceiverOptions, peer: string): void {
  const { config, log } = options;
  const lease = new AdmissionLease(options.admission);
  try {
    if (!lease.tryAcquire(request.length)) {
      callback(statusError(GrpcStatus.RESOURCE_EXHAUSTED, "receiver is at its in-flight byte limit, retry later", config.retryAfter));
      return;
    }
    const limits = options.limits ?? DEFAULT_DECODE_LIMITS;
    const outcome = exportTraces(() => decodeOtlpProtobuf(request, options.filter, limits), options.consumer, log, peer);
    switch (outcome.kind) {
      case "accepted":
        callback(null, outcome.partialSuccess === undefined ? {} : { partialSuccess: outcome.partialSuccess });
        return;
      case "invalid":
        callback(statusError(GrpcStatus.INVALID_ARGUMENT, outcome.message));
        return;
      case "unavailable":
        callback(statusError(GrpcStatus.UNAVAILABLE, outcome.message, config.retryAfter));
        return;
      case "failed":
        callback(statusError(GrpcStatus.INTERNAL, outcome.message));
        return;
    }
  } catch (err) {
    log.error({ err: errorMessage(err) }, "otlp/grpc export failed");
    callback(statusError(GrpcStatus.INTERNAL, "internal error"));
  } finally {
    lease.release();
  }
}

/**
 * A gRPC error status. With `retryAfterMs`, the trailers also carry the google.rpc.Status with a
 * RetryInfo detail (`grpc-status-details-bin`), which makes RESOURCE_EXHAUSTED retryable for OTLP
 * senders and tells them how long to wait.
 */
function statusError(code: GrpcStatus, details: string, retryAfterMs?: number): ServerErrorResponse {
  const error: ServerErrorResponse = Object.assign(new Error(details), { code, details });
  if (retryAfterMs !== undefined) {
    const metadata = new Metadata();
    // grpc-js's Status enum uses the google.rpc.Code numbers.
    metadata.set("grpc-status-details-bin", encodeStatusProtobuf(code as number as RpcCode, details, [retryInfoDetail(retryAfterMs)]));
    error.metadata = metadata;
  }
  return error;
}
