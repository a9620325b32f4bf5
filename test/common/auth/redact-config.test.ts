/**
 * `inferwatch config dump` prints the resolved configuration with secrets redacted: credentials in
 * URLs, secret query parameters and values under secret-sounding keys; file paths are shown.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { REDACTED, redactConfig } from "../../../common/auth/redact-config.js";
import { projectPath } from "../../../common/paths.js";

const run = promisify(execFile);

describe("redactConfig", () => {
  it.each([
    [
      "a URL's user and password",
      { endpoint: "https://bob:hunter2@tempo:4318/v1/traces" },
      { endpoint: `https://${REDACTED}@tempo:4318/v1/traces` },
    ],
    [
      "a secret query parameter",
      { endpoint: "http://c:4318/v1/traces?token=s3cret&x=1" },
      { endpoint: `http://c:4318/v1/traces?token=${REDACTED}&x=1` },
    ],
    [
      "each URL of an agents= list",
      { source: "agents=http://u:p@a:9464,http://b:9464" },
      { source: `agents=http://${REDACTED}@a:9464,http://b:9464` },
    ],
    [
      "a value under a secret key",
      { influx: { password: "hunter2", apiKey: "k" } },
      { influx: { password: REDACTED, apiKey: REDACTED } },
    ],
    [
      "nothing in a file path under a secret-sounding key",
      { tokenFile: "/var/run/secrets/tokens", credentialsFile: "/etc/c" },
      { tokenFile: "/var/run/secrets/tokens", credentialsFile: "/etc/c" },
    ],
    [
      "nothing in plain values",
      { listen: { host: "0.0.0.0", port: 9465 }, list: ["a", 1, true] },
      { listen: { host: "0.0.0.0", port: 9465 }, list: ["a", 1, true] },
    ],
  ])("redacts %s", (_name, input, expected) => {
    expect(redactConfig(input)).toEqual(expected);
  });

  it("leaves its input unchanged", () => {
    const input = { password: "x" };
    redactConfig(input);
    expect(input.password).toBe("x");
  });
});

describe("inferwatch config dump", () => {
  it("prints the resolved configuration, the secrets redacted and the security settings shown", async () => {
    const { stdout } = await run(
      process.execPath,
      [
        projectPath("dist/cli/main.js"),
        "config",
        "dump",
        "--forward-endpoint",
        "https://bob:hunter2@tempo:4318/v1/traces",
        "--auth-token-file",
        "/etc/inferwatch/tokens",
      ],
      {
        env: {
          PATH: process.env["PATH"] ?? "",
          INFERWATCH_SOURCE: "prometheus=https://svc:s3cretpass@prometheus:9090",
        },
      },
    );
    expect(stdout).not.toContain("hunter2");
    expect(stdout).not.toContain("s3cretpass");
    const dumped = JSON.parse(stdout) as {
      agent: { forward: { endpoint: string } };
      analyzer: { source: string };
      auth: { tokenFile: string };
      tls: { listeners: string[] };
    };
    expect(dumped.agent.forward.endpoint).toBe(`https://${REDACTED}@tempo:4318/v1/traces`);
    expect(dumped.analyzer.source).toBe(`prometheus=https://${REDACTED}@prometheus:9090`);
    expect(dumped.auth.tokenFile).toBe("/etc/inferwatch/tokens");
    expect(dumped.tls.listeners).toEqual(["metrics", "otlp-http", "otlp-grpc", "analyzer"]);
  });

  it.each([
    ["a certificate without its key", ["--tls-cert-file", "/x.crt"], /tls\.keyFile: certFile and keyFile go together/],
    ["an unknown listener", ["--tls-listeners", "metrics,ftp"], /tls\.listeners\.1: .*expected one of/],
    [
      "a client CA without a certificate",
      ["--tls-client-ca-file", "/ca.crt"],
      /tls\.clientCaFile: clientCaFile \(mTLS\) needs certFile and keyFile/,
    ],
  ])("rejects %s with its path and exits 2", async (_name, args, message) => {
    const failure = await run(process.execPath, [projectPath("dist/cli/main.js"), "config", "dump", ...args], {
      env: { PATH: process.env["PATH"] ?? "" },
    }).catch((err: { code: number; stderr: string }) => err);
    expect("code" in failure ? failure.code : 0).toBe(2);
    expect("stderr" in failure ? failure.stderr : "").toMatch(message);
  });
});
