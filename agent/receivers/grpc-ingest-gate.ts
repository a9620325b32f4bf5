/**
 * What an OTLP/gRPC call must pass before grpc-js reads its message: the bearer token (role
 * `ingest`) from the call's metadata, then room in the in-flight budget for the largest message it
 * may inflate to. A grpc-js server reads and inflates a request message in full before any handler
 * runs (server-interceptors.js, BaseServerInterceptingCall: handleDataFrame → decompressMessage), but
 * only once the handler asks to read (`startRead`), which a unary handler does when the metadata has
 * passed the interceptors. So this interceptor holds the metadata back until both checks pass:
 *
 * - A refused token ends the call with UNAUTHENTICATED (or PERMISSION_DENIED) before a byte of the
 *   message is read; what the client still sends is discarded unread (HTTP/2 flow control keeps at
 *   most one stream window, 64 KiB, buffered meanwhile).
 * - Admission reserves twice `maxMessageBytes` (the decompressed-size cap,
 *   grpc.max_receive_message_length) before the message is read: while grpc-js inflates a message
 *   it holds the inflated pieces and then their concatenation at once (decompressMessage). The call
 *   waits up to `waitMs` behind earlier calls; past that it ends with RESOURCE_EXHAUSTED and a
 *   RetryInfo. Once the message is in, the reservation shrinks to its real size; it is given back
 *   when the response is sent or the call is cancelled.
 *
 * Interceptor API: https://github.com/grpc/grpc-node/blob/master/doc/server-interceptors.md
 * (grpc-js 1.10+).
 */
import {
  Metadata,
  ServerInterceptingCall,
  status as GrpcStatus,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  type StatusObject,
} from "@grpc/grpc-js";
import type { TokenAuth } from "../../common/auth/token-auth.js";
import type { Refusals } from "../../common/auth/refusals.js";
import type { Admission } from "./admission.js";
import { encodeStatusProtobuf, retryInfoDetail, type RpcCode } from "./otlp-responses.js";

/** The listener name refusals are counted under. */
const LISTENER = "otlp-grpc";

/** Copies of a message grpc-js holds at once while inflating it: the inflated pieces and their concatenation. */
const INFLATE_COPIES = 2;

/** What the gate checks. */
export interface IngestGateOptions {
  /** Token checks; undefined: tokens are off and every call passes this check. */
  readonly auth: TokenAuth | undefined;
  readonly admission: Admission;
  /** The largest message after decompression; twice this is reserved per call before its message is read. */
  readonly maxMessageBytes: number;
  /** How long a call waits for room before RESOURCE_EXHAUSTED; also the RetryInfo delay. */
  readonly waitMs: number;
  readonly refusals: Refusals;
}

/** A status for sendStatus(); with `retryAfterMs`, a google.rpc.Status with a RetryInfo in the trailers. */
export function grpcStatus(code: GrpcStatus, details: string, retryAfterMs?: number): StatusObject {
  const metadata = new Metadata();
  // grpc-js's Status enum uses the google.rpc.Code numbers.
  if (retryAfterMs !== undefined)
    metadata.set(
      "grpc-status-details-bin",
      encodeStatusProtobuf(code as number as RpcCode, details, [retryInfoDetail(retryAfterMs)]),
    );
  return { code, details, metadata };
}

/** The interceptor for `new Server({ interceptors: [ingestGate(options)] })`. */
export function ingestGate(options: IngestGateOptions): ServerInterceptor {
  return (_method, call) => gatedCall(call, options);
}

function gatedCall(call: ServerInterceptingCallInterface, options: IngestGateOptions): ServerInterceptingCall {
  /** Bytes this call holds in the budget; given back once. */
  let heldBytes = 0;
  let isDone = false;
  let cancelWait: (() => void) | undefined;
  const giveBack = (): void => {
    isDone = true;
    cancelWait?.();
    if (heldBytes > 0) options.admission.release(heldBytes);
    heldBytes = 0;
  };
  const remote = (): string => call.getConnectionInfo().remoteAddress ?? "";
  return new ServerInterceptingCall(call, {
    start(next) {
      next({
        onReceiveMetadata(metadata, pass) {
          const header = metadata.get("authorization")[0];
          const decision = options.auth?.check(typeof header === "string" ? header : undefined, "ingest");
          if (decision !== undefined && decision.kind !== "allowed") {
            options.refusals.record(LISTENER, decision.kind, remote());
            // No detail either way, as over HTTP: UNAUTHENTICATED and PERMISSION_DENIED are not retried by OTLP exporters.
            call.sendStatus(
              decision.kind === "unauthenticated"
                ? grpcStatus(GrpcStatus.UNAUTHENTICATED, "unauthenticated")
                : grpcStatus(GrpcStatus.PERMISSION_DENIED, "permission denied"),
            );
            return;
          }
          const reservation = INFLATE_COPIES * options.maxMessageBytes;
          const wait = options.admission.waitToAcquire(reservation, options.waitMs);
          cancelWait = () => wait.cancel();
          void wait.granted.then((isGranted) => {
            cancelWait = undefined;
            if (isGranted && isDone) {
              // Cancelled while the grant was on its way: nothing will read the message.
              options.admission.release(reservation);
              return;
            }
            if (isDone) return;
            if (!isGranted) {
              options.refusals.record(LISTENER, "busy", remote());
              call.sendStatus(
                grpcStatus(
                  GrpcStatus.RESOURCE_EXHAUSTED,
                  "receiver is at its in-flight byte limit, retry later",
                  options.waitMs,
                ),
              );
              return;
            }
            heldBytes = reservation;
            pass(metadata);
          });
        },
        onReceiveMessage(message, pass) {
          // The message is in, inflated: keep only what it holds.
          const size = Buffer.isBuffer(message) ? message.length : 0;
          if (size < heldBytes) {
            options.admission.release(heldBytes - size);
            heldBytes = size;
          }
          pass(message);
        },
        onCancel: giveBack,
      });
    },
    sendStatus(status, next) {
      giveBack();
      next(status);
    },
  });
}
