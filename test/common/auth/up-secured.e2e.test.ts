/**
 * `inferwatch up` with a certificate and a token file, as docs/deployment-and-security.md documents:
 * the analyzer API answers over HTTPS only, reads need a viewer token, an operator acknowledges a
 * live recommendation of the simulated fleet and the audit log records it; the agents' /metrics,
 * pulled by the embedded analyzer, stays plain HTTP.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { projectPath } from "../../../common/paths.js";
import { recommendationIds } from "../../../analyzer/api/recommendation-actions.js";
import type { Recommendations } from "../../../analyzer/recommend/recommendations.js";
import { waitFor } from "../../fixtures/wait.js";
import { createTestPki } from "../tls/certs.js";
import { call } from "../tls/https-client.js";

const VIEWER = "viewer-token-for-the-up-test-01";
const OPERATOR = "operator-token-for-the-up-test-1";

it("serves the analyzer API over HTTPS with tokens and audits an acknowledgement", async () => {
  const pki = createTestPki();
  const dir = mkdtempSync(join(tmpdir(), "inferwatch-up-"));
  const tokens = join(dir, "tokens");
  const audit = join(dir, "audit.jsonl");
  writeFileSync(tokens, `viewer:grafana:${VIEWER}\noperator:alice:${OPERATOR}\n`);
  const child = spawn(
    process.execPath,
    [
      projectPath("dist/cli/main.js"),
      "up",
      "--metrics-addr",
      "127.0.0.1:0",
      "--listen",
      "127.0.0.1:0",
      "--eval-interval",
      "2s",
      "--pull-interval",
      "1s",
      "--tls-cert-file",
      pki.server.cert,
      "--tls-key-file",
      pki.server.key,
      "--auth-token-file",
      tokens,
      "--audit-log",
      audit,
    ],
    {
      env: { PATH: process.env["PATH"] ?? "", INFERWATCH_NVML_LIBRARY: "/nonexistent/libnvidia-ml.so.1" },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let log = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (log += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    await waitFor(() => log.includes("inferwatch is up"), 30_000);
    const port = Number(/SLOs: https:\/\/127\.0\.0\.1:(\d+)\/api\/v1\/slos/.exec(log)?.[1]);
    expect(port).toBeGreaterThan(0);
    const viewer = { ca: pki.ca.cert, headers: { authorization: `Bearer ${VIEWER}` } };
    await expect(call(port, "/api/v1/slos")).rejects.toThrow();
    expect((await call(port, "/api/v1/slos", { ca: pki.ca.cert })).status).toBe(401);
    const slos = JSON.parse((await call(port, "/api/v1/slos", viewer)).body) as { slos: unknown[] };
    expect(slos.slos).toHaveLength(6);

    let recommendations: Recommendations | null = null;
    await waitFor(
      () => recommendationIds(recommendations ?? undefined).size > 0,
      15_000,
      async () => {
        recommendations = (
          JSON.parse((await call(port, "/api/v1/recommendations", viewer)).body) as {
            recommendations: Recommendations | null;
          }
        ).recommendations;
      },
    );
    const id = [...recommendationIds(recommendations ?? undefined)][0] as string;
    const act = (token: string) =>
      call(port, "/api/v1/recommendations/acknowledge", {
        method: "POST",
        ca: pki.ca.cert,
        body: JSON.stringify({ id }),
        headers: { authorization: `Bearer ${token}` },
      });
    expect((await act(VIEWER)).status).toBe(403);
    expect((await act(OPERATOR)).status).toBe(200);
    const listed = JSON.parse((await call(port, "/api/v1/recommendations", viewer)).body) as {
      actions: { id: string; state: string; by: string }[];
    };
    expect(listed.actions).toContainEqual(expect.objectContaining({ id, state: "acknowledged", by: "alice" }));
    await waitFor(() => {
      try {
        return readFileSync(audit, "utf8").includes(`"target":${JSON.stringify(id)}`);
      } catch {
        return false;
      }
    });

    const agentMetrics = /agent metrics: (http:\/\/[\d.:]+\/metrics)/.exec(log)?.[1] as string;
    expect((await fetch(agentMetrics)).status).toBe(200);
    for (const token of [VIEWER, OPERATOR]) expect(log).not.toContain(token);
  } finally {
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    pki.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}, 90_000);
