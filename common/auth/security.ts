import type { Logger } from "../log.js";
import { ServerTlsSource, type ListenerTls } from "../tls/server-tls.js";
import type { TlsConfig, TlsListener } from "../tls/tls-config.js";
import { AuditLog } from "./audit-log.js";
import type { AuthConfig } from "./auth-config.js";
import { TokenAuth } from "./token-auth.js";

/**
 * The process's security settings made live: the TLS material (reloading), the bearer tokens
 * (reloading) and the audit log. Built once at start by the CLI and handed to the agent and the
 * analyzer, so `inferwatch up` reads each file once for all its listeners.
 */
export interface Security {
  /** TLS of one listener; undefined when it serves plain HTTP. */
  tlsFor(listener: TlsListener): ListenerTls | undefined;
  /** Token checks; undefined when no token file is configured (nothing requires a token). */
  readonly auth: TokenAuth | undefined;
  readonly audit: AuditLog;
  /** Stops watching the files; idempotent. */
  stop(): void;
}

/** No TLS, no tokens: what tests and library callers get by default. */
export function plainSecurity(log: Logger): Security {
  return { tlsFor: () => undefined, auth: undefined, audit: new AuditLog("", log), stop() {} };
}

/**
 * Reads and checks the certificate, key, client CA and token files. Rejects with a message naming
 * the file when one is missing or does not parse, so a bad Secret stops the process at start
 * instead of leaving a listener open without the protection that was asked for.
 */
export async function loadSecurity(
  config: { readonly tls: TlsConfig; readonly auth: AuthConfig },
  log: Logger,
): Promise<Security> {
  const tls = await ServerTlsSource.load(config.tls, log.child({ component: "tls" }));
  let auth: TokenAuth | undefined;
  try {
    auth = await TokenAuth.load(config.auth, log.child({ component: "auth" }));
  } catch (err) {
    tls?.stop();
    throw err;
  }
  return {
    tlsFor: (listener) => tls?.forListener(listener),
    auth,
    audit: new AuditLog(config.auth.auditLog, log.child({ component: "audit" })),
    stop() {
      tls?.stop();
      auth?.stop();
    },
  };
}

/**
 * The same security with TLS off on the named listeners. `inferwatch up` uses it for the agents'
 * /metrics, which its embedded analyzer pulls over loopback (see docs/deployment-and-security.md).
 */
export function withoutTls(security: Security, listeners: readonly TlsListener[]): Security {
  return { ...security, tlsFor: (listener) => (listeners.includes(listener) ? undefined : security.tlsFor(listener)) };
}

/** A listener as {@link openListenerWarnings} sees it. */
export interface ListenerExposure {
  readonly name: TlsListener;
  readonly host: string;
  /** Whether bearer tokens apply to it (the OTLP receivers and the analyzer API). */
  readonly takesTokens: boolean;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/**
 * What the process should warn about at start: each listener reachable beyond this machine that
 * serves plain HTTP, or that takes requests without a token. Security is opt-in by files (a
 * certificate, a token file); these warnings make an open listener visible instead of silent.
 */
export function openListenerWarnings(
  listeners: readonly ListenerExposure[],
  config: { readonly tls: TlsConfig; readonly auth: AuthConfig },
): string[] {
  const warnings: string[] = [];
  for (const listener of listeners) {
    if (LOOPBACK.test(listener.host)) continue;
    const hasTls = config.tls.certFile !== "" && config.tls.listeners.includes(listener.name);
    if (!hasTls)
      warnings.push(`${listener.name} on ${listener.host} serves plain HTTP (set --tls-cert-file and --tls-key-file)`);
    if (listener.takesTokens && config.auth.tokenFile === "")
      warnings.push(`${listener.name} on ${listener.host} takes requests without a token (set --auth-token-file)`);
  }
  return warnings;
}
