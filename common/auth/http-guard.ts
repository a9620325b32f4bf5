import type { IncomingMessage } from "node:http";
import { TLSSocket } from "node:tls";
import { text, type RequestGuard, type RouteResponse } from "../http-server.js";
import type { ClientCertMode } from "../tls/server-tls.js";
import type { Refusals } from "./refusals.js";
import type { TokenAuth } from "./token-auth.js";
import type { Principal, Role } from "./tokens.js";

/** Options for {@link httpGuard}. */
export interface HttpGuardOptions {
  /** Token checks; undefined: tokens are off. */
  readonly auth: TokenAuth | undefined;
  /** `per-request`: a verified client certificate is required on every path but the public ones. */
  readonly clientCert: ClientCertMode;
  /** Paths open to anyone (the kubelet's probes carry neither a token nor a client certificate). */
  readonly publicPaths: ReadonlySet<string>;
  /** The role a request needs; by default reads (GET, HEAD) need `viewer` and anything else `operator`. */
  readonly roleFor?: (method: string, path: string) => Role;
  /** Told of every refusal, with the principal when the token was known but its role too low (for the audit log). */
  readonly onRefused?: (
    request: IncomingMessage,
    path: string,
    outcome: "unauthenticated" | "forbidden",
    principal: Principal | undefined,
  ) => void;
  /** Where refusals are counted and logged, under `listener`. */
  readonly refusals?: { readonly counter: Refusals; readonly listener: string };
}

const principals = new WeakMap<IncomingMessage, Principal>();

/** The principal whose token a guarded request carried; undefined when tokens are off. */
export function principalOf(request: IncomingMessage): Principal | undefined {
  return principals.get(request);
}

/**
 * Who made a request, for the audit log: the token's name; else, over mTLS, `cert:<common name>` of
 * the verified client certificate; else `anonymous`.
 */
export function requesterOf(request: IncomingMessage): { readonly who: string; readonly role: string } {
  const principal = principals.get(request);
  if (principal) return { who: principal.name, role: principal.role };
  const socket = request.socket;
  const commonName =
    socket instanceof TLSSocket && socket.authorized ? socket.getPeerCertificate().subject?.CN : undefined;
  return {
    who: typeof commonName === "string" && commonName !== "" ? `cert:${commonName}` : "anonymous",
    role: "none",
  };
}

/** 401 with the challenge RFC 6750 §3 asks for, and no detail of what was wrong. */
export const UNAUTHORIZED: RouteResponse = {
  ...text(401, "unauthorized\n"),
  headers: { "www-authenticate": 'Bearer realm="inferwatch"' },
};
/** 403 without detail. */
export const FORBIDDEN: RouteResponse = text(403, "forbidden\n");

const defaultRole = (method: string): Role => (method === "GET" || method === "HEAD" ? "viewer" : "operator");

/**
 * A guard for common/http-server.ts: public paths pass; otherwise a verified client certificate
 * (when asked for per request) and a bearer token of a sufficient role (when tokens are on) are
 * required, answering 401 or 403 without saying which check failed or why.
 */
export function httpGuard(options: HttpGuardOptions): RequestGuard | undefined {
  if (!options.auth && options.clientCert !== "per-request") return undefined;
  const roleFor = options.roleFor ?? defaultRole;
  const refuse = (
    request: IncomingMessage,
    path: string,
    outcome: "unauthenticated" | "forbidden",
    principal: Principal | undefined,
  ): RouteResponse => {
    options.refusals?.counter.record(options.refusals.listener, outcome, request.socket.remoteAddress ?? "");
    options.onRefused?.(request, path, outcome, principal);
    return outcome === "unauthenticated" ? UNAUTHORIZED : FORBIDDEN;
  };
  return (request: IncomingMessage, path: string) => {
    if (options.publicPaths.has(path)) return undefined;
    if (options.clientCert === "per-request" && !(request.socket instanceof TLSSocket && request.socket.authorized))
      return refuse(request, path, "unauthenticated", undefined);
    if (!options.auth) return undefined;
    const decision = options.auth.check(request.headers.authorization, roleFor(request.method ?? "GET", path));
    if (decision.kind === "unauthenticated") return refuse(request, path, "unauthenticated", undefined);
    if (decision.kind === "forbidden") return refuse(request, path, "forbidden", decision.principal);
    principals.set(request, decision.principal);
    return undefined;
  };
}
