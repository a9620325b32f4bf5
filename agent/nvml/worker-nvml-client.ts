import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { NvmlTimeoutError, type NvmlClient } from "./nvml-client.js";
import {
  CONTROL_BYTES,
  OP,
  PAYLOAD_BYTES,
  readAnswer,
  SLOT,
  THREAD_GONE,
  type Op,
  type OpResult,
  type SamplingThreadInit,
} from "./nvml-worker-protocol.js";
import type { NvmlSampleRaw, NvmlSystemInfo } from "./types.js";

/** Options for {@link WorkerNvmlClient}. */
export interface WorkerNvmlClientOptions {
  readonly library: string;
  readonly initTimeoutMs: number;
  readonly sampleTimeoutMs: number;
  readonly maxBackoffMs: number;
  /** Read GPM activity (default true). */
  readonly isGpmEnabled?: boolean;
}

/** `Atomics.waitAsync` (ES2024; Node ≥ 16), typed here because the project's lib is ES2023. */
type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
  timeoutMs?: number,
) =>
  | { readonly async: false; readonly value: "not-equal" | "timed-out" }
  | { readonly async: true; readonly value: Promise<"ok" | "timed-out"> };
const waitAsync = Reflect.get(Atomics, "waitAsync") as WaitAsync;

const OP_NAMES: Record<Op, string> = {
  [OP.open]: "open",
  [OP.sample]: "sample",
  [OP.close]: "close",
  [OP.sampleRounds]: "sampleRounds",
};

/** One sampling thread and the shared memory it answers in. */
interface SamplingThread {
  readonly worker: Worker;
  readonly control: Int32Array;
  readonly payload: Buffer;
  /** Sequence number of the latest request. */
  seq: number;
  /** The request that timed out and may still run in native code. */
  stuckSeq: number | undefined;
  /** Why the thread ended, when an uncaught error ended it. */
  error: Error | undefined;
}

/**
 * The compiled worker script. Tests run the TypeScript sources, whose sibling `.js` does not exist;
 * they use the build in dist/ (npm test compiles first).
 */
function workerScript(): URL {
  const sibling = new URL("./nvml-worker.js", import.meta.url);
  if (existsSync(fileURLToPath(sibling))) return sibling;
  return new URL("../../dist/agent/nvml/nvml-worker.js", import.meta.url);
}

/** Whether the thread's request `seq` is still running (it has neither answered nor ended). */
function isRunning(thread: SamplingThread, seq: number): boolean {
  const done = Atomics.load(thread.control, SLOT.done);
  return done !== THREAD_GONE && done < seq;
}

/**
 * NVML through koffi on a dedicated sampling thread. Every request has a deadline: a driver that
 * hangs (nvmlInit on some H200 drivers, go-nvml#152) costs a rejected promise, not the event loop.
 * While a timed-out request is still running, new requests are refused rather than queued, and a
 * thread stuck in a native call is never replaced by a second one, so at most one thread is lost.
 * Requests and answers go through shared memory (nvml-worker-protocol.ts), not messages.
 */
export class WorkerNvmlClient implements NvmlClient {
  readonly source = "nvml" as const;
  private thread: SamplingThread | undefined;
  /** A thread discarded while stuck in a native call: it ends when the call returns. */
  private abandoned: SamplingThread | undefined;
  /** The sampleRounds() batch in progress, which close() ends and waits for before its own request. */
  private batch: Promise<unknown> | undefined;

  constructor(private readonly options: WorkerNvmlClientOptions) {}

  async open(): Promise<NvmlSystemInfo> {
    if (this.hasStuckCall())
      throw new NvmlTimeoutError("nvml: a previous call is still running on the sampling thread");
    await this.discardThread();
    const thread = this.spawn();
    this.thread = thread;
    try {
      return await this.request(thread, OP.open, this.options.initTimeoutMs);
    } catch (err) {
      if (!(err instanceof NvmlTimeoutError)) await this.discardThread();
      throw err;
    }
  }

  hasStuckCall(): boolean {
    for (const thread of [this.thread, this.abandoned]) {
      if (thread?.stuckSeq === undefined) continue;
      if (isRunning(thread, thread.stuckSeq)) return true;
      // The late answer came (or the thread ended): the thread is free again.
      thread.stuckSeq = undefined;
    }
    if (this.abandoned?.stuckSeq === undefined) this.abandoned = undefined;
    return false;
  }

  async sample(): Promise<NvmlSampleRaw> {
    return this.request(this.samplingThread(), OP.sample, this.options.sampleTimeoutMs);
  }

  async sampleRounds(count: number, intervalMs: number): Promise<readonly NvmlSampleRaw[]> {
    if (count <= 1) return [await this.sample()];
    const thread = this.samplingThread();
    const { control } = thread;
    Atomics.store(control, SLOT.count, count);
    Atomics.store(control, SLOT.interval, Math.round(intervalMs));
    Atomics.store(control, SLOT.cancel, 0);
    const batch = this.request(thread, OP.sampleRounds, (count - 1) * intervalMs + this.options.sampleTimeoutMs);
    this.batch = batch;
    try {
      return await batch;
    } finally {
      if (this.batch === batch) this.batch = undefined;
    }
  }

  cancelRounds(): void {
    const thread = this.thread;
    if (!thread) return;
    Atomics.store(thread.control, SLOT.cancel, 1);
    Atomics.notify(thread.control, SLOT.cancel);
  }

  async close(): Promise<void> {
    const thread = this.thread;
    if (!thread) return;
    if (this.batch !== undefined) {
      this.cancelRounds();
      await this.batch.catch(() => undefined);
    }
    if (!this.hasStuckCall()) {
      try {
        await this.request(thread, OP.close, this.options.sampleTimeoutMs);
      } catch {
        // A driver that cannot shut down in time is left to the process exit.
      }
    }
    await this.discardThread();
  }

  /** The thread a sample is asked of: refused while an earlier call still runs, or before open(). */
  private samplingThread(): SamplingThread {
    if (this.hasStuckCall()) throw new NvmlTimeoutError("nvml: the previous sample has not returned yet");
    if (!this.thread) throw new Error("nvml: not open");
    return this.thread;
  }

  private spawn(): SamplingThread {
    const init: SamplingThreadInit = {
      control: new SharedArrayBuffer(CONTROL_BYTES),
      payload: new SharedArrayBuffer(PAYLOAD_BYTES),
      library: this.options.library,
      maxBackoffMs: this.options.maxBackoffMs,
      isGpmEnabled: this.options.isGpmEnabled ?? true,
    };
    // The sampling thread holds a few small buffers; a small heap keeps its resident memory down.
    const worker = new Worker(workerScript(), {
      workerData: init,
      resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 },
    });
    const thread: SamplingThread = {
      worker,
      control: new Int32Array(init.control),
      payload: Buffer.from(init.payload),
      seq: 0,
      stuckSeq: undefined,
      error: undefined,
    };
    worker.on("error", (err) => {
      thread.error = err;
    });
    // A request waiting on a thread that ended is woken at once instead of at its deadline.
    worker.on("exit", () => {
      Atomics.store(thread.control, SLOT.done, THREAD_GONE);
      Atomics.notify(thread.control, SLOT.done);
      if (this.thread === thread) this.thread = undefined;
    });
    return thread;
  }

  /** Stores request `op`, wakes the thread and waits for its answer until `timeoutMs`. */
  private async request<O extends Op>(thread: SamplingThread, op: O, timeoutMs: number): Promise<OpResult[O]> {
    const { control } = thread;
    const before = Atomics.load(control, SLOT.done);
    if (before === THREAD_GONE) throw this.gone(thread);
    const seq = ++thread.seq;
    Atomics.store(control, SLOT.op, op);
    Atomics.store(control, SLOT.request, seq);
    Atomics.notify(control, SLOT.request);
    const waited = waitAsync(control, SLOT.done, before, timeoutMs);
    if (waited.async) await waited.value;
    const done = Atomics.load(control, SLOT.done);
    if (done === THREAD_GONE) throw this.gone(thread);
    if (done !== seq) {
      thread.stuckSeq = seq;
      throw new NvmlTimeoutError(`nvml: ${OP_NAMES[op]} did not return within ${timeoutMs} ms`);
    }
    const { isOk, body } = readAnswer(control, thread.payload);
    if (!isOk) throw new Error(String(body));
    // The body is what the sampling thread wrote for this op (nvml-worker.ts).
    return body as OpResult[O];
  }

  private gone(thread: SamplingThread): Error {
    return thread.error
      ? new Error("nvml: sampling thread failed", { cause: thread.error })
      : new Error("nvml: sampling thread exited");
  }

  /** Ends the thread; one stuck in a native call ends when that call returns, and never holds the process open. */
  private async discardThread(): Promise<void> {
    const thread = this.thread;
    if (!thread) return;
    this.thread = undefined;
    thread.worker.unref();
    if (thread.stuckSeq !== undefined && isRunning(thread, thread.stuckSeq)) {
      this.abandoned = thread;
      void thread.worker.terminate().catch(() => undefined);
      return;
    }
    await thread.worker.terminate();
  }
}
