/**
 * Hostile HTTP clients against the agent's /metrics listener (the real agent process) and the
 * analyzer's API listener (in process, empty store): slow-loris headers, oversized headers and
 * URLs, a large body sent where none is read, and traversal-shaped paths. Each listener must cut
 * off or refuse the client and keep serving everyone else. (The OTLP/HTTP receiver has its own
 * timeout and body-size tests in test/agent/receivers/otlp-http-receiver.test.ts.)
 */
import { connect, type Socket } from "node:net";
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAnalyzer, type Analyzer } from "../../analyzer/service.js";
import { DEFAULT_SLO_CONFIG } from "../../common/slo/spec.js";
import { MemoryStore } from "../../analyzer/stores/memory-store.js";
import { analyzerConfigSchema } from "../../common/config/schema.js";
import { silentLogger } from "../../common/log.js";
import { startAgentProcess, type AgentProcess } from "../fixtures/agent-process.js";

/** The listeners' header timeout (common/http-server.ts), enforced within a second. */
const HEADERS_TIMEOUT_MS = 10_000;

let agent: AgentProcess;
let analyzer: Analyzer;
const targets: { name: string; host: string; port: number }[] = [];

beforeAll(async () => {
  agent = await startAgentProcess([
    "--nvml-library",
    "/nonexistent/libnvidia-ml.so.1",
    "--pods",
    "false",
    "--interval",
    "1s",
  ]);
  const config = analyzerConfigSchema.parse({
    listen: "127.0.0.1:0",
    source: "agents=http://127.0.0.1:1",
    interval: "1h",
  });
  analyzer = await startAnalyzer(config, DEFAULT_SLO_CONFIG, new MemoryStore(), silentLogger());
  const agentUrl = new URL(agent.url);
  targets.push({ name: "agent /metrics listener", host: agentUrl.hostname, port: Number(agentUrl.port) });
  targets.push({ name: "analyzer API listener", host: "127.0.0.1", port: analyzer.address.port });
});

afterAll(async () => {
  await analyzer?.shutdown();
  await agent?.stop();
});

/** What came back on a raw connection until the server closed it (or `giveUpMs` passed). */
interface RawExchange {
  readonly response: string;
  readonly closedAfterMs: number | undefined;
}

/** Opens a raw TCP connection, lets `drive` write to it, and collects the answer until close. */
function raw(
  target: { host: string; port: number },
  drive: (socket: Socket) => void,
  giveUpMs: number,
): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = connect(target.port, target.host);
    const started = performance.now();
    let response = "";
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ response, closedAfterMs: undefined });
    }, giveUpMs);
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => (response += chunk));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ response, closedAfterMs: performance.now() - started });
    });
    socket.on("connect", () => drive(socket));
  });
}

async function isServing(target: { host: string; port: number }): Promise<boolean> {
  const response = await fetch(`http://${target.host}:${target.port}/healthz`);
  return response.status === 200 && (await response.text()).length > 0;
}

describe.each([{ name: "agent /metrics listener" }, { name: "analyzer API listener" }])("$name", ({ name }) => {
  const target = () => targets.find((t) => t.name === name) as { host: string; port: number };

  it("cuts off a client sending its headers a byte a second at the headers timeout, serving others meanwhile", async () => {
    let timer: NodeJS.Timeout | undefined;
    const exchange = raw(
      target(),
      (socket) => {
        socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");
        timer = setInterval(() => socket.write("X"), 1000);
      },
      HEADERS_TIMEOUT_MS + 10_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await isServing(target())).toBe(true);
    const result = await exchange;
    clearInterval(timer);
    expect(result.closedAfterMs).toBeDefined();
    expect(result.closedAfterMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 500);
    expect(result.response).toMatch(/^HTTP\/1\.1 408/);
    expect(await isServing(target())).toBe(true);
  }, 30_000);

  it("refuses 64 KiB of headers and a 64 KiB URL with 431", async () => {
    const bigHeader = await raw(
      target(),
      (s) => s.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(64 * 1024)}\r\n\r\n`),
      5_000,
    );
    expect(bigHeader.response).toMatch(/^HTTP\/1\.1 431/);
    const bigUrl = await raw(
      target(),
      (s) => s.write(`GET /healthz?${"a".repeat(64 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`),
      5_000,
    );
    expect(bigUrl.response).toMatch(/^HTTP\/1\.1 431/);
    expect(await isServing(target())).toBe(true);
  });

  it("answers a 32 MiB body sent to a GET route with 405 (or closes the connection), and keeps serving", async () => {
    const body = Buffer.alloc(32 * 1024 * 1024, 0x61);
    const response = await fetch(`http://${target().host}:${target().port}/healthz`, { method: "PUT", body }).catch(
      (err: unknown) => err,
    );
    // Either the 405 arrives or the server closes the connection while the body is still being sent.
    if (response instanceof Response) expect(response.status).toBe(405);
    expect(await isServing(target())).toBe(true);
  });

  it.each([
    "/../../../../etc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/..%2f..%2f..%2fetc%2fpasswd",
    "/report/../../package.json",
    "/report/..%2f..%2fpackage.json",
    "/report/%2e%2e/%2e%2e/package.json",
    "//etc/passwd",
    "/static/../../../../etc/passwd",
    "/report/static/..%5c..%5cpackage.json",
  ])("answers the traversal-shaped path %s with 404 and no file content", async (path) => {
    const exchange = await raw(
      target(),
      (s) => s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
      5_000,
    );
    expect(exchange.response).toMatch(/^HTTP\/1\.1 (404|400)/);
    const packageJson = await readFile(new URL("../../package.json", import.meta.url), "utf8");
    expect(exchange.response).not.toContain("root:x:0:0");
    expect(exchange.response).not.toContain(packageJson.slice(0, 40));
  });
});

it("the agent process survived every hostile request and logged no crash", async () => {
  expect(agent.child.exitCode).toBeNull();
  expect(agent.logs().filter((l) => Number(l["level"]) >= 50)).toEqual([]);
});
