/**
 * The price of security on the ingest path:
 * 1. A token check (SHA-256 of the presented token, then timingSafeEqual against every digest) with
 *    10 and 1,000 tokens in the file: microseconds per check.
 * 2. OTLP/HTTP requests (512 vLLM spans, protobuf) over keep-alive connections, plain HTTP against
 *    HTTPS with an ingest token: requests per second and p99 latency, BENCH_SECURITY_SECONDS each
 *    (default 5). The client runs in this process, so both figures include its own work.
 *
 * Run: `npx tsc -p tsconfig.json && BENCH_ONLY=security node dist/test/bench/run.js`.
 */
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAdmission } from "../../agent/receivers/admission.js";
import { startOtlpHttpReceiver } from "../../agent/receivers/otlp-http-receiver.js";
import type { SpanConsumer } from "../../agent/receivers/span-consumer.js";
import { authConfigSchema } from "../../common/auth/auth-config.js";
import { loadSecurity } from "../../common/auth/security.js";
import { parseTokenFile } from "../../common/auth/tokens.js";
import { silentLogger } from "../../common/log.js";
import { tlsConfigSchema } from "../../common/tls/tls-config.js";
import { allowListFilter, receiverConfig, toReadableSpan } from "../agent/receivers/receiver-harness.js";
import { createTestPki } from "../common/tls/certs.js";
import { vllmRawSpan } from "../fixtures/spans.js";
import { percentile, type BenchRow } from "./table.js";

const TOKEN = "ingest-token-for-the-benchmark-01";
/** Takes the spans and keeps nothing: the benchmark measures the transport, not the pipeline. */
const discard: SpanConsumer = { consume: () => ({ rejectedSpans: 0 }) };

function tokenCheckMicros(count: number): number {
  const lines = Array.from({ length: count }, (_, i) => `ingest:runtime-${i}:${TOKEN}-${String(i).padStart(6, "0")}`);
  const parsed = parseTokenFile(lines.join("\n"));
  if (!parsed.ok) throw new Error(parsed.problems.join("; "));
  const rounds = 20_000;
  const started = performance.now();
  for (let i = 0; i < rounds; i++) parsed.tokens.verify(`${TOKEN}-${String(i % count).padStart(6, "0")}`);
  return ((performance.now() - started) * 1000) / rounds;
}

interface Load {
  readonly perSecond: number;
  readonly p99Ms: number;
}

async function drive(port: number, body: Buffer, seconds: number, tls: { ca: Buffer } | undefined): Promise<Load> {
  const agent = tls
    ? new HttpsAgent({ keepAlive: true, maxSockets: 4, ca: tls.ca })
    : new HttpAgent({ keepAlive: true, maxSockets: 4 });
  const headers = {
    "content-type": "application/x-protobuf",
    "content-length": String(body.length),
    ...(tls ? { authorization: `Bearer ${TOKEN}` } : {}),
  };
  const latencies: number[] = [];
  const end = Date.now() + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      const started = performance.now();
      const send = tls ? httpsRequest : httpRequest;
      const req = send({ host: "127.0.0.1", port, path: "/v1/traces", method: "POST", headers, agent }, (response) => {
        response.resume();
        response.on("end", () => {
          if (response.statusCode !== 200) reject(new Error(`status ${response.statusCode}`));
          latencies.push(performance.now() - started);
          resolve();
        });
      });
      req.on("error", reject);
      req.end(body);
    });
  const worker = async () => {
    while (Date.now() < end) await one();
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  agent.destroy();
  return { perSecond: latencies.length / seconds, p99Ms: percentile(latencies, 99) };
}

/** The rows of the security section. */
export async function benchSecurity(seconds = Number(process.env["BENCH_SECURITY_SECONDS"] ?? 5)): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const count of [10, 1000])
    rows.push({ name: `token check, ${count} tokens in the file`, value: `${tokenCheckMicros(count).toFixed(1)} µs` });
  const pki = createTestPki();
  const dir = mkdtempSync(join(tmpdir(), "inferwatch-bench-"));
  try {
    writeFileSync(join(dir, "tokens"), `ingest:bench:${TOKEN}\n`);
    const body = Buffer.from(
      ProtobufTraceSerializer.serializeRequest(Array.from({ length: 512 }, () => toReadableSpan(vllmRawSpan()))) ?? [],
    );
    const log = silentLogger();
    const security = await loadSecurity(
      {
        tls: tlsConfigSchema.parse({ certFile: pki.server.cert, keyFile: pki.server.key }),
        auth: authConfigSchema.parse({ tokenFile: join(dir, "tokens") }),
      },
      log,
    );
    const base = {
      config: receiverConfig({ maxBodyBytes: "20MiB", maxInflightBytes: "64MiB" }),
      filter: allowListFilter,
      log,
      admission: createAdmission(64 << 20),
    };
    const plain = await startOtlpHttpReceiver({ ...base, consumer: discard });
    const secured = await startOtlpHttpReceiver({
      ...base,
      consumer: discard,
      security: { tls: security.tlsFor("otlp-http"), auth: security.auth },
    });
    try {
      const open = await drive(plain.address.port, body, seconds, undefined);
      const closed = await drive(secured.address.port, body, seconds, { ca: readFileSync(pki.ca.cert) });
      rows.push(
        {
          name: "OTLP/HTTP, 512-span requests, plain HTTP",
          value: `${Math.round(open.perSecond)} req/s (${Math.round(open.perSecond * 512)} spans/s), p99 ${open.p99Ms.toFixed(1)} ms`,
        },
        {
          name: "OTLP/HTTP, 512-span requests, HTTPS + ingest token",
          value: `${Math.round(closed.perSecond)} req/s (${Math.round(closed.perSecond * 512)} spans/s), p99 ${closed.p99Ms.toFixed(1)} ms`,
        },
      );
    } finally {
      await Promise.all([plain.close(), secured.close()]);
      security.stop();
    }
  } finally {
    pki.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
