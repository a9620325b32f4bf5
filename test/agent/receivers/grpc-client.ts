/** A raw gRPC client for the receiver suites, using the receiver's own hand-made method definition. */
import { Client, compressionAlgorithms, credentials, type ServiceError } from "@grpc/grpc-js";
import { connect as connectHttp2, type IncomingHttpHeaders } from "node:http2";
import { OTLP_TRACE_EXPORT_PATH, TRACE_SERVICE_DEFINITION } from "../../../agent/receivers/otlp-grpc-receiver.js";

/** grpc-js compression algorithm ids (compression-algorithms.ts). */
export const GRPC_GZIP = compressionAlgorithms.gzip;

export type GrpcOutcome =
  { readonly ok: true; readonly response: Buffer } | { readonly ok: false; readonly error: ServiceError };

/** A client for `port` on loopback; close() it when done. */
export function rawGrpcClient(port: number, options: { readonly gzip?: boolean } = {}): Client {
  return new Client(`127.0.0.1:${port}`, credentials.createInsecure(), {
    ...(options.gzip ? { "grpc.default_compression_algorithm": GRPC_GZIP } : {}),
  });
}

/** Calls Export with `body` as the request message bytes. */
export function rawExport(client: Client, body: Uint8Array): Promise<GrpcOutcome> {
  const method = TRACE_SERVICE_DEFINITION.Export;
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      OTLP_TRACE_EXPORT_PATH,
      method.requestSerialize,
      method.responseDeserialize,
      Buffer.from(body),
      (error, response) => {
        if (error) resolve({ ok: false, error });
        else resolve({ ok: true, response: response ?? Buffer.alloc(0) });
      },
    );
  });
}

/** The grpc-status and grpc-message a raw HTTP/2 call ended with. */
export interface RawGrpcStatus {
  readonly code: number;
  readonly message: string;
}

/**
 * Sends one gRPC message over a bare HTTP/2 stream, framed by hand, so a test can send bytes
 * grpc-js would never produce, such as an already gzip-compressed bomb (compressed flag 1,
 * `grpc-encoding: gzip`), without the client itself holding the inflated message.
 */
export function rawHttp2Export(
  port: number,
  message: Uint8Array,
  options: { readonly gzipped?: boolean } = {},
): Promise<RawGrpcStatus> {
  return new Promise((resolve, reject) => {
    const session = connectHttp2(`http://127.0.0.1:${port}`);
    session.on("error", reject);
    const stream = session.request({
      ":method": "POST",
      ":path": OTLP_TRACE_EXPORT_PATH,
      "content-type": "application/grpc",
      te: "trailers",
      ...(options.gzipped ? { "grpc-encoding": "gzip" } : {}),
    });
    let status: RawGrpcStatus | undefined;
    const take = (headers: IncomingHttpHeaders): void => {
      const code = headers["grpc-status"];
      if (code !== undefined)
        status = { code: Number(code), message: decodeURIComponent(String(headers["grpc-message"] ?? "")) };
    };
    stream.on("response", take);
    stream.on("trailers", take);
    stream.on("data", () => undefined);
    stream.on("error", reject);
    stream.on("close", () => {
      session.close();
      if (status) resolve(status);
      else reject(new Error("stream closed without a grpc-status"));
    });
    const frame = Buffer.alloc(5 + message.length);
    frame[0] = options.gzipped ? 1 : 0;
    frame.writeUInt32BE(message.length, 1);
    frame.set(message, 5);
    stream.end(frame);
  });
}

/**
 * Opens an Export call on a bare HTTP/2 stream with `metadata` as extra headers and sends only the
 * first `sentBytes` of a gRPC frame announcing a `messageBytes` message, then waits without ending
 * the stream: the call can only end if the server answers before reading the message. Resolves with
 * the status, or "no answer" after `giveUpMs`.
 */
export function partialHttp2Export(
  port: number,
  metadata: Readonly<Record<string, string>>,
  options: { readonly messageBytes: number; readonly sentBytes: number; readonly giveUpMs: number },
): Promise<RawGrpcStatus | "no answer"> {
  return new Promise((resolve, reject) => {
    const session = connectHttp2(`http://127.0.0.1:${port}`);
    session.on("error", reject);
    const stream = session.request({
      ":method": "POST",
      ":path": OTLP_TRACE_EXPORT_PATH,
      "content-type": "application/grpc",
      te: "trailers",
      ...metadata,
    });
    let status: RawGrpcStatus | undefined;
    const finish = (result: RawGrpcStatus | "no answer"): void => {
      clearTimeout(timer);
      stream.close();
      session.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish("no answer"), options.giveUpMs);
    const take = (headers: IncomingHttpHeaders): void => {
      const code = headers["grpc-status"];
      if (code !== undefined)
        status = { code: Number(code), message: decodeURIComponent(String(headers["grpc-message"] ?? "")) };
      if (status) finish(status);
    };
    stream.on("response", take);
    stream.on("trailers", take);
    stream.on("data", () => undefined);
    stream.on("error", () => undefined);
    const header = Buffer.alloc(5);
    header.writeUInt32BE(options.messageBytes, 1);
    stream.write(Buffer.concat([header, Buffer.alloc(Math.max(0, options.sentBytes - 5))]));
  });
}
