/**
 * OTLP/HTTP ingest: the receiver runs in this process (decode + consume on its one event loop);
 * a forked client process (otlp-ingest-client.ts) sends protobuf batches of 512 vLLM spans.
 *
 * 1. Sustained: keep-alive connections sending back to back for BENCH_OTLP_SECONDS (default 10):
 *    spans/s accepted and the p99 of request latency seen by the client.
 * 2. Overload: requests started at 10× the sustained request rate, without waiting for answers,
 *    for BENCH_OVERLOAD_SECONDS (default 60): the receiver's peak RSS (VmHWM, reset before the phase)
 *    and how many requests admission turned away with 429.
 * 3. The same overload with gzip-compressed bodies for BENCH_OVERLOAD_GZIP_SECONDS (default 20; 0
 *    skips it): inflating runs on the thread pool, so many more requests are in flight at once.
 *
 * The receiver uses the default OTLP config (maxBodyBytes 20 MiB, maxInflightBytes 64 MiB);
 * BENCH_OTLP_MAX_INFLIGHT (e.g. `32MiB`) overrides the admission budget to see its effect on RSS.
 *
 * Run: `npx tsc -p tsconfig.json && node dist/test/bench/otlp-ingest-bench.js`.
 */
import { fork, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { allowedResourceAttributes, allowedSpanAttributes } from "../../agent/profiles/span-profiles.js";
import { createAdmission, type Admission } from "../../agent/receivers/admission.js";
import type { DecodedTraces } from "../../agent/receivers/otlp-model.js";
import { startOtlpHttpReceiver } from "../../agent/receivers/otlp-http-receiver.js";
import type { ConsumeResult, SpanConsumer } from "../../agent/receivers/span-consumer.js";
import { otlpConfigSchema } from "../../common/config/schema.js";
import { silentLogger } from "../../common/log.js";
import type { LoadMessage, LoadReport, ReadyMessage } from "./otlp-ingest-client.js";
import { percentile, renderTable, type BenchRow } from "./table.js";
import { MIB } from "../../common/units.js";

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
  /** Length of the second overload phase, with gzip-compressed bodies (inflated on the thread pool, so more are in flight at once). */
  readonly gzipOverloadSeconds?: number;
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

/**
 * Most bytes admission held during a phase. Sampled, because admission's own peak covers the whole
 * run; every 10 ms catches the plateaus that matter (requests hold bytes for milliseconds or more).
 */
class PeakInflight {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly admission: Admission) {
    this.timer = setInterval(() => (this.peak = Math.max(this.peak, admission.counters.inflightBytes)), 10);
  }

  stop(): number {
    clearInterval(this.timer);
    return Math.max(this.peak, this.admission.counters.inflightBytes);
  }
}

/** Peak RSS of this process since the last reset, bytes (Linux VmHWM); sampled RSS elsewhere. */
class PeakRss {
  private sampled = 0;
  /** process.memoryUsage() when the sampled RSS peaked, for the breakdown row. */
  atPeak: NodeJS.MemoryUsage = process.memoryUsage();
  private readonly timer: NodeJS.Timeout;
  private readonly hasHighWaterMark: boolean;

  constructor() {
    // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0, proc(5)).
    let hasHighWaterMark: boolean;
    try {
      writeFileSync("/proc/self/clear_refs", "5");
      hasHighWaterMark = /VmHWM:\s+\d+ kB/.test(readFileSync("/proc/self/status", "utf8"));
    } catch {
      hasHighWaterMark = false;
    }
    this.hasHighWaterMark = hasHighWaterMark;
    this.timer = setInterval(() => {
      const usage = process.memoryUsage();
      if (usage.rss > this.sampled) {
        this.sampled = usage.rss;
        this.atPeak = usage;
      }
    }, 50);
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
const mib = (bytes: number): string => `${(bytes / MIB).toFixed(0)} MiB`;

interface OverloadResult {
  readonly report: LoadReport;
  readonly rssBeforeBytes: number;
  readonly peakRssBytes: number;
  /** process.memoryUsage() at the highest sampled RSS. */
  readonly atPeak: NodeJS.MemoryUsage;
  readonly rejections: number;
  readonly peakInflightBytes: number;
}

/** One overload phase: open load at `ratePerSecond`, peak RSS and admission counted from its start. */
async function overload(
  child: ChildProcess,
  port: number,
  admission: Admission,
  ratePerSecond: number,
  seconds: number,
  gzip: boolean,
): Promise<OverloadResult> {
  const rejectionsBefore = admission.counters.rejections;
  const rssBeforeBytes = process.memoryUsage.rss();
  const peakInflight = new PeakInflight(admission);
  const peak = new PeakRss();
  const report = await runLoad(child, {
    shape: "open",
    gzip,
    port,
    connections: OVERLOAD_CONNECTIONS,
    ratePerSecond,
    maxQueued: OVERLOAD_CONNECTIONS,
    durationMs: seconds * 1000,
  });
  const peakRssBytes = peak.stop();
  return {
    report,
    rssBeforeBytes,
    peakRssBytes,
    atPeak: peak.atPeak,
    rejections: admission.counters.rejections - rejectionsBefore,
    peakInflightBytes: peakInflight.stop(),
  };
}

function overloadRows(
  label: string,
  result: OverloadResult,
  offeredPerSecond: number,
  seconds: number,
  spansPerRequest: number,
  maxInflightBytes: number,
): BenchRow[] {
  const { report } = result;
  const sent = Object.values(report.statuses).reduce((sum, n) => sum + n, 0);
  const others = Object.entries(report.statuses).filter(([status]) => status !== "200" && status !== "429");
  return [
    {
      name: `${label}: offered (${OVERLOAD_FACTOR}× for ${seconds} s)`,
      value: `${formatInt(offeredPerSecond)} req/s on up to ${OVERLOAD_CONNECTIONS} connections; ${formatInt(sent)} answered, ${formatInt(report.skipped)} not sent (client cap)`,
    },
    {
      name: `${label}: answered 200`,
      value: `${formatInt(count(report, 200))} (${formatInt((count(report, 200) * spansPerRequest * 1000) / report.elapsedMs)} spans/s)`,
    },
    {
      name: `${label}: answered 429`,
      value: `${formatInt(count(report, 429))} (admission rejections ${formatInt(result.rejections)})`,
    },
    {
      name: `${label}: other outcomes`,
      value:
        others.length === 0
          ? "none"
          : others.map(([status, n]) => `${status === "0" ? "transport error" : status}: ${n}`).join(", "),
    },
    {
      name: `${label}: peak in-flight bytes`,
      value: `${(result.peakInflightBytes / MIB).toFixed(1)} MiB of ${(maxInflightBytes / MIB).toFixed(0)} MiB`,
    },
    {
      name: `${label}: receiver memory at the sampled peak`,
      value: `rss ${mib(result.atPeak.rss)}, V8 heap ${mib(result.atPeak.heapTotal)} (${mib(result.atPeak.heapUsed)} used), buffers ${mib(result.atPeak.arrayBuffers)}; rss before the phase ${mib(result.rssBeforeBytes)}`,
    },
    {
      name: `${label}: receiver peak RSS`,
      value: mib(result.peakRssBytes),
      target: `< ${TARGET_PEAK_RSS_MIB} MiB`,
      isMet: result.peakRssBytes < TARGET_PEAK_RSS_MIB * MIB,
    },
  ];
}

/** Runs the phases and returns the benchmark rows. */
export async function benchOtlpIngest(options: OtlpIngestBenchOptions = {}): Promise<BenchRow[]> {
  const sustainedSeconds = options.sustainedSeconds ?? Number(process.env["BENCH_OTLP_SECONDS"] ?? 10);
  const overloadSeconds = options.overloadSeconds ?? Number(process.env["BENCH_OVERLOAD_SECONDS"] ?? 60);
  const gzipOverloadSeconds = options.gzipOverloadSeconds ?? Number(process.env["BENCH_OVERLOAD_GZIP_SECONDS"] ?? 20);
  const maxInflight = process.env["BENCH_OTLP_MAX_INFLIGHT"];
  const config = otlpConfigSchema.parse({
    httpAddr: "127.0.0.1:0",
    ...(maxInflight ? { maxInflightBytes: maxInflight } : {}),
  });
  const allowed = new Set([...allowedSpanAttributes(), ...allowedResourceAttributes()]);
  const consumer = options.consumerFactory?.() ?? new CountingConsumer();
  const admission = createAdmission(config.maxInflightBytes);
  const receiver = await startOtlpHttpReceiver({
    config,
    filter: (key) => allowed.has(key),
    consumer,
    log: silentLogger(),
    admission,
  });
  const { child, ready } = await startClient();
  try {
    const port = receiver.address.port;
    await runLoad(child, { shape: "closed", port, connections: SUSTAINED_CONNECTIONS, durationMs: 1000 }); // warm-up
    const sustained = await runLoad(child, {
      shape: "closed",
      port,
      connections: SUSTAINED_CONNECTIONS,
      durationMs: sustainedSeconds * 1000,
    });
    const accepted = count(sustained, 200);
    const spansPerSecond = (accepted * ready.spans * 1000) / sustained.elapsedMs;
    const requestsPerSecond = (accepted * 1000) / sustained.elapsedMs;
    const p99 = sustained.latenciesMs.length > 0 ? percentile(sustained.latenciesMs, 99) : Number.NaN;
    const p50 = sustained.latenciesMs.length > 0 ? percentile(sustained.latenciesMs, 50) : Number.NaN;
    const offered = Math.max(1, requestsPerSecond * OVERLOAD_FACTOR);

    const rows: BenchRow[] = [
      {
        name: "batch",
        value: `${ready.spans} vLLM spans, ${formatInt(ready.payloadBytes)} B protobuf (${formatInt(ready.gzipBytes)} B gzipped)`,
      },
      {
        name: `sustained ingest (${SUSTAINED_CONNECTIONS} keep-alive connections, ${sustainedSeconds} s)`,
        value: `${formatInt(spansPerSecond)} spans/s (${formatInt(requestsPerSecond)} req/s)`,
        target: `≥ ${formatInt(TARGET_SPANS_PER_SECOND)} spans/s`,
        isMet: spansPerSecond >= TARGET_SPANS_PER_SECOND,
      },
      {
        name: "sustained p99 request latency (client)",
        value: `${p99.toFixed(1)} ms (p50 ${p50.toFixed(1)} ms)`,
        target: `< ${TARGET_P99_MS} ms`,
        isMet: p99 < TARGET_P99_MS,
      },
      {
        name: "sustained non-200 responses",
        value: formatInt(Object.values(sustained.statuses).reduce((sum, n) => sum + n, 0) - accepted),
      },
    ];
    if (overloadSeconds > 0) {
      const plain = await overload(child, port, admission, offered, overloadSeconds, false);
      rows.push(...overloadRows("overload", plain, offered, overloadSeconds, ready.spans, config.maxInflightBytes));
    }
    if (gzipOverloadSeconds > 0) {
      const gzip = await overload(child, port, admission, offered, gzipOverloadSeconds, true);
      rows.push(
        ...overloadRows("gzip overload", gzip, offered, gzipOverloadSeconds, ready.spans, config.maxInflightBytes),
      );
    }
    return rows;
  } finally {
    child.send({ kind: "exit" } satisfies LoadMessage);
    await receiver.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.stdout.write(
    renderTable("OTLP/HTTP ingest (receiver in this process, client in a child)", await benchOtlpIngest()),
  );
}
