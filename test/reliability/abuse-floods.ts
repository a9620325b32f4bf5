/**
 * The abuse suite's traffic: gzip-bomb floods over OTLP/gRPC (framed by hand on bare HTTP/2
 * streams, so the sender never holds an inflated message) and OTLP/HTTP, and JSON nesting bombs.
 * Every sender resolves with what each request ended in; none throws on a refusal or a reset.
 */
import {
  connect as connectHttp2,
  constants as http2Constants,
  type ClientHttp2Session,
  type IncomingHttpHeaders,
} from "node:http2";
import { Agent, request } from "node:http";
import { gzipSync } from "node:zlib";
import { OTLP_TRACE_EXPORT_PATH } from "../../agent/receivers/otlp-grpc-receiver.js";

/**
 * A gzip member inflating to `inflatedBytes` of zeros: an OTLP message of the largest size the
 * receiver allows costs the sender a few tens of KiB (the flood: ~87 KB on the wire each).
 */
export function gzipBomb(inflatedBytes: number): Buffer {
  return gzipSync(Buffer.alloc(inflatedBytes), { level: 9 });
}

/** `depth` opening brackets then as many closing ones: valid JSON nested `depth` deep. */
export function jsonDepthBomb(depth: number): Buffer {
  const body = Buffer.allocUnsafe(2 * depth);
  body.fill(0x5b, 0, depth);
  body.fill(0x5d, depth);
  return body;
}

/** How the requests of a flood ended: gRPC status code (or "reset"), or HTTP status (0: transport error). */
export type Outcomes = Readonly<Record<string, number>>;

function tally(outcomes: readonly (string | number)[]): Outcomes {
  const counts: Record<string, number> = {};
  for (const outcome of outcomes) counts[String(outcome)] = (counts[String(outcome)] ?? 0) + 1;
  return counts;
}

/** Options of {@link grpcGzipFlood}. */
export interface GrpcFloodOptions {
  /** `host:port` of the OTLP/gRPC receiver. */
  readonly address: string;
  /** The already-gzipped message each stream sends. */
  readonly message: Buffer;
  readonly connections: number;
  readonly streamsPerConnection: number;
  /** Sent as `authorization: Bearer <token>`; none when absent. */
  readonly token?: string;
  /** Give up on a stream after this long (counted as "timeout"). */
  readonly timeoutMs?: number;
}

/**
 * Opens `connections` HTTP/2 connections and sends `streamsPerConnection` Export calls on each at
 * once, every message compressed (flag 1, `grpc-encoding: gzip`). Resolves with the grpc-status of
 * each call ("reset" when the stream or connection was cut without one).
 */
export async function grpcGzipFlood(options: GrpcFloodOptions): Promise<Outcomes> {
  const frame = Buffer.alloc(5 + options.message.length);
  frame[0] = 1;
  frame.writeUInt32BE(options.message.length, 1);
  options.message.copy(frame, 5);
  const sessions: ClientHttp2Session[] = [];
  const calls: Promise<string>[] = [];
  for (let c = 0; c < options.connections; c++) {
    const session = connectHttp2(`http://${options.address}`);
    session.on("error", () => undefined);
    sessions.push(session);
    for (let s = 0; s < options.streamsPerConnection; s++)
      calls.push(grpcCall(session, frame, options.token, options.timeoutMs ?? 30_000));
  }
  try {
    return tally(await Promise.all(calls));
  } finally {
    for (const session of sessions) session.destroy();
  }
}

function grpcCall(
  session: ClientHttp2Session,
  frame: Buffer,
  token: string | undefined,
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolve) => {
    let status: string | undefined;
    let stream;
    try {
      stream = session.request({
        ":method": "POST",
        ":path": OTLP_TRACE_EXPORT_PATH,
        "content-type": "application/grpc",
        te: "trailers",
        "grpc-encoding": "gzip",
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      });
    } catch {
      resolve("reset");
      return;
    }
    const timer = setTimeout(() => {
      status ??= "timeout";
      stream.close(http2Constants.NGHTTP2_CANCEL);
    }, timeoutMs);
    const take = (headers: IncomingHttpHeaders): void => {
      const code = headers["grpc-status"];
      if (code !== undefined) status = String(code);
    };
    stream.on("response", take);
    stream.on("trailers", take);
    stream.on("data", () => undefined);
    stream.on("error", () => undefined);
    stream.on("close", () => {
      clearTimeout(timer);
      resolve(status ?? "reset");
    });
    stream.end(frame);
  });
}

/** Options of {@link httpFlood}. */
export interface HttpFloodOptions {
  /** `host:port` of the OTLP/HTTP receiver. */
  readonly address: string;
  readonly body: Buffer;
  readonly requests: number;
  /** Requests in flight at once. */
  readonly concurrency: number;
  readonly contentType: "application/json" | "application/x-protobuf";
  readonly gzipped?: boolean;
  readonly token?: string;
}

/** POSTs `body` to `/v1/traces` `requests` times, `concurrency` at once; resolves with the HTTP statuses. */
export async function httpFlood(options: HttpFloodOptions): Promise<Outcomes> {
  const colon = options.address.lastIndexOf(":");
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const statuses: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < options.requests) {
      next++;
      statuses.push(
        await post(agent, options.address.slice(0, colon), Number(options.address.slice(colon + 1)), options),
      );
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    agent.destroy();
  }
  return tally(statuses);
}

function post(agent: Agent, host: string, port: number, options: HttpFloodOptions): Promise<number> {
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = {
      "content-type": options.contentType,
      "content-length": options.body.length,
    };
    if (options.gzipped) headers["content-encoding"] = "gzip";
    if (options.token !== undefined) headers["authorization"] = `Bearer ${options.token}`;
    const req = request(
      { host, port, method: "POST", path: "/v1/traces", agent, headers, timeout: 60_000 },
      (response) => {
        response.resume();
        response.on("end", () => resolve(response.statusCode ?? 0));
        response.on("error", () => resolve(0));
      },
    );
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
    req.end(options.body);
  });
}
