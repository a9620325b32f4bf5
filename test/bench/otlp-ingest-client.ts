/**
 * The sending side of the OTLP ingest benchmark, run as a child process (node:child_process fork)
 * so the receiver under test keeps its own core. It encodes one protobuf batch of vLLM `llm_request`
 * spans with the SDK's serializer, then on each `run` message from the parent sends it to
 * `POST /v1/traces` and reports what came back.
 *
 * Two load shapes:
 * - closed: `connections` keep-alive connections, each sending its next request when the previous
 *   answer arrives; latency is the client's view of one request (what an exporter waits for).
 * - open: requests started at `ratePerSecond` regardless of answers (a fleet of exporters that do
 *   not slow down), on up to `connections` sockets; when all are busy and `maxQueued` requests are
 *   waiting for one, further sends are skipped and counted, so the client itself stays bounded.
 */
import { Agent, request } from "node:http";
import { gzipSync } from "node:zlib";
import { vllmRawSpan } from "../fixtures/spans.js";
import { protobufRequest, runtimeOtelResource, toReadableSpan } from "../agent/receivers/receiver-harness.js";

/** Spans per request: what a BatchSpanProcessor exports by default (maxExportBatchSize 512). */
export const BATCH_SPANS = 512;

export interface ClosedLoad {
  readonly shape: "closed";
  readonly port: number;
  readonly connections: number;
  readonly durationMs: number;
}

export interface OpenLoad {
  readonly shape: "open";
  /** Send the batch gzip-compressed (Content-Encoding: gzip), as the OTel Collector's exporter does by default. */
  readonly gzip: boolean;
  readonly port: number;
  readonly connections: number;
  readonly ratePerSecond: number;
  readonly maxQueued: number;
  readonly durationMs: number;
}

export type LoadMessage = { readonly kind: "run"; readonly load: ClosedLoad | OpenLoad } | { readonly kind: "exit" };

export interface LoadReport {
  readonly kind: "report";
  readonly elapsedMs: number;
  /** Requests by HTTP status; 0 counts transport errors. */
  readonly statuses: Readonly<Record<string, number>>;
  /** Latencies of 200 responses, ms, sorted ascending. */
  readonly latenciesMs: readonly number[];
  /** Open load only: sends skipped because the client had too many requests waiting. */
  readonly skipped: number;
}

export interface ReadyMessage {
  readonly kind: "ready";
  readonly payloadBytes: number;
  readonly gzipBytes: number;
  readonly spans: number;
}

/** A request body and how it is encoded. */
interface Payload {
  readonly bytes: Uint8Array;
  readonly isGzip: boolean;
}

/** One batch of distinct vLLM spans, encoded once. */
function encodeBatch(): Uint8Array {
  const resource = runtimeOtelResource("vllm");
  const spans = Array.from({ length: BATCH_SPANS }, (_, i) =>
    toReadableSpan(
      vllmRawSpan({
        traceId: (0x10000000 + i).toString(16).padStart(32, "4"),
        spanId: (0x20000000 + i).toString(16).padStart(16, "0"),
        attributes: {
          "gen_ai.request.id": `cmpl-${i.toString(16).padStart(32, "0")}`,
          "gen_ai.usage.prompt_tokens": 100 + (i % 900),
        },
      }),
      resource,
    ),
  );
  return protobufRequest(spans);
}

class Recorder {
  readonly statuses: Record<string, number> = {};
  readonly latenciesMs: number[] = [];

  record(status: number, latencyMs: number): void {
    this.statuses[status] = (this.statuses[status] ?? 0) + 1;
    if (status === 200) this.latenciesMs.push(latencyMs);
  }
}

function send(agent: Agent, port: number, payload: Payload, recorder: Recorder): Promise<void> {
  return new Promise((resolve) => {
    const startedAt = performance.now();
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/v1/traces",
        agent,
        headers: {
          "content-type": "application/x-protobuf",
          "content-length": payload.bytes.length,
          ...(payload.isGzip ? { "content-encoding": "gzip" } : {}),
        },
      },
      (response) => {
        response.resume();
        response.on("end", () => {
          recorder.record(response.statusCode ?? 0, performance.now() - startedAt);
          resolve();
        });
        response.on("error", () => {
          recorder.record(0, 0);
          resolve();
        });
      },
    );
    req.on("error", () => {
      recorder.record(0, 0);
      resolve();
    });
    req.end(payload.bytes);
  });
}

async function runClosed(load: ClosedLoad, payload: Payload): Promise<LoadReport> {
  const agent = new Agent({ keepAlive: true, maxSockets: load.connections });
  const recorder = new Recorder();
  const startedAt = performance.now();
  const deadline = startedAt + load.durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) await send(agent, load.port, payload, recorder);
  };
  await Promise.all(Array.from({ length: load.connections }, worker));
  const elapsedMs = performance.now() - startedAt;
  agent.destroy();
  return {
    kind: "report",
    elapsedMs,
    statuses: recorder.statuses,
    latenciesMs: recorder.latenciesMs.sort((a, b) => a - b),
    skipped: 0,
  };
}

async function runOpen(load: OpenLoad, payload: Payload): Promise<LoadReport> {
  const agent = new Agent({ keepAlive: true, maxSockets: load.connections });
  const recorder = new Recorder();
  const inFlight = new Set<Promise<void>>();
  let skipped = 0;
  let started = 0;
  const startOne = (): void => {
    started++;
    if (inFlight.size >= load.connections + load.maxQueued) {
      skipped++;
      return;
    }
    const sending = send(agent, load.port, payload, recorder).finally(() => inFlight.delete(sending));
    inFlight.add(sending);
  };
  const startedAt = performance.now();
  // Every sender connects at once, as a fleet of exporters with open keep-alive connections would be.
  // Ramping up instead lets a saturated Node server accept the late connections only a few per
  // second (they wait in the kernel's accept queue), which would test the accept queue, not admission.
  for (let i = 0; i < load.connections; i++) startOne();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsedMs = performance.now() - startedAt;
      if (elapsedMs >= load.durationMs) {
        clearInterval(tick);
        resolve();
        return;
      }
      const due = Math.floor((elapsedMs / 1000) * load.ratePerSecond) - started;
      for (let i = 0; i < due; i++) startOne();
    }, 5);
  });
  await Promise.all(inFlight);
  const elapsedMs = performance.now() - startedAt;
  agent.destroy();
  return {
    kind: "report",
    elapsedMs,
    statuses: recorder.statuses,
    latenciesMs: recorder.latenciesMs.sort((a, b) => a - b),
    skipped,
  };
}

if (process.send) {
  const plain: Payload = { bytes: encodeBatch(), isGzip: false };
  const gzipped: Payload = { bytes: gzipSync(plain.bytes), isGzip: true };
  const reply = (message: ReadyMessage | LoadReport): void => {
    process.send?.(message);
  };
  process.on("message", (message: LoadMessage) => {
    if (message.kind === "exit") {
      process.disconnect();
      return;
    }
    const { load } = message;
    const run = load.shape === "closed" ? runClosed(load, plain) : runOpen(load, load.gzip ? gzipped : plain);
    run.then(reply, (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
      process.disconnect();
    });
  });
  reply({ kind: "ready", payloadBytes: plain.bytes.length, gzipBytes: gzipped.bytes.length, spans: BATCH_SPANS });
}
