/**
 * The upstream OTLP endpoint (Tempo, a collector) down, then hanging, then back. The
 * agent's forward queue must stay bounded, every span it could not forward must be counted by
 * reason, ingest and the span metrics must not notice, and forwarding must resume on its own.
 */
import { writeFile, mkdtemp } from "node:fs/promises";
import { createServer, Agent, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { METRICS } from "../../common/conventions.js";
import { scrapeUntil, startAgentProcess, type AgentProcess } from "../fixtures/agent-process.js";
import { valueOf, type Series } from "../fixtures/exposition.js";
import { freePort } from "../fixtures/server-process.js";
import { encodeSpanBatch, postSpans } from "./span-load.js";

const QUEUE = 1000;
const BATCH = 100;
let agent: AgentProcess | undefined;
let upstream: Server | undefined;
const http = new Agent({ keepAlive: true, maxSockets: 4 });

afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  upstream?.closeAllConnections();
  await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
  upstream = undefined;
});

const forwarded = (series: readonly Series[], result: string): number =>
  valueOf(series, METRICS.forwardedSpans.name, { result }) ?? 0;
const queued = (series: readonly Series[]): number => valueOf(series, METRICS.forwardQueue.name) ?? Number.NaN;

/** Sends `requests` export requests of BATCH spans; returns how many spans were accepted with 200. */
async function send(address: string, requests: number): Promise<number> {
  const body = encodeSpanBatch(BATCH);
  let accepted = 0;
  for (let i = 0; i < requests; i++) if ((await postSpans(http, address, body)) === 200) accepted += BATCH;
  return accepted;
}

async function listen(port: number, handler: Parameters<typeof createServer>[1]): Promise<Server> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return server;
}

it("keeps the forward queue bounded while the upstream is down or hangs, counts every dropped span, and resumes when it is back", async () => {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), "inferwatch-forward-"));
  const config = join(dir, "inferwatch.yaml");
  await writeFile(
    config,
    [
      "agent:",
      "  forward:",
      `    endpoint: http://127.0.0.1:${port}/v1/traces`,
      `    queueSize: ${QUEUE}`,
      `    batchSize: ${BATCH}`,
      "    flushInterval: 100ms",
      "    timeout: 500ms",
      "",
    ].join("\n"),
  );
  agent = await startAgentProcess([
    "--nvml-library",
    "/nonexistent/libnvidia-ml.so.1",
    "--pods",
    "false",
    "--config",
    config,
  ]);
  const a = agent;
  const otlp = a.otlpHttp as string;

  // 1. Nothing listens upstream: every batch fails and is counted; ingest is unaffected.
  const downAccepted = await send(otlp, 20);
  expect(downAccepted).toBe(20 * BATCH);
  const down = await scrapeUntil(
    a,
    (s) =>
      forwarded(s, "dropped_export_failed") + forwarded(s, "dropped_queue_full") === downAccepted && queued(s) === 0,
    30_000,
  );
  expect(forwarded(down, "sent")).toBe(0);
  expect(valueOf(down, METRICS.otlpSpans.name, { outcome: "recorded" })).toBe(downAccepted);
  expect(a.logs().some((l) => l["msg"] === "span forwarding failed; dropping the batch (counted)")).toBe(true);

  // 2. The upstream accepts connections and never answers: the queue fills to its bound, the rest is dropped and counted.
  const hanging: ServerResponse[] = [];
  let isUp = false;
  upstream = await listen(port, (request, response) => {
    request.resume();
    if (isUp) request.on("end", () => response.writeHead(200, { "content-type": "application/x-protobuf" }).end());
    else hanging.push(response);
  });
  const before = await a.scrape();
  const hangAccepted = await send(otlp, 40);
  expect(hangAccepted).toBe(40 * BATCH);
  const full = await a.scrape();
  expect(queued(full.series)).toBeLessThanOrEqual(QUEUE);
  // Each hung export frees one batch when it times out, so how many hit the bound depends on speed; that some did does not.
  expect(forwarded(full.series, "dropped_queue_full") - forwarded(before.series, "dropped_queue_full")).toBeGreaterThan(
    0,
  );
  expect(valueOf(full.series, METRICS.otlpSpans.name, { outcome: "recorded" })).toBe(downAccepted + hangAccepted);

  // 3. The upstream answers again: forwarding resumes by itself and every span is accounted for.
  isUp = true;
  const upAccepted = await send(otlp, 5);
  const results = ["sent", "dropped_queue_full", "dropped_export_failed"];
  const total = downAccepted + hangAccepted + upAccepted;
  const back = await scrapeUntil(
    a,
    (s) =>
      forwarded(s, "sent") >= upAccepted &&
      queued(s) === 0 &&
      results.reduce((sum, r) => sum + forwarded(s, r), 0) === total,
    30_000,
  );
  expect(forwarded(back, "sent")).toBeGreaterThanOrEqual(upAccepted);
  expect(a.logs().some((l) => l["msg"] === "span forwarding recovered")).toBe(true);
  for (const response of hanging) response.destroy();
  expect(a.child.exitCode).toBeNull();
}, 90_000);
