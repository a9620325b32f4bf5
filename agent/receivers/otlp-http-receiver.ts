/**
 * OTLP/HTTP trace receiver: `POST /v1/traces` with a protobuf or JSON ExportTraceServiceRequest,
 * optionally gzip- or deflate-compressed, answered in the request's encoding
 * (https://opentelemetry.io/docs/specs/otlp/#otlphttp).
 *
 * Memory is bounded on every path: headers first (path, token, method, types), then the body. The
 * body is refused from its Content-Length when that is too large (413) or does not fit the
 * admission budget (429); otherwise it is read chunk by chunk, decompressed as a stream, and
 * abandoned as soon as it passes maxBodyBytes (413, so a gzip bomb is never inflated past the limit)
 * or the budget refuses the next chunk (429). An OTLP/JSON body is scanned before it is parsed:
 * nesting deeper than the OTLP model allows is a 400, and what parsing it would allocate is charged
 * to the budget first (429, or 413 when it could never fit). A refusal whose body was not read
 * closes the connection, so a client cannot keep streaming what nobody reads. Connections past
 * config.maxConnections are closed at once; slow clients are cut off by the header and request
 * timeouts. Every request ends in a response or a destroyed socket; nothing a client sends can
 * throw out of the handler.
 */
import { closeOnce } from "../../common/http-server.js";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { IngestSecurity } from "../../common/auth/ingest-security.js";
import { Refusals, type RefusalReason } from "../../common/auth/refusals.js";
import type { AddressInfo, DropArgument } from "node:net";
import type { Readable } from "node:stream";
import { createGunzip, createInflate } from "node:zlib";
import { errorMessage } from "../../common/errors.js";
import { AdmissionLease } from "./admission.js";
import { decodeScannedOtlpJson } from "./otlp-json-decoder.js";
import { estimateJsonParseBytes, scanOtlpJson } from "./otlp-json-scan.js";
import { DEFAULT_DECODE_LIMITS, OtlpDecodeError, type DecodeLimits } from "./otlp-model.js";
import { decodeOtlpProtobuf } from "./otlp-protobuf-decoder.js";
import {
  RpcCode,
  encodeExportResponseJson,
  encodeExportResponseProtobuf,
  encodeStatusJson,
  encodeStatusProtobuf,
  exportTraces,
  retryAfterSeconds,
  type ExportOutcome,
  type OtlpReceiverOptions,
  type RunningReceiver,
} from "./otlp-responses.js";

/** The listener name refusals are counted under. */
const LISTENER = "otlp-http";

/** The OTLP/HTTP traces path (opentelemetry-proto docs/specification.md, "OTLP/HTTP Request"). */
export const OTLP_TRACES_PATH = "/v1/traces";

/** Bounds on how long a client may take; defaults match common/http-server.ts. */
export interface HttpReceiverTimeouts {
  /** Until the request headers are complete (slow-loris on headers). */
  readonly headersMs: number;
  /** Until the whole request, body included, is received. */
  readonly requestMs: number;
  /** How long an idle keep-alive connection stays open. */
  readonly keepAliveMs: number;
}

const DEFAULT_TIMEOUTS: HttpReceiverTimeouts = { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 65_000 };

/** Options for {@link startOtlpHttpReceiver}. */
export interface OtlpHttpReceiverOptions extends OtlpReceiverOptions {
  /** Overrides of the client timeouts (tests shorten them). */
  readonly timeouts?: Partial<HttpReceiverTimeouts>;
  /** TLS and bearer tokens (role ingest); plain and open when absent. */
  readonly security?: IngestSecurity | undefined;
}

type BodyFormat = "protobuf" | "json";
type ContentEncoding = "identity" | "gzip" | "deflate";

const CONTENT_TYPES: Readonly<Record<BodyFormat, string>> = {
  protobuf: "application/x-protobuf",
  json: "application/json",
};

/** A response before it is written. */
interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string | Buffer;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Starts the OTLP/HTTP receiver on config.httpAddr. Resolves once listening; rejects when the
 * address cannot be bound.
 */
export async function startOtlpHttpReceiver(options: OtlpHttpReceiverOptions): Promise<RunningReceiver> {
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  const requestMs = Math.max(timeouts.requestMs, timeouts.headersMs);
  const serverOptions = {
    headersTimeout: timeouts.headersMs,
    requestTimeout: requestMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    // Node checks the two timeouts above only this often (default 30 s); a quarter of the shorter
    // one keeps the cut-off within 25% of what was asked for.
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(timeouts.headersMs / 4))),
  };
  const tls = options.security?.tls;
  const secure = tls ? createHttpsServer({ ...serverOptions, ...tls.httpsOptions() }) : undefined;
  const unfollow = secure && tls ? tls.follow(secure) : undefined;
  const server: Server = secure ?? createServer(serverOptions);
  const refusals = options.refusals ?? new Refusals(options.log);
  server.maxConnections = options.config.maxConnections;
  server.on("drop", (dropped: DropArgument | undefined) =>
    refusals.record(LISTENER, "connection_limit", dropped?.remoteAddress ?? ""),
  );
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    handleRequest(request, response, { ...options, refusals }).catch((err: unknown) => {
      options.log.error({ err: errorMessage(err) }, "otlp/http request failed");
      if (!response.headersSent) writeReply(response, textReply(500, "internal error\n"));
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.config.httpAddr.port, options.config.httpAddr.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => options.log.error({ err: errorMessage(err) }, "otlp/http server error"));
  const address = server.address() as AddressInfo;
  options.log.info({ server: "otlp-http", address: `${address.address}:${address.port}` }, "listening");
  const close = closeOnce(server);
  return { address, close: () => (unfollow?.(), close()) };
}

async function handleRequest(
  request: IncomingMessage,
  response: ServerResponse,
  options: OtlpHttpReceiverOptions & { readonly refusals: Refusals },
): Promise<void> {
  const { config, admission } = options;
  const refused = (reason: RefusalReason): void =>
    options.refusals.record(LISTENER, reason, request.socket.remoteAddress ?? "");
  if (pathOf(request.url) !== OTLP_TRACES_PATH) return refuseUnread(request, response, textReply(404, "not found\n"));
  const auth = options.security?.auth?.check(request.headers.authorization, "ingest");
  if (auth !== undefined && auth.kind !== "allowed") {
    refused(auth.kind);
    // No detail either way; 401 and 403 are not retried by OTLP exporters (OTLP/HTTP "Failures").
    const reply =
      auth.kind === "unauthenticated"
        ? { ...textReply(401, "unauthorized\n"), headers: { "www-authenticate": 'Bearer realm="inferwatch"' } }
        : textReply(403, "forbidden\n");
    return refuseUnread(request, response, reply);
  }
  if (request.method !== "POST") {
    return refuseUnread(request, response, {
      ...textReply(405, "method not allowed, supported: [POST]\n"),
      headers: { allow: "POST" },
    });
  }
  const format = bodyFormatOf(request.headers["content-type"]);
  if (format === undefined) {
    const message = `unsupported content type ${JSON.stringify(request.headers["content-type"] ?? "")}, supported: [application/x-protobuf, application/json]\n`;
    return refuseUnread(request, response, textReply(415, message));
  }
  const encoding = contentEncodingOf(request.headers["content-encoding"]);
  if (encoding === undefined) {
    const message = `unsupported content encoding ${JSON.stringify(request.headers["content-encoding"])}, supported: [gzip, deflate, identity]`;
    return refuseUnread(request, response, statusReply(415, format, RpcCode.INVALID_ARGUMENT, message));
  }
  const declaredBytes = contentLengthOf(request.headers["content-length"]);
  if (declaredBytes !== undefined && declaredBytes > config.maxBodyBytes) {
    refused("too_large");
    return refuseUnread(request, response, tooLargeReply(format, config.maxBodyBytes));
  }

  const lease = new AdmissionLease(admission);
  try {
    // An uncompressed body of known length is admitted whole, before a byte is read.
    const isAdmittedWhole = encoding === "identity" && declaredBytes !== undefined;
    if (isAdmittedWhole && !lease.tryAcquire(declaredBytes)) {
      refused("busy");
      return refuseUnread(request, response, busyReply(format, config.retryAfter));
    }
    const body = await readBody(request, encoding, {
      maxBytes: config.maxBodyBytes,
      expectedBytes: isAdmittedWhole ? declaredBytes : undefined,
      lease: isAdmittedWhole ? undefined : lease,
    });
    switch (body.kind) {
      case "aborted":
        response.destroy();
        return;
      case "too-large":
        refused("too_large");
        return writeReply(response, closing(tooLargeReply(format, config.maxBodyBytes)));
      case "busy":
        refused("busy");
        return writeReply(response, closing(busyReply(format, config.retryAfter)));
      case "corrupt":
        return writeReply(response, statusReply(400, format, RpcCode.INVALID_ARGUMENT, body.message));
      case "complete":
        break;
    }
    const limits = options.limits ?? DEFAULT_DECODE_LIMITS;
    const bytes = body.bytes;
    const peer =
      request.socket.remoteAddress === undefined
        ? undefined
        : `${request.socket.remoteAddress}:${request.socket.remotePort ?? 0}`;
    if (format === "protobuf") {
      writeReply(
        response,
        outcomeReply(
          exportTraces(() => decodeOtlpProtobuf(bytes, options.filter, limits), options.consumer, options.log, peer),
          format,
          config.retryAfter,
        ),
      );
      return;
    }
    const admitted = admitJsonParse(bytes, lease, limits, config.maxInflightBytes);
    if (admitted.kind !== "admitted") {
      if (admitted.kind !== "invalid") refused(admitted.kind === "busy" ? "busy" : "too_large");
      return writeReply(
        response,
        admitted.kind === "busy"
          ? busyReply(format, config.retryAfter)
          : statusReply(admitted.kind === "invalid" ? 400 : 413, format, RpcCode.INVALID_ARGUMENT, admitted.message),
      );
    }
    const text = admitted.text;
    writeReply(
      response,
      outcomeReply(
        exportTraces(() => decodeScannedOtlpJson(text, options.filter, limits), options.consumer, options.log, peer),
        format,
        config.retryAfter,
      ),
    );
  } finally {
    lease.release();
  }
}

/** Whether an OTLP/JSON body may be parsed now: its text (charged first), its nesting checked and its estimated parse cost taken from the lease. */
type JsonAdmission =
  | { readonly kind: "admitted"; readonly text: string }
  | { readonly kind: "invalid"; readonly message: string }
  | { readonly kind: "too-costly"; readonly message: string }
  | { readonly kind: "busy" };

function admitJsonParse(
  bytes: Buffer,
  lease: AdmissionLease,
  limits: DecodeLimits,
  maxInflightBytes: number,
): JsonAdmission {
  let cost: number;
  try {
    // Scanned as bytes: nothing is allocated for a body refused here. A text has at most one character per byte.
    cost = estimateJsonParseBytes(scanOtlpJson(bytes, limits), bytes.length);
  } catch (err) {
    if (err instanceof OtlpDecodeError) return { kind: "invalid", message: err.message };
    throw err;
  }
  if (lease.heldBytes + cost > maxInflightBytes) {
    const mib = (count: number): string => (count / 1024 / 1024).toFixed(1);
    return {
      kind: "too-costly",
      message: `parsing this OTLP/JSON body would take about ${mib(cost)} MiB, more than the in-flight budget of ${mib(maxInflightBytes)} MiB allows; send smaller batches or protobuf`,
    };
  }
  return lease.tryAcquire(cost) ? { kind: "admitted", text: bytes.toString("utf8") } : { kind: "busy" };
}

/** How reading a request body ended. */
type BodyResult =
  | { readonly kind: "complete"; readonly bytes: Buffer }
  | { readonly kind: "too-large" }
  | { readonly kind: "busy" }
  | { readonly kind: "corrupt"; readonly message: string }
  | { readonly kind: "aborted" };

interface BodyLimits {
  /** Most bytes after decompression. */
  readonly maxBytes: number;
  /** The Content-Length of an uncompressed body, already admitted: read into one buffer of this size. */
  readonly expectedBytes: number | undefined;
  /** Admission to take each decompressed chunk from, when the size was not known up front. */
  readonly lease: AdmissionLease | undefined;
}

/**
 * Reads the body, decompressing as it streams. Stops at the first chunk that passes the limit or
 * that admission refuses; what was read is dropped and the rest of the body is discarded unread
 * (Node keeps reading it off the socket, bounded by the request timeout, so the client sees the
 * response instead of a reset).
 */
function readBody(request: IncomingMessage, encoding: ContentEncoding, limits: BodyLimits): Promise<BodyResult> {
  return new Promise<BodyResult>((resolve) => {
    const inflater = encoding === "gzip" ? createGunzip() : encoding === "deflate" ? createInflate() : undefined;
    const source: Readable = inflater ?? request;
    const preallocated = limits.expectedBytes === undefined ? undefined : Buffer.allocUnsafe(limits.expectedBytes);
    const chunks: Buffer[] = [];
    let size = 0;
    let isSettled = false;

    const settle = (result: BodyResult): void => {
      if (isSettled) return;
      isSettled = true;
      source.off("data", onData);
      source.off("end", onEnd);
      request.off("close", onClose);
      if (inflater) {
        request.unpipe(inflater);
        inflater.destroy();
      }
      if (result.kind !== "complete") {
        chunks.length = 0;
        if (!request.complete) request.resume();
      }
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      if (isSettled) return;
      if (size + chunk.length > limits.maxBytes) return settle({ kind: "too-large" });
      if (limits.lease && !limits.lease.tryAcquire(chunk.length)) return settle({ kind: "busy" });
      if (preallocated) {
        if (size + chunk.length > preallocated.length)
          return settle({ kind: "corrupt", message: "body longer than its Content-Length" });
        chunk.copy(preallocated, size);
      } else {
        chunks.push(chunk);
      }
      size += chunk.length;
    };
    const onEnd = (): void => {
      if (preallocated) {
        if (size !== preallocated.length) return settle({ kind: "aborted" });
        return settle({ kind: "complete", bytes: preallocated });
      }
      settle({ kind: "complete", bytes: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size) });
    };
    const onClose = (): void => {
      // 'close' before the body's end: the client went away (an aborted request also emits 'error').
      if (!request.complete) settle({ kind: "aborted" });
    };

    source.on("data", onData);
    source.on("end", onEnd);
    request.on("close", onClose);
    request.on("error", () => settle({ kind: "aborted" }));
    if (inflater) {
      inflater.on("error", (err) => settle({ kind: "corrupt", message: `invalid ${encoding} body: ${err.message}` }));
      request.pipe(inflater);
    }
  });
}

function outcomeReply(outcome: ExportOutcome, format: BodyFormat, retryAfterMs: number): Reply {
  switch (outcome.kind) {
    case "accepted":
      return {
        status: 200,
        contentType: CONTENT_TYPES[format],
        body:
          format === "protobuf"
            ? encodeExportResponseProtobuf(outcome.partialSuccess)
            : encodeExportResponseJson(outcome.partialSuccess),
      };
    case "invalid":
      return statusReply(400, format, RpcCode.INVALID_ARGUMENT, outcome.message);
    case "unavailable":
      return {
        ...statusReply(503, format, RpcCode.UNAVAILABLE, outcome.message),
        headers: { "retry-after": String(retryAfterSeconds(retryAfterMs)) },
      };
    case "failed":
      return statusReply(500, format, RpcCode.INTERNAL, outcome.message);
  }
}

/** An error response whose body is a google.rpc.Status in the request's encoding (OTLP/HTTP "Failures"). */
function statusReply(status: number, format: BodyFormat, code: RpcCode, message: string): Reply {
  return {
    status,
    contentType: CONTENT_TYPES[format],
    body: format === "protobuf" ? encodeStatusProtobuf(code, message) : encodeStatusJson(code, message),
  };
}

function tooLargeReply(format: BodyFormat, maxBodyBytes: number): Reply {
  return statusReply(
    413,
    format,
    RpcCode.INVALID_ARGUMENT,
    `request body exceeds ${maxBodyBytes} bytes after decompression`,
  );
}

function busyReply(format: BodyFormat, retryAfterMs: number): Reply {
  const reply = statusReply(
    429,
    format,
    RpcCode.RESOURCE_EXHAUSTED,
    "receiver is at its in-flight byte limit, retry later",
  );
  return { ...reply, headers: { "retry-after": String(retryAfterSeconds(retryAfterMs)) } };
}

function textReply(status: number, message: string): Reply {
  return { status, contentType: "text/plain; charset=utf-8", body: message };
}

/** The reply, with the connection closed after it: for refusals whose body was not read to its end. */
function closing(reply: Reply): Reply {
  return { ...reply, headers: { ...reply.headers, connection: "close" } };
}

/**
 * Answers without reading the body and closes the connection after the answer, so what the client
 * still sends is not read off the socket for the rest of the request timeout.
 */
function refuseUnread(request: IncomingMessage, response: ServerResponse, reply: Reply): void {
  request.resume();
  writeReply(response, request.complete ? reply : closing(reply));
}

function writeReply(response: ServerResponse, reply: Reply): void {
  if (response.headersSent || response.destroyed) return;
  const body = typeof reply.body === "string" ? Buffer.from(reply.body, "utf8") : reply.body;
  response.writeHead(reply.status, {
    "content-type": reply.contentType,
    "content-length": String(body.length),
    ...reply.headers,
  });
  response.end(body);
}

function pathOf(url: string | undefined): string {
  const path = url ?? "/";
  const query = path.indexOf("?");
  return query === -1 ? path : path.slice(0, query);
}

/** The body format a Content-Type names, parameters (charset…) ignored. */
function bodyFormatOf(header: string | undefined): BodyFormat | undefined {
  const mediaType = (header ?? "").split(";", 1)[0]?.trim().toLowerCase();
  if (mediaType === "application/x-protobuf") return "protobuf";
  if (mediaType === "application/json") return "json";
  return undefined;
}

function contentEncodingOf(header: string | undefined): ContentEncoding | undefined {
  const encoding = (header ?? "").trim().toLowerCase();
  if (encoding === "" || encoding === "identity") return "identity";
  if (encoding === "gzip" || encoding === "x-gzip") return "gzip";
  if (encoding === "deflate") return "deflate";
  return undefined;
}

function contentLengthOf(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const length = Number(header);
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}
