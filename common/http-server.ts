import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, DropArgument } from "node:net";
import type { Refusals } from "./auth/refusals.js";
import type { ListenAddress } from "./config/listen-address.js";
import { errorMessage } from "./errors.js";
import type { Logger } from "./log.js";
import type { ListenerTls } from "./tls/server-tls.js";

/** A response a route produces. */
export interface RouteResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string | Buffer;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Handles GET requests for one path. */
export type RouteHandler = (request: IncomingMessage) => Promise<RouteResponse> | RouteResponse;

/** Runs before every route: a response refuses the request (401, 403), undefined lets it through. */
export type RequestGuard = (request: IncomingMessage, path: string) => RouteResponse | undefined;

/** Options for {@link startHttpServer}. */
export interface HttpServerOptions {
  readonly name: string;
  readonly address: ListenAddress;
  readonly routes: Readonly<Record<string, RouteHandler>>;
  readonly log: Logger;
  /** Serve HTTPS with this listener's (reloading) certificate; plain HTTP when absent. */
  readonly tls?: ListenerTls | undefined;
  /** Authentication and authorization, checked before any route (common/auth/http-guard.ts). */
  readonly guard?: RequestGuard | undefined;
  /** POST routes (the handler reads the body itself). */
  readonly postRoutes?: Readonly<Record<string, RouteHandler>>;
  /** Where refused connections are counted, under `name`; uncounted when absent. */
  readonly refusals?: Refusals | undefined;
  /** Open connections at most; past it new ones are closed at once. Default {@link DEFAULT_MAX_CONNECTIONS}. */
  readonly maxConnections?: number;
}

/** Connections a listener keeps open at most by default: far more than scrapers and browsers need. */
export const DEFAULT_MAX_CONNECTIONS = 256;

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
/** How often Node enforces the two timeouts above (its default, 30 s, would let a slow client hold on for 40 s). */
const CONNECTIONS_CHECK_MS = 1_000;

export function text(status: number, body: string): RouteResponse {
  return { status, contentType: "text/plain; charset=utf-8", body };
}

export function json(status: number, value: unknown): RouteResponse {
  return { status, contentType: "application/json; charset=utf-8", body: JSON.stringify(value) };
}

/**
 * Serves GET routes (and optional POST routes) over HTTP, or HTTPS with `tls` (its certificate
 * followed on reload). `guard` runs first, on the headers alone, and may refuse (401/403; a body
 * left unread then closes the connection). Unknown paths get 404, other methods 405 with `Allow`;
 * a route that throws gets 500 and is logged, never crashing the process. Connections past
 * `maxConnections` are closed at once.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<RunningServer> {
  const { log } = options;
  const listener = (request: IncomingMessage, response: ServerResponse) => {
    respond(request, response, options).catch((err: unknown) => {
      // Nothing a client sends may become an unhandled rejection (it would end the process).
      log.error({ server: options.name, err: errorMessage(err) }, "request failed");
      try {
        if (response.headersSent) response.destroy();
        else
          response
            .writeHead(500, "Internal Server Error", { "content-type": "text/plain; charset=utf-8" })
            .end("internal error\n");
      } catch {
        response.destroy();
      }
    });
  };
  const tls = options.tls;
  const secure = tls
    ? createHttpsServer({ ...tls.httpsOptions(), connectionsCheckingInterval: CONNECTIONS_CHECK_MS }, listener)
    : undefined;
  const unfollow = secure && tls ? tls.follow(secure) : undefined;
  const server: Server = secure ?? createServer({ connectionsCheckingInterval: CONNECTIONS_CHECK_MS }, listener);
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  server.on("drop", (dropped: DropArgument | undefined) =>
    options.refusals?.record(options.name, "connection_limit", dropped?.remoteAddress ?? ""),
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.address.port, options.address.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  log.info(
    { server: options.name, address: `${address.address}:${address.port}`, tls: tls !== undefined },
    "listening",
  );
  const close = closeOnce(server);
  return { server, address, close: () => (unfollow?.(), close()) };
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

/** The path of a request target; undefined when it is not a URL path (`//[`, which new URL() refuses). */
function pathOf(url: string | undefined): string | undefined {
  try {
    return new URL(url ?? "/", "http://localhost").pathname;
  } catch {
    return undefined;
  }
}

async function respond(request: IncomingMessage, response: ServerResponse, options: HttpServerOptions): Promise<void> {
  const { routes, log } = options;
  const postRoutes = options.postRoutes ?? {};
  const path = pathOf(request.url);
  if (path === undefined) {
    response.writeHead(400, { "content-type": "text/plain; charset=utf-8" }).end("bad request\n");
    return;
  }
  const isPost = request.method === "POST" && Object.hasOwn(postRoutes, path);
  const handler = isPost ? postRoutes[path] : Object.hasOwn(routes, path) ? routes[path] : undefined;
  const refusal = options.guard?.(request, path);
  let result: RouteResponse;
  if (refusal) {
    result = refusal;
  } else if (!handler && !Object.hasOwn(postRoutes, path)) {
    result = text(404, "not found\n");
  } else if (!handler || (!isPost && request.method !== "GET" && request.method !== "HEAD")) {
    result = {
      ...text(405, "method not allowed\n"),
      headers: { allow: Object.hasOwn(postRoutes, path) ? "POST" : "GET, HEAD" },
    };
  } else {
    try {
      result = await handler(request);
    } catch (err) {
      log.error({ path, err: errorMessage(err) }, "request failed");
      result = text(500, "internal error\n");
    }
  }
  // A refused request's body is never read: close the connection rather than read it off the socket.
  const closing = refusal !== undefined && !request.complete ? { connection: "close" } : {};
  response.writeHead(result.status, { "content-type": result.contentType, ...result.headers, ...closing });
  response.end(request.method === "HEAD" ? undefined : result.body);
}
