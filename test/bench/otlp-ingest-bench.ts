/**
 * OTLP/HTTP ingest: the receiver runs in this process (decode + consume on its one event loop);
 * a forked client process (otlp-ingest-client.ts) sends protobuf batches of 512 vLLM spans.
 *
 * 1. Sustained: keep-alive connections sending back to back for BENCH_OTLP_SECONDS (default 10):
 *    spans/s accepted and the p99 of request latency seen by the client.
 * 2. Overload: requests started at 10× the sustained request rate, without waiting for answers,
 *    for BENCH_OVERLOAD_SECONDS (default 60): the receiver's peak RSS (VmHWM, reset before the phase)
 *    and how many requests admission turned away with 429.
 *
 * Run: `npx tsc -p tsconfig.json && node dist/test/bench/otlp-ingest-bench.js`.
 */
import { fork, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { allowedResourceAttributes, allowedSpanAttributes } from "../../agent/processors/profiles/index.js";
import { createAdmission } from "../../agent/receivers/admission.js";
import type { DecodedTraces } from "../../agent/receivers/otlp-model.js";
import { startOtlpHttpReceiver } from "../../agent/receivers/otlp-http-receiver.js";
import type { ConsumeResult, SpanConsumer } from "../../agent/receivers/span-consumer.js";
import { otlpConfigSchema } from "../../common/config/schema.js";
import { silentLogger } from "../../common/log.js";
import type { LoadMessage, LoadReport, ReadyMessage } from "./otlp-ingest-client.js";
import { percentile, renderTable, type BenchRow } from "./table.js";

const MIB = 1024 * 1024;
const TARGET_SPANS_PER_SECOND = 50_000;
const TARGET_P99_MS = 50;
const TARGET_PEAK_RSS_MIB = 256;
/** Concurrent keep-alive connections of the sustained phase (a few runtimes exporting at once). */
const SUSTAINED_CONNECTIONS = 4;
/** Sockets of the overload phase: many senders at once, so admission, not the socket count, limits. */
const OVERLOAD_CONNECTIONS = 256;
const OVERLOAD_FACTOR = 10;

export interface OtlpIngestBenchOptions {
  /** The stage after the receiver; a consumer that only counts spans when absent. */
  readonly consumerFactory?: () => SpanConsumer;
  readonly sustainedSeconds?: number;
  readonly overloadSeconds?: number;
}

/** Counts spans and reads one attribute of each, standing in for the span-metrics pipeline. */
class CountingConsumer implements SpanConsumer {
  spans = 0;
  e2eSum = 0;

  consume(traces: DecodedTraces): ConsumeResult {
    for (const resource of traces.resourceSpans) {
      for (const span of resource.spans) {
        this.spans++;
        const e2e = span.attributes.get("gen_ai.latency.e2e");
        if (typeof e2e === "number") this.e2eSum += e2e;
      }
    }
    return { rejectedSpans: 0 };
  }
}

/** Peak RSS of this process since the last reset, bytes (Linux VmHWM); sampled RSS elsewhere. */
class PeakRss {
  private sampled = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly hasHighWaterMark: boolean;

  constructor() {
    // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0, proc(5)).
    let hasHighWaterMark = false;
    try {
      writeFileSync("/proc/self/clear_refs", "5");
      hasHighWaterMark = /VmHWM:\s+\d+ kB/.test(readFileSync("/proc/self/status", "utf8"));
    } catch {
      hasHighWaterMark = false;
    }
    this.hasHighWaterMark = hasHighWaterMark;
    this.timer = setInterval(() => (this.sampled = Math.max(this.sampled, process.memoryUsage.rss())), 50);
  }

  stop(): number {
    clearInterval(this.timer);
    this.sampled = Math.max(this.sampled, process.memoryUsage.rss());
    if (!this.hasHighWaterMark) return this.sampled;
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    return Math.max(this.sampled, match ? Number(match[1]) * 1024 : 0);
  }
}

function startClient(): Promise<{ child: ChildProcess; ready: ReadyMessage }> {
  const script = fileURLToPath(new URL("./otlp-ingest-client.js", import.meta.url));
  const child = fork(script, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`bench client exited with ${code}`)));
    child.once("message", (message: ReadyMessage) => resolve({ child, ready: message }));
  });
}

function runLoad(child: ChildProcess, load: Extract<LoadMessage, { kind: "run" }>["load"]): Promise<LoadReport> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`bench client exited with ${code}`));
    child.once("exit", onExit);
    child.once("message", (report: LoadReport) => {
      child.off("exit", onExit);
      resolve(report);
    });
    child.send({ kind: "run", load } satisfies LoadMessage);
  });
}

const count = (report: LoadReport, status: number): number => report.statuses[String(status)] ?? 0;
const formatInt = (value: number): string => Math.round(value).toLocaleString("en-US");

/** Runs both phases and returns the benchmark rows. */
export async function benchOtlpIngest(options: OtlpIngestBenchOptions = {}): Promise<BenchRow[]> {
  const sustainedSeconds = options.sustainedSeconds ?? Number(process.env["BENCH_OTLP_SECONDS"] ?? 10);
  const overloadSeconds = options.overloadSeconds ?? Number(process.env["BENCH_OVERLOAD_SECONDS"] ?? 60);
  const config = otlpConfigSchema.parse({ httpAddr: "127.0.0.1:0" });
  const allowed = new Set([...allowedSpanAttributes(), ...allowedResourceAttributes()]);
  const consumer = options.consumerFactory?.() ?? new CountingConsumer();
  const admission = createAdmission(config.maxInflightBytes);
  const receiver = await startOtlpHttpReceiver({ config, filter: (key) => allowed.has(key), consumer, log: silentLogger(), admission });
  const { child, ready } = await startClient();
  try {
    const port = receiver.address.port;
    await runLoad(child, { shape: "closed", port, connections: SUSTAINED_CONNECTIONS, durationMs: 1000 }); // warm-up
    const sustained = await runLoad(child, { shape: "closed", port, connections: SUSTAINED_CONNECTIONS, durationMs: sustainedSeconds * 1000 });
    const accepted = count(sustained, 200);
    const spansPerSecond = (accepted * ready.spans * 1000) / sustained.elapsedMs;
    const p99 = sustained.latenciesMs.length > 0 ? percentile(sustained.latenciesMs, 99) : Number.NaN;
    const requestsPerSecond = (accepted * 1000) / sustained.elapsedMs;

    const rejectionsBefore = admission.counters.rejections;
    const peak = new PeakRss();
    const overload = await runLoad(child, {
      shape: "open",
      port,
      connections: OVERLOAD_CONNECTIONS,
      ratePerSecond: Math.max(1, requestsPerSecond * OVERLOAD_FACTOR),
      maxQueued: OVERLOAD_CONNECTIONS,
      durationMs: overloadSeconds * 1000,
    });
    const peakRss = peak.stop();
    const sent = Object.values(overload.statuses).reduce((sum, n) => sum + n, 0);
    const others = sent - count(overload, 200) - count(overload, 429);

    return [
      { name: "batch", value: `${ready.spans} vLLM spans, ${formatInt(ready.payloadBytes)} B protobuf, ${SUSTAINED_CONNECTIONS} keep-alive connections` },
      { name: "sustained ingest", value: `${formatInt(spansPerSecond)} spans/s (${formatInt(requestsPerSecond)} req/s, ${sustainedSeconds} s)`, target: `≥ ${formatInt(TARGET_SPANS_PER_SECOND)} spans/s`, isMet: spansPerSecond >= TARGET_SPANS_PER_SECOND },
      { name: "sustained p99 request latency (client)", value: `${p99.toFixed(1)} ms (p50 ${percentile(sustained.latenciesMs, 50).toFixed(1)} ms)`, target: `< ${TARGET_P99_MS} ms`, isMet: p99 < TARGET_P99_MS },
      { name: "sustained non-200 responses", value: formatInt(Object.values(sustained.statuses).reduce((sum, n) => sum + n, 0) - accepted) },
      { name: `overload offered (${OVERLOAD_FACTOR}× for ${overloadSeconds} s)`, value: `${formatInt(requestsPerSecond * OVERLOAD_FACTOR)} req/s on up to ${OVERLOAD_CONNECTIONS} connections; ${formatInt(sent)} sent, ${formatInt(overload.skipped)} skipped by the client` },
      { name: "overload answered 200", value: `${formatInt(count(overload, 200))} (${formatInt((count(overload, 200) * ready.spans * 1000) / overload.elapsedMs)} spans/s)` },
      { name: "overload answered 429", value: `${formatInt(count(overload, 429))} (admission rejections ${formatInt(admission.counters.rejections - rejectionsBefore)})` },
      { name: "overload other outcomes", value: `${formatInt(others)} (${Object.entries(overload.statuses).filter(([s]) => s !== "200" && s !== "429").map(([s, n]) => `${s === "0" ? "transport error" : s}: ${n}`).join(", ") || "none"})` },
      { name: "overload peak in-flight bytes", value: `${(admission.counters.peakInflightBytes / MIB).toFixed(1)} MiB of ${(config.maxInflightBytes / MIB).toFixed(0)} MiB` },
      { name: "receiver peak RSS under overload", value: `${(peakRss / MIB).toFixed(0)} MiB`, target: `< ${TARGET_PEAK_RSS_MIB} MiB`, isMet: peakRss < TARGET_PEAK_RSS_MIB * MIB },
    ];
  } finally {
    child.send({ kind: "exit" } satisfies LoadMessage);
    await receiver.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.stdout.write(renderTable("OTLP/HTTP ingest (receiver in this process, client in a child)", await benchOtlpIngest()));
}
