/**
 * OTLP/gRPC trace receiver: the unary method
 * `/opentelemetry.proto.collector.trace.v1.TraceService/Export` on @grpc/grpc-js, registered from a
 * hand-written service definition (no proto-loader): the request message arrives as raw bytes and
 * goes to the project's own protobuf decoder; the response is encoded by hand.
 *
 * Bounds, in the order a call meets them:
 * - Connections: the receiver owns the TCP listener (grpc-js takes its connections through
 *   createConnectionInjector) and closes a connection past config.maxConnections at once.
 * - Streams: config.maxConcurrentStreams per connection (the HTTP/2 SETTINGS grpc-js sends); idle
 *   connections are closed and dead ones detected by keepalive pings.
 * - Token, then admission, before the message is read: grpc-ingest-gate.ts. Nothing of a call
 *   without a valid token is read or inflated, and inflating a message needs room in the budget.
 * - Size: grpc-js refuses a message whose frame is longer than grpc.max_receive_message_length
 *   (the smaller of config.maxGrpcMessageBytes and config.maxBodyBytes) and stops inflating a
 *   `grpc-encoding: gzip`/`deflate` message once its output passes the same length, both with
 *   RESOURCE_EXHAUSTED (grpc-js server-interceptors.js, decompressMessage; stream-decoder.js).
 *
 * Status codes follow the OTLP/gRPC rules (https://opentelemetry.io/docs/specs/otlp/#otlpgrpc-response):
 * INVALID_ARGUMENT for an undecodable message (not retried), RESOURCE_EXHAUSTED when admission
 * refuses and UNAVAILABLE when the pipeline does, both with a google.rpc.RetryInfo in
 * `grpc-status-details-bin` so senders retry after config.retryAfter.
 */
import {
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type ServerErrorResponse,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from "node:net";
import type { IngestSecurity } from "../../common/auth/ingest-security.js";
import { Refusals } from "../../common/auth/refusals.js";
import { errorMessage } from "../../common/errors.js";
import { grpcStatus, ingestGate } from "./grpc-ingest-gate.js";
import { DEFAULT_DECODE_LIMITS } from "./otlp-model.js";
import { decodeOtlpProtobuf } from "./otlp-protobuf-decoder.js";
import {
  encodeExportResponseProtobuf,
  exportTraces,
  type OtlpReceiverOptions,
  type PartialSuccess,
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
 * Connection lifetimes (grpc-js server options, the names of grpc core's channel arguments): a
 * connection without calls for 5 minutes is closed (max_connection_idle), and one whose peer stops
 * answering keepalive pings (sent after 2 minutes of quiet, answered within 20 s) is dropped.
 */
const CONNECTION_OPTIONS = {
  "grpc.max_connection_idle_ms": 5 * 60_000,
  "grpc.keepalive_time_ms": 2 * 60_000,
  "grpc.keepalive_timeout_ms": 20_000,
} as const;

/** The listener name refusals are counted under. */
const LISTENER = "otlp-grpc";

/** How long close() waits for calls in flight before cutting connections. */
const SHUTDOWN_GRACE_MS = 2_000;

/**
 * Starts the OTLP/gRPC receiver on config.grpcAddr: plaintext unless `security.tls` is given (vLLM,
 * TGI and TensorRT-LLM export with insecure=True by default), with bearer tokens (role ingest) in
 * the `authorization` metadata when `security.auth` is. Resolves once listening; rejects when the
 * address cannot be bound.
 */
export async function startOtlpGrpcReceiver(
  options: OtlpReceiverOptions & { readonly security?: IngestSecurity | undefined },
): Promise<RunningReceiver> {
  const { config, log } = options;
  const refusals = options.refusals ?? new Refusals(log);
  const maxMessageBytes = Math.min(config.maxBodyBytes, config.maxGrpcMessageBytes);
  const server = new Server({
    "grpc.max_receive_message_length": maxMessageBytes,
    "grpc.max_concurrent_streams": config.maxConcurrentStreams,
    ...CONNECTION_OPTIONS,
    interceptors: [
      ingestGate({
        auth: options.security?.auth,
        admission: options.admission,
        maxMessageBytes,
        waitMs: config.retryAfter,
        refusals,
      }),
    ],
  });
  server.addService(TRACE_SERVICE_DEFINITION, {
    Export: (call: ServerUnaryCall<Buffer, ExportTraceResponse>, callback: sendUnaryData<ExportTraceResponse>) =>
      handleExport(call.request, callback, options, call.getPeer()),
  });
  const credentials = options.security?.tls?.grpcCredentials() ?? ServerCredentials.createInsecure();
  const injector = server.createConnectionInjector(credentials);
  const tcp: TcpServer = createTcpServer((socket) => injector.injectConnection(socket));
  tcp.maxConnections = config.maxConnections;
  tcp.on("drop", (dropped) => refusals.record(LISTENER, "connection_limit", dropped?.remoteAddress ?? ""));
  const { host, port: askedPort } = config.grpcAddr;
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(askedPort, host, () => {
      tcp.off("error", reject);
      resolve();
    });
  });
  tcp.on("error", (err) => log.error({ err: errorMessage(err) }, "otlp/grpc listener error"));
  const address = tcp.address() as AddressInfo;
  log.info(
    {
      server: "otlp-grpc",
      address: `${host.includes(":") ? `[${host}]` : host}:${address.port}`,
      tls: options.security?.tls !== undefined,
    },
    "listening",
  );
  let closing: Promise<void> | undefined;
  return {
    address: { address: host, family: address.family, port: address.port },
    close() {
      closing ??= new Promise<void>((resolve) => {
        tcp.close();
        const force = setTimeout(() => server.forceShutdown(), SHUTDOWN_GRACE_MS);
        server.tryShutdown(() => {
          clearTimeout(force);
          injector.destroy();
          resolve();
        });
      });
      return closing;
    },
  };
}

/** Decodes an admitted message and hands it on with the sender's `peer` address; the gate holds its admission until the answer is sent. */
function handleExport(
  request: Buffer,
  callback: sendUnaryData<ExportTraceResponse>,
  options: OtlpReceiverOptions,
  peer: string,
): void {
  const { config, log } = options;
  try {
    const limits = options.limits ?? DEFAULT_DECODE_LIMITS;
    const outcome = exportTraces(
      () => decodeOtlpProtobuf(request, options.filter, limits),
      options.consumer,
      log,
      peer,
    );
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
  }
}

/**
 * A gRPC error for a unary callback. With `retryAfterMs`, the trailers also carry the
 * google.rpc.Status with a RetryInfo detail (`grpc-status-details-bin`), which makes the status
 * retryable for OTLP senders and tells them how long to wait.
 */
function statusError(code: GrpcStatus, details: string, retryAfterMs?: number): ServerErrorResponse {
  const { metadata } = grpcStatus(code, details, retryAfterMs);
  return Object.assign(new Error(details), { code, details, ...(retryAfterMs === undefined ? {} : { metadata }) });
}
