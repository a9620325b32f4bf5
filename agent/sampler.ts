import type { CollectResult, Component } from "../common/component.js";
import { errorMessage, toError } from "../common/errors.js";
import type { Logger } from "../common/log.js";
import { agentTracer } from "./tracer.js";

/**
 * Takes every `every`-th completed run of a collector — runs 1, 1 + every, 1 + 2·every, … — once
 * each, right after the run and before the next one starts. consume() must not wait on I/O (the
 * InfluxDB sink queues its spool write); a throw is logged and does not stop the loop.
 */
export interface RoundConsumer {
  readonly every: number;
  consume(result: CollectResult<unknown>): void;
}

/**
 * Hands over one round of a batch as it is taken in, with the time the round itself took and when
 * it was taken (Unix ms; default: now).
 */
export type RoundSink = (result: CollectResult<unknown>, durationMs: number, takenAtMs?: number) => void;

/** Several rounds per run: the collector times them `intervalMs` apart itself and reports each. */
export interface RoundBatch {
  /** Rounds per run (1 runs `run()` as usual). */
  readonly rounds: number;
  run(onRound: RoundSink): Promise<void>;
}

/** A collector run on its own interval. */
export interface ScheduledCollector {
  readonly name: string;
  /** Time between rounds. */
  readonly intervalMs: number;
  run(): Promise<CollectResult<unknown>>;
  /**
   * Takes `rounds` rounds per run instead of one (used instead of run() when rounds > 1, from the
   * second round on): the next run starts `rounds × intervalMs` after this one started, each round
   * is counted and handed to the consumers as it comes, so a batch is the same rounds, woken for once.
   */
  readonly batch?: RoundBatch;
  /** Handed every Nth run (may be added to until start()). */
  readonly consumers?: readonly RoundConsumer[];
  /** Cuts a run in progress short (aborts its I/O), so shutdown() does not wait out its timeout. */
  abort?(): Promise<void>;
}

/**
 * Runs of a collector at `intervalMs` per hand-off to a consumer that wants one every `periodMs`:
 * the nearest whole number, at least 1.
 */
export function roundsPerPeriod(periodMs: number, intervalMs: number): number {
  return Math.max(1, Math.round(periodMs / intervalMs));
}

/** What the sampler knows about one collector's runs, for the self-metrics. */
export interface CollectorStats {
  readonly name: string;
  readonly runs: number;
  readonly lastDurationMs: number;
  readonly isLastSuccess: boolean;
  readonly errorsTotal: number;
  /** Unix ms at which the last run that produced a sample finished. */
  readonly lastSampleAtMs: number | undefined;
}

interface Loop {
  readonly collector: ScheduledCollector;
  stats: CollectorStats;
  timer: NodeJS.Timeout | undefined;
  /** The run in progress, awaited by shutdown() so nothing is closed under it. */
  running: Promise<void> | undefined;
}

/**
 * Runs each collector in a background loop at its interval, one run at a time (a slow run delays
 * the next instead of overlapping it). Loops catch their own errors. `firstRound` resolves once
 * every collector has run once, which is when the agent reports ready.
 */
export class Sampler implements Component {
  readonly name = "sampler";
  private readonly loops: Loop[];
  private isRunning = false;
  private readonly firstRuns: Promise<void>[] = [];
  private resolvers: (() => void)[] = [];

  constructor(
    collectors: readonly ScheduledCollector[],
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.loops = collectors.map((collector) => ({
      collector,
      timer: undefined,
      running: undefined,
      stats: {
        name: collector.name,
        runs: 0,
        lastDurationMs: 0,
        isLastSuccess: false,
        errorsTotal: 0,
        lastSampleAtMs: undefined,
      },
    }));
    for (let i = 0; i < this.loops.length; i++)
      this.firstRuns.push(new Promise((resolve) => this.resolvers.push(resolve)));
  }

  /** Resolves when every collector has completed one run. */
  get firstRound(): Promise<void> {
    return Promise.all(this.firstRuns).then(() => undefined);
  }

  async start(): Promise<void> {
    if (this.isRunning) return;
    this.isRunning = true;
    this.loops.forEach((loop, i) => this.schedule(loop, i, 0));
  }

  /**
   * Stops the loops, aborts the runs in progress that can be aborted and waits for them (their
   * consumers are still handed them). Idempotent.
   */
  async shutdown(): Promise<void> {
    const wasRunning = this.isRunning;
    this.isRunning = false;
    for (const loop of this.loops) clearTimeout(loop.timer);
    await Promise.allSettled(
      this.loops.flatMap((loop) => (loop.collector.abort === undefined ? [] : [loop.collector.abort()])),
    );
    await Promise.allSettled(this.loops.flatMap((loop) => (loop.running === undefined ? [] : [loop.running])));
    if (wasRunning)
      this.log.info(
        { runs: Object.fromEntries(this.loops.map((loop) => [loop.collector.name, loop.stats.runs])) },
        "sampling stopped",
      );
  }

  stats(): CollectorStats[] {
    return this.loops.map((loop) => loop.stats);
  }

  private async tick(loop: Loop, index: number): Promise<void> {
    if (!this.isRunning) return;
    const started = performance.now();
    const { batch, intervalMs } = loop.collector;
    let taken = 0;
    await agentTracer().startActiveSpan(`collect ${loop.collector.name}`, async (span): Promise<void> => {
      let samples = 0;
      let errors = 0;
      const onRound: RoundSink = (result, durationMs, takenAtMs) => {
        taken++;
        samples += result.samples.length;
        errors += result.errors.length;
        this.record(loop, index, result, durationMs, takenAtMs);
      };
      try {
        // The first round is taken alone, so the agent is ready one interval after it starts.
        if (batch !== undefined && batch.rounds > 1 && loop.stats.runs > 0) await batch.run(onRound);
        else {
          const collected = await loop.collector.run().catch((err: unknown): CollectResult<unknown> => ({
            samples: [],
            errors: [toError(err)],
          }));
          onRound(collected, performance.now() - started);
        }
      } catch (err) {
        onRound({ samples: [], errors: [toError(err)] }, 0);
      } finally {
        span.setAttributes({ "inferwatch.rounds": taken, "inferwatch.samples": samples, "inferwatch.errors": errors });
        span.end();
      }
    });
    const periodMs = Math.max(1, taken) * intervalMs;
    this.schedule(loop, index, Math.max(0, periodMs - (performance.now() - started)));
  }

  /** Counts one round, logs its errors and hands it to the consumers that take it. */
  private record(
    loop: Loop,
    index: number,
    result: CollectResult<unknown>,
    durationMs: number,
    takenAtMs: number = this.now(),
  ): void {
    const isSuccess = result.samples.length > 0;
    const previous = loop.stats;
    loop.stats = {
      name: previous.name,
      runs: previous.runs + 1,
      lastDurationMs: durationMs,
      isLastSuccess: isSuccess,
      errorsTotal: previous.errorsTotal + result.errors.length,
      lastSampleAtMs: isSuccess ? takenAtMs : previous.lastSampleAtMs,
    };
    if (result.errors.length > 0) {
      this.log.debug({ collector: loop.collector.name, errors: result.errors.map(errorMessage) }, "collector errors");
    }
    this.handOff(loop, result);
    this.resolvers[index]?.();
  }

  private handOff(loop: Loop, result: CollectResult<unknown>): void {
    for (const consumer of loop.collector.consumers ?? []) {
      if ((loop.stats.runs - 1) % consumer.every !== 0) continue;
      try {
        consumer.consume(result);
      } catch (err) {
        this.log.error({ collector: loop.collector.name, err: errorMessage(err) }, "round consumer failed");
      }
    }
  }

  private schedule(loop: Loop, index: number, delayMs: number): void {
    if (!this.isRunning) return;
    loop.timer = setTimeout(() => {
      loop.running = this.tick(loop, index).finally(() => {
        loop.running = undefined;
      });
    }, delayMs);
    loop.timer.unref();
  }
}
