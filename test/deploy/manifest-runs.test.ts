/**
 * The manifests' settings run: `inferwatch agent` and `inferwatch analyzer` started as processes
 * with the DaemonSet's and the Deployment's INFERWATCH_* variables (their file paths re-rooted in a
 * temp directory holding a test certificate and token files, as the Secrets would be mounted) answer
 * their probes over HTTPS, refuse plain HTTP, and require the tokens the manifests configure.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectPath } from "../../common/paths.js";
import { startAgentProcess, type AgentProcess } from "../fixtures/agent-process.js";
import { waitFor } from "../fixtures/wait.js";
import { createTestPki, type TestPki } from "../common/tls/certs.js";
import { call } from "../common/tls/https-client.js";
import { find, literalEnv, manifestFiles, podSpec, readObjects, type Container } from "./manifests.js";

const TOKENS = {
  ingest: "ingest-token-for-the-runtimes-0001",
  viewer: "viewer-token-for-grafana-000001",
  operator: "operator-token-for-alice-000001",
};
const objects = manifestFiles().flatMap((file) => readObjects(file));
let pki: TestPki;
let root: string;

/** The container's INFERWATCH_* variables with every absolute path moved under `root`. */
function rerootedEnv(container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(literalEnv(container))) {
    if (name.startsWith("INFERWATCH_")) env[name] = value.startsWith("/") ? join(root, value) : value;
  }
  return env;
}

/** Writes the Secret files where the re-rooted paths point. */
function mountSecrets(env: Record<string, string>, tokens: string): void {
  const place = (path: string | undefined, write: (path: string) => void) => {
    if (path === undefined) return;
    mkdirSync(dirname(path), { recursive: true });
    write(path);
  };
  place(env["INFERWATCH_TLS_CERT_FILE"], (path) => copyFileSync(pki.server.cert, path));
  place(env["INFERWATCH_TLS_KEY_FILE"], (path) => copyFileSync(pki.server.key, path));
  place(env["INFERWATCH_AUTH_TOKEN_FILE"], (path) => writeFileSync(path, tokens));
  place(env["INFERWATCH_AUDIT_LOG"], () => undefined);
}

beforeAll(() => {
  pki = createTestPki();
  root = mkdtempSync(join(tmpdir(), "inferwatch-deploy-"));
});
afterAll(() => {
  pki.cleanup();
  rmSync(root, { recursive: true, force: true });
});

describe("inferwatch agent with the DaemonSet's settings", () => {
  let agent: AgentProcess;
  let port: number;
  let otlpPort: number;
  const container = podSpec(find(objects, "DaemonSet", "inferwatch-agent")).containers[0] as Container;

  beforeAll(async () => {
    const env = rerootedEnv(container);
    mountSecrets(env, `ingest:vllm:${TOKENS.ingest}\n`);
    agent = await startAgentProcess(["--nvml-library", "/nonexistent/libnvidia-ml.so.1"], env);
    port = Number(agent.url.split(":").at(-1));
    otlpPort = Number(agent.otlpHttp?.split(":").at(-1));
  }, 30_000);
  afterAll(() => agent.stop());

  it("answers the probes' paths over HTTPS", async () => {
    expect((await call(port, container.livenessProbe?.httpGet.path ?? "", { ca: pki.ca.cert })).status).toBe(200);
    let ready = 0;
    await waitFor(
      () => ready === 200,
      10_000,
      async () => {
        ready = (await call(port, container.readinessProbe?.httpGet.path ?? "", { ca: pki.ca.cert })).status;
      },
    );
  });

  it("refuses plain HTTP", async () => {
    await expect(call(port, "/healthz")).rejects.toThrow();
  });

  it("takes spans over HTTPS with the ingest token only", async () => {
    const post = (token?: string) =>
      call(otlpPort, "/v1/traces", {
        method: "POST",
        ca: pki.ca.cert,
        body: JSON.stringify({ resourceSpans: [] }),
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      });
    expect((await post()).status).toBe(401);
    expect((await post(TOKENS.ingest)).status).toBe(200);
  });

  it("never logs the token", () => {
    expect(agent.stderr()).not.toContain(TOKENS.ingest);
  });
});

describe("inferwatch analyzer with the Deployment's settings", () => {
  let child: ChildProcess;
  let stderr = "";
  let port = 0;
  const container = podSpec(find(objects, "Deployment", "inferwatch-analyzer")).containers[0] as Container;
  let env: Record<string, string>;

  beforeAll(async () => {
    env = {
      ...rerootedEnv(container),
      INFERWATCH_LISTEN: "127.0.0.1:0",
      INFERWATCH_SOURCE: "prometheus=http://127.0.0.1:1",
    };
    mountSecrets(env, `viewer:grafana:${TOKENS.viewer}\noperator:alice:${TOKENS.operator}\n`);
    child = spawn(process.execPath, [projectPath("dist/cli/main.js"), ...(container.args ?? [])], {
      env: { PATH: process.env["PATH"] ?? "", ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    await waitFor(() => /"server":"analyzer"/.test(stderr), 15_000);
    port = Number(/"server":"analyzer","address":"[^"]*:(\d+)"/.exec(stderr)?.[1]);
  }, 30_000);
  afterAll(async () => {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  });

  it("answers its liveness probe over HTTPS without a token", async () => {
    expect((await call(port, container.livenessProbe?.httpGet.path ?? "", { ca: pki.ca.cert })).status).toBe(200);
  });

  it("requires a viewer token to read and an operator token to act, and audits the action", async () => {
    expect((await call(port, "/api/v1/slos", { ca: pki.ca.cert })).status).toBe(401);
    expect(
      (await call(port, "/api/v1/slos", { ca: pki.ca.cert, headers: { authorization: `Bearer ${TOKENS.viewer}` } }))
        .status,
    ).toBe(200);
    const act = (token: string) =>
      call(port, "/api/v1/recommendations/acknowledge", {
        method: "POST",
        ca: pki.ca.cert,
        body: JSON.stringify({ id: "evict:ns/pod" }),
        headers: { authorization: `Bearer ${token}` },
      });
    expect((await act(TOKENS.viewer)).status).toBe(403);
    expect((await act(TOKENS.operator)).status).toBe(404);
    const auditFile = env["INFERWATCH_AUDIT_LOG"] as string;
    await waitFor(() => {
      try {
        return readFileSync(auditFile, "utf8").includes('"who":"alice"');
      } catch {
        return false;
      }
    });
    expect(JSON.parse(readFileSync(auditFile, "utf8").trim().split("\n").at(-1) as string)).toMatchObject({
      who: "alice",
      action: "recommendation.acknowledge",
      target: "evict:ns/pod",
      outcome: "not-found",
    });
  });

  it("never logs a token", () => {
    for (const token of Object.values(TOKENS)) expect(stderr).not.toContain(token);
  });
});
