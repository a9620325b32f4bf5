/** Loading the security files, and the start-up warnings about listeners left open. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { authConfigSchema } from "../../../common/auth/auth-config.js";
import {
  loadSecurity,
  openListenerWarnings,
  withoutTls,
  type ListenerExposure,
} from "../../../common/auth/security.js";
import { silentLogger } from "../../../common/log.js";
import { tlsConfigSchema } from "../../../common/tls/tls-config.js";
import { createTestPki } from "../tls/certs.js";

const open = (overrides: { tls?: object; auth?: object } = {}) => ({
  tls: tlsConfigSchema.parse(overrides.tls ?? {}),
  auth: authConfigSchema.parse(overrides.auth ?? {}),
});
const AGENT: ListenerExposure[] = [
  { name: "metrics", host: "0.0.0.0", takesTokens: false },
  { name: "otlp-http", host: "0.0.0.0", takesTokens: true },
  { name: "otlp-grpc", host: "127.0.0.1", takesTokens: true },
];

describe("openListenerWarnings", () => {
  it("warns for every exposed listener without TLS, and for token-taking ones without a token file; loopback is quiet", () => {
    expect(openListenerWarnings(AGENT, open())).toEqual([
      "metrics on 0.0.0.0 serves plain HTTP (set --tls-cert-file and --tls-key-file)",
      "otlp-http on 0.0.0.0 serves plain HTTP (set --tls-cert-file and --tls-key-file)",
      "otlp-http on 0.0.0.0 takes requests without a token (set --auth-token-file)",
    ]);
  });

  it("is quiet when TLS and tokens cover the exposed listeners, and names one left out of tls.listeners", () => {
    const secured = open({
      tls: { certFile: "/c", keyFile: "/k", listeners: ["otlp-http", "otlp-grpc"] },
      auth: { tokenFile: "/t" },
    });
    expect(openListenerWarnings(AGENT, secured)).toEqual([
      "metrics on 0.0.0.0 serves plain HTTP (set --tls-cert-file and --tls-key-file)",
    ]);
  });
});

describe("loadSecurity", () => {
  it("refuses to start on a token file that does not parse, naming the line and not the token", async () => {
    const dir = mkdtempSync(join(tmpdir(), "inferwatch-sec-"));
    try {
      writeFileSync(join(dir, "tokens"), "viewer:grafana:a-long-enough-token-1\nadmin:bob:a-long-enough-token-2\n");
      const failure = loadSecurity(open({ auth: { tokenFile: join(dir, "tokens") } }), silentLogger());
      await expect(failure).rejects.toThrow(/tokens:2: unknown role "admin"/);
      await expect(failure).rejects.not.toThrow(/a-long-enough-token/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("gives each configured listener its TLS, and withoutTls takes it off the named ones only", async () => {
    const pki = createTestPki();
    try {
      const security = await loadSecurity(
        open({ tls: { certFile: pki.server.cert, keyFile: pki.server.key } }),
        silentLogger(),
      );
      const agentOnly = withoutTls(security, ["metrics"]);
      expect([
        security.tlsFor("metrics") !== undefined,
        agentOnly.tlsFor("metrics"),
        agentOnly.tlsFor("otlp-http")?.listener,
      ]).toEqual([true, undefined, "otlp-http"]);
      expect(security.auth).toBeUndefined();
      security.stop();
    } finally {
      pki.cleanup();
    }
  });
});
