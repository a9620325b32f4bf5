import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ListenAddress } from "./config/listen-address.js";
import { errorMessage } from "./errors.js";
import type { Logger } from "./log.js";

/** A response a route produces. */
export interface RouteResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string | Buffer;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Handles GET requests for one path. */
export type RouteHandler = (request: IncomingMessage) => Promise<RouteResponse> | RouteResponse;

/** Options for {@link startHttpServer}. */
export interface HttpServerOptions {
  readonly name: string;
  readonly address: ListenAddress;
  readonly routes: Readonly<Record<string, RouteHandler>>;
  readonly log: Logger;
}

/** A listening server; close() is idempotent. */
export interface RunningServer {
  readonly server: Server;
  /** The bound address (the real port when 0 was asked for). */
  readonly address: AddressInfo;
  close(): Promise<void>;
}

/** Bounds that keep a slow or stuck client from holding a connection (slow-loris). */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export function text(status: number, body: string): RouteResponse {
  return { status, contentType: "text/plain; charset=utf-8", body };
}

export function json(status: number, value: unknown): RouteResponse {
  return { status, contentType: "application/json; charset=utf-8", body: JSON.stringify(value) };
}

/**
 * Serves GET routes over HTTP. Unknown paths get 404, other methods 405 with `Allow`; a route that
 * throws gets 500 and is logged, never crashing the process.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningServer> {
  const { log, routes } = options;
  const server = createServer((request, response) => {
    void respond(request, response, routes, log);
  });
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.address.port, options.address.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  log.info({ server: options.name, address: `${address.address}:${address.port}` }, "listening");
  return { server, address, close: closeOnce(server) };
}

/** A close() for a listening server: stops accepting, ends open connections, resolves when closed; idempotent. */
export function closeOnce(server: Server): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };
}

async function respond(request: IncomingMessage, response: ServerResponse, routes: HttpServerOptions["routes"], log: Logger): Promise<void> {
  const path = new URL(request.url ?? "/", "http://localhost").pathname;
  const handler = Object.hasOwn(routes, path) ? routes[path] : undefined;
  let result: RouteResponse;
  if (!handler) {
    result = text(404, "not found\n");
  } else if (request.method !== "GET" && request.method !== "HEAD") {
    result = { ...text(405, "method not allowed\n"), headers: { allow: "GET, HEAD" } };
  } else {
    try {
      result = await handler(request);
    } catch (err) {
      log.error({ path, err: errorMessage(err) }, "request failed");
      result = text(500, "internal error\n");
    }
  }
  response.writeHead(result.status, { "content-type": result.contentType, ...result.headers });
  response.end(request.method === "HEAD" ? undefined : result.body);
}
