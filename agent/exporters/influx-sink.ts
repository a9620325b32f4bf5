/**
 * The InfluxDB 1.x sink: points (influx-points.ts) go to a durable disk spool first (write-then-ack:
 * `write()` resolves once they are fsynced there), and a background sender replays the spool in
 * order to InfluxDB through the `influx` package (line protocol, `precision=ms`), in batches of at
 * most `batchSize` points, moving the spool's cursor only after InfluxDB acknowledged a batch.
 *
 * While InfluxDB is slow or down the spool grows (bounded by `spoolMaxBytes`, oldest dropped and
 * counted), the sender retries with backoff (250 ms doubling to 5 s), and on recovery it drains the
 * backlog oldest first. Every point keeps the timestamp it was given when it was built, so a batch
 * sent twice (a crash between the write and the cursor update) overwrites itself: InfluxDB keeps one
 * point per measurement, tag set and timestamp.
 *
 * What is written is handed over by the sampler: every Nth GPU sampling round (N = flush interval ÷
 * sampling interval, agent.ts) goes to takeRound() once, with the request aggregates read then, so
 * the stored step is N rounds exactly and no round is skipped when N = 1. The sink has no timer of
 * its own that could drift against the sampler's; hand-offs queue their spool writes in order, so
 * the sampler never waits on the disk.
 *
 * Errors are retryable (unreachable, timeout, 5xx, 401/403/404: a fix of credentials or database
 * lets the backlog through) or permanent (400: malformed points or a field type conflict, which no
 * retry fixes; the batch is dropped and counted as `rejected`). Credentials come from a file and are
 * sent as Basic auth; they never appear in logs or errors.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { InfluxDB, type IPoint, type IPoolOptions, type IWriteOptions } from "influx";
import type { Registry } from "prom-client";
import type { Component } from "../../common/component.js";
import type { InfluxConfig } from "../../common/config/schema.js";
import { METRICS, type MetricDef } from "../../common/conventions.js";
import { errorMessage } from "../../common/errors.js";
import type { Logger } from "../../common/log.js";
import { defineScrapeMetric, type FillErrorHandler } from "../../common/metric-factory.js";
import type { GpuView } from "../collectors/gpu-collector.js";
import type { LlmSeriesStore } from "../processors/llm-series-store.js";
import { decodePoints, encodePoints, gpuPoints, requestPoints, type InfluxPoint } from "./influx-points.js";
import { DiskSpool, type SpoolStats } from "./spool/disk-spool.js";

/** Where the sink reads the request aggregates at each hand-off; absent: GPU rounds and write() only. */
export interface InfluxSources {
  readonly requests?: LlmSeriesStore;
}

/** Options of the sink. */
export interface InfluxSinkOptions {
  readonly config: InfluxConfig;
  readonly node: string;
  readonly log: Logger;
  readonly sources?: InfluxSources;
  readonly now?: () => number;
}

/** Counters of the sink, since it started. */
export interface InfluxSinkCounts {
  spooled: number;
  written: number;
  writeErrors: number;
  /** Points lost other than to the spool bound (which the spool counts). */
  dropped: { rejected: number; spool_error: number };
}

/**
 * The `influx` pool takes a failing host out of rotation for an exponential backoff (up to 10 s, on
 * a timer that holds up the agent's exit); the sender keeps its own backoff, so the pool's is 0.
 */
const NO_POOL_BACKOFF: NonNullable<IPoolOptions["backoff"]> = {
  getDelay: () => 0,
  next: () => NO_POOL_BACKOFF,
  reset: () => NO_POOL_BACKOFF,
};
const MIN_RETRY_MS = 250;
/**
 * Hand-offs waiting for the disk at most (a minute of rounds at 1 s): past it a stalled disk costs
 * the newest round, counted as `spool_error`, instead of memory.
 */
const MAX_QUEUED_ROUNDS = 60;
const MAX_RETRY_MS = 5_000;
/** How often a persisting write failure is logged again. */
const LOG_REPEAT_MS = 60_000;

/** Reads `username:password` from the first line of a file. */
export async function readCredentials(path: string): Promise<{ username: string; password: string }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new Error(
      `influx: cannot read the credentials file ${path}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`,
      { cause: err },
    );
  }
  const line = text.split(/\r?\n/)[0] ?? "";
  const at = line.indexOf(":");
  if (at <= 0) throw new Error(`influx: the credentials file ${path} must hold username:password on its first line`);
  return { username: line.slice(0, at), password: line.slice(at + 1) };
}

function statusOf(err: unknown): number | undefined {
  const res = (err as { res?: { statusCode?: unknown } } | undefined)?.res;
  return typeof res?.statusCode === "number" ? res.statusCode : undefined;
}

/** See the module comment. */
export class InfluxSink implements Component {
  readonly name = "influx-sink";
  readonly counts: InfluxSinkCounts = {
    spooled: 0,
    written: 0,
    writeErrors: 0,
    dropped: { rejected: 0, spool_error: 0 },
  };
  private spool: DiskSpool | undefined;
  private client: InfluxDB | undefined;
  private isRunning = false;
  /** Spool writes of hand-offs, in order; never rejects. */
  private queue: Promise<void> = Promise.resolve();
  private queuedRounds = 0;
  private lastQueueFullLogMs = -Infinity;
  private wake: (() => void) | undefined;
  private sender: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private isDatabaseReady = false;
  private lastGpuAtMs = -Infinity;
  private lastFailureLogMs = -Infinity;
  private readonly now: () => number;

  constructor(private readonly options: InfluxSinkOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Spool figures (zero before start). */
  spoolStats(): SpoolStats {
    return (
      this.spool?.stats() ?? {
        bytes: 0,
        pendingPoints: 0,
        appendedPoints: 0,
        droppedPoints: 0,
        droppedDiskFullPoints: 0,
        corrupt: 0,
      }
    );
  }

  /** Opens the spool (replaying what an earlier run left) and starts the sender. */
  async start(): Promise<void> {
    if (this.isRunning) return;
    const { config, log } = this.options;
    const url = new URL(config.url);
    const credentials = config.credentialsFile === "" ? undefined : await readCredentials(config.credentialsFile);
    this.client = new InfluxDB({
      hosts: [
        {
          host: url.hostname,
          port: Number(url.port || (url.protocol === "https:" ? 443 : 80)),
          protocol: url.protocol === "https:" ? "https" : "http",
          path: url.pathname.replace(/\/+$/, ""),
        },
      ],
      database: config.database,
      ...(credentials ?? {}),
      pool: { maxRetries: 0, requestTimeout: config.timeout, backoff: NO_POOL_BACKOFF },
    });
    // One spool per node name: agents sharing a volume (or `inferwatch up`'s simulated nodes) never share one.
    const spoolDir = join(config.spoolDir, this.options.node.replace(/[^A-Za-z0-9._-]/g, "_") || "_");
    try {
      this.spool = await DiskSpool.open({
        dir: spoolDir,
        maxBytes: config.spoolMaxBytes,
        onDiskFull: (event) =>
          log.warn(
            event,
            event.isWritten
              ? `influx spool: disk full (${event.code}); deleted the oldest ${event.droppedPoints} spooled points to keep the newest`
              : `influx spool: disk full (${event.code}) and no older segment left to delete; the newest points are lost`,
          ),
      });
    } catch (err) {
      throw new Error(`influx: cannot open the spool directory ${spoolDir}: ${errorMessage(err)}`, { cause: err });
    }
    const stats = this.spool.stats();
    if (stats.corrupt > 0)
      log.warn(
        { dir: spoolDir, segments: stats.corrupt },
        "influx spool: skipped a torn or corrupt tail left by an earlier crash",
      );
    if (stats.pendingPoints > 0)
      log.info(
        { points: stats.pendingPoints, bytes: stats.bytes },
        "influx spool: replaying points left by an earlier run",
      );
    this.isRunning = true;
    this.stopping = undefined;
    this.sender = this.sendLoop();
    log.info(
      {
        url: `${url.origin}${url.pathname}`,
        database: config.database,
        retentionPolicy: config.retentionPolicy || "(default)",
        spoolDir,
      },
      "influx sink started",
    );
  }

  /**
   * Appends points to the spool; resolves once they are durable there (the sender takes them from
   * it). A disk failure is logged and counted (`spool_error`), never thrown.
   */
  async write(points: readonly InfluxPoint[]): Promise<void> {
    const spool = this.spool;
    if (spool === undefined || points.length === 0) return;
    const batchSize = this.options.config.batchSize;
    for (let from = 0; from < points.length; from += batchSize) {
      const chunk = points.slice(from, from + batchSize);
      try {
        // A chunk larger than the whole spool bound is refused; the spool counts it as dropped.
        if (await spool.append(encodePoints(chunk), chunk.length)) this.counts.spooled += chunk.length;
      } catch (err) {
        this.counts.dropped.spool_error += chunk.length;
        this.options.log.error(
          { err: errorMessage(err), points: chunk.length },
          "influx spool: append failed; points lost",
        );
      }
    }
    if (spool.stats().pendingPoints >= batchSize) this.wake?.();
  }

  /**
   * Takes one sampling round handed over by the sampler: the GPU points of `gpu` (once per NVML
   * sample: a round that produced none adds no GPU point) and the request aggregates as they are
   * now. Returns at once; the spool write is queued behind the earlier ones. Ignored unless started.
   */
  takeRound(gpu: GpuView | undefined): void {
    if (!this.isRunning) return;
    const { sources, node, config } = this.options;
    const points: InfluxPoint[] = [];
    if (gpu?.sampledAtMs !== undefined && gpu.sampledAtMs > this.lastGpuAtMs) {
      this.lastGpuAtMs = gpu.sampledAtMs;
      points.push(...gpuPoints(gpu, node, config.measurementPrefix));
    }
    if (sources?.requests)
      points.push(...requestPoints(sources.requests, node, Math.round(this.now()), config.measurementPrefix));
    if (points.length === 0) return;
    if (this.queuedRounds >= MAX_QUEUED_ROUNDS) {
      this.counts.dropped.spool_error += points.length;
      const nowMs = this.now();
      if (nowMs - this.lastQueueFullLogMs >= LOG_REPEAT_MS) {
        this.lastQueueFullLogMs = nowMs;
        this.options.log.error(
          { queued: this.queuedRounds, points: points.length },
          "influx spool: the disk has not taken the last rounds yet; this round is lost",
        );
      }
      return;
    }
    this.queuedRounds++;
    this.queue = this.queue
      .then(() => this.write(points))
      .catch((err: unknown) =>
        this.options.log.error({ err: errorMessage(err) }, "influx sink: spooling a round failed"),
      )
      .finally(() => {
        this.queuedRounds--;
        this.wake?.();
      });
  }

  /**
   * Waits for the queued hand-offs, spools the request aggregates once more (so the counters since
   * the last hand-off are kept; no GPU point, which would break the step), then stops the sender
   * (a write in flight finishes); what is spooled stays for the next start. Idempotent.
   */
  shutdown(): Promise<void> {
    this.stopping ??= this.stop();
    return this.stopping;
  }

  private async stop(): Promise<void> {
    if (this.isRunning) this.takeRound(undefined);
    await this.queue;
    this.isRunning = false;
    this.wake?.();
    await this.sender;
    this.sender = undefined;
    await this.spool?.close().catch(() => undefined);
    this.spool = undefined;
  }

  /** Registers the sink's metrics (read at scrape time). */
  registerMetrics(registry: Registry, onError: FillErrorHandler): void {
    const node = this.options.node;
    const single = (def: MetricDef, value: () => number): void =>
      void defineScrapeMetric(registry, def, (emit) => emit({ node }, value()), onError);
    single(METRICS.influxPointsSpooled, () => this.counts.spooled);
    single(METRICS.influxPointsWritten, () => this.counts.written);
    single(METRICS.influxWriteErrors, () => this.counts.writeErrors);
    single(METRICS.influxSpoolBytes, () => this.spoolStats().bytes);
    single(METRICS.influxSpoolPoints, () => this.spoolStats().pendingPoints);
    single(METRICS.influxSpoolCorrupt, () => this.spoolStats().corrupt);
    defineScrapeMetric(
      registry,
      METRICS.influxPointsDropped,
      (emit) => {
        const dropped = this.counts.dropped;
        emit({ node, reason: "spool_full" }, this.spoolStats().droppedPoints);
        emit({ node, reason: "disk_full" }, this.spoolStats().droppedDiskFullPoints);
        emit({ node, reason: "rejected" }, dropped.rejected);
        emit({ node, reason: "spool_error" }, dropped.spool_error);
      },
      onError,
    );
  }

  /** Waits `ms`; an idle wait also ends on wake() (a hand-off, a full batch, shutdown), a retry backoff only on shutdown. */
  private sleep(ms: number, isIdle: boolean): Promise<void> {
    // Shutdown's wake() may have come while the sender was busy (no wait to end then): no new wait.
    if (!this.isRunning) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = isIdle
        ? done
        : () => {
            if (!this.isRunning) done();
          };
    });
  }

  /** The sender: drains the spool in order; waits for a hand-off or a full batch when it is empty. Never throws. */
  private async sendLoop(): Promise<void> {
    let failures = 0;
    while (this.isRunning) {
      try {
        const outcome = await this.sendOnce();
        if (outcome === "idle") await this.sleep(this.options.config.flushInterval, true);
        if (outcome !== "failed") failures = 0;
        else await this.sleep(Math.min(MAX_RETRY_MS, MIN_RETRY_MS * 2 ** failures++), false);
      } catch (err) {
        this.options.log.error({ err: errorMessage(err) }, "influx sink: sender failed; retrying");
        await this.sleep(MAX_RETRY_MS, false);
      }
    }
  }

  private async sendOnce(): Promise<"idle" | "sent" | "failed"> {
    const spool = this.spool as DiskSpool;
    const batch = await spool.peek(this.options.config.batchSize);
    if (batch === null) return "idle";
    let points: InfluxPoint[];
    try {
      points = batch.payloads.flatMap((payload) => decodePoints(payload));
    } catch (err) {
      // A record that passed its checksum but is not points (written by another version): never sendable.
      this.counts.dropped.rejected += batch.points;
      this.options.log.error(
        { err: errorMessage(err), points: batch.points },
        "influx spool: unreadable records; dropped",
      );
      await spool.commit(batch.end);
      return "sent";
    }
    try {
      await this.ensureDatabase();
      await this.send(points);
    } catch (err) {
      const status = statusOf(err);
      if (status === 400) {
        this.counts.dropped.rejected += points.length;
        this.options.log.error(
          { err: errorMessage(err).slice(0, 500), points: points.length },
          "influx sink: InfluxDB rejected a batch; dropped",
        );
        await spool.commit(batch.end);
        return "sent";
      }
      if (status === 404) this.isDatabaseReady = false;
      this.counts.writeErrors++;
      this.logFailure(err);
      return "failed";
    }
    this.counts.written += points.length;
    await spool.commit(batch.end);
    if (this.lastFailureLogMs > -Infinity) {
      this.lastFailureLogMs = -Infinity;
      this.options.log.info(
        { pending: spool.stats().pendingPoints },
        "influx sink: InfluxDB reachable again; replaying the spool",
      );
    }
    return "sent";
  }

  private async send(points: readonly InfluxPoint[]): Promise<void> {
    const { database, retentionPolicy } = this.options.config;
    const options: IWriteOptions = {
      database,
      precision: "ms",
      ...(retentionPolicy === "" ? {} : { retentionPolicy }),
    };
    const rows: IPoint[] = points.map((p) => ({
      measurement: p.measurement,
      tags: { ...p.tags },
      fields: { value: p.value },
      timestamp: p.timestampMs,
    }));
    await (this.client as InfluxDB).writePoints(rows, options);
  }

  /** CREATE DATABASE (idempotent in 1.x) once; a user without the right to create it goes on writing. */
  private async ensureDatabase(): Promise<void> {
    if (this.isDatabaseReady) return;
    try {
      await (this.client as InfluxDB).createDatabase(this.options.config.database);
    } catch (err) {
      const status = statusOf(err);
      if (status === undefined || status >= 500) throw err;
      this.options.log.warn(
        { err: errorMessage(err).slice(0, 300), database: this.options.config.database },
        "influx sink: cannot create the database; writing to it as it is",
      );
    }
    this.isDatabaseReady = true;
  }

  private logFailure(err: unknown): void {
    const nowMs = this.now();
    if (nowMs - this.lastFailureLogMs < LOG_REPEAT_MS) return;
    this.lastFailureLogMs = nowMs;
    const stats = this.spoolStats();
    this.options.log.warn(
      { err: errorMessage(err).slice(0, 300), pending: stats.pendingPoints, spoolBytes: stats.bytes },
      "influx sink: write failed; points stay spooled and are retried",
    );
  }
}
