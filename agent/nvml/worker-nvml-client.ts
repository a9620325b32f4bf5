import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { NvmlTimeoutError, type NvmlClient } from "./nvml-client.js";
import type { WorkerRequest, WorkerResponse } from "./nvml-worker-protocol.js";
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

type Pending = { resolve: (value: unknown) => void; reject: (err: Error) => void; timer: NodeJS.Timeout };

/**
 * The compiled worker script. Tests run the TypeScript sources, whose sibling `.js` does not exist;
 * they use the build in dist/ (npm test compiles first).
 */
function workerScript(): URL {
  const sibling = new URL("./nvml-worker.js", import.meta.url);
  if (existsSync(fileURLToPath(sibling))) return sibling;
  return new URL("../../dist/agent/nvml/nvml-worker.js", import.meta.url);
}

/**
 * NVML through koffi on a dedicated worker thread. Every request has a deadline: a driver that
 * hangs (nvmlInit on some H200 drivers, go-nvml#152) costs a rejected promise, not the event loop.
 * While a timed-out request is still running, new requests are refused rather than queued, and a
 * worker stuck in a native call is never replaced by a second one, so at most one thread is lost.
 */
export class WorkerNvmlClient implements NvmlClient {
  readonly source = "nvml" as const;
  private worker: Worker | undefined;
  private isStuck = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly options: WorkerNvmlClientOptions) {}

  async open(): Promise<NvmlSystemInfo> {
    if (this.isStuck) throw new NvmlTimeoutError("nvml: a previous call is still running on the sampling thread");
    await this.discardWorker();
    this.worker = this.spawn();
    const request = { op: "open", library: this.options.library, maxBackoffMs: this.options.maxBackoffMs, isGpmEnabled: this.options.isGpmEnabled ?? true } as const;
    try {
      return (await this.request(request, this.options.initTimeoutMs)) as NvmlSystemInfo;
    } catch (err) {
      if (!(err instanceof NvmlTimeoutError)) await this.discardWorker();
      throw err;
    }
  }

  hasStuckCall(): boolean {
    return this.isStuck;
  }

  async sample(): Promise<NvmlSampleRaw> {
    if (this.isStuck) throw new NvmlTimeoutError("nvml: the previous sample has not returned yet");
    return (await this.request({ op: "sample" }, this.options.sampleTimeoutMs)) as NvmlSampleRaw;
  }

  async close(): Promise<void> {
    if (!this.worker) return;
    if (!this.isStuck) {
      try {
        await this.request({ op: "close" }, this.options.sampleTimeoutMs);
      } catch {
        // A driver that cannot shut down in time is left to the process exit.
      }
    }
    await this.discardWorker();
  }

  private spawn(): Worker {
    // The sampling thread holds a few small buffers; a small heap keeps its resident memory down.
    const worker = new Worker(workerScript(), { resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 } });
    worker.on("message", (response: WorkerResponse) => this.settle(response));
    // A discarded (stuck) worker's error or exit must not fail the requests of its replacement.
    worker.on("error", (err) => {
      if (this.worker === worker) this.failAll(new Error("nvml: sampling thread failed", { cause: err }));
    });
    worker.on("exit", () => {
      if (this.worker !== worker) {
        if (this.worker === undefined) this.isStuck = false;
        return;
      }
      this.worker = undefined;
      this.isStuck = false;
      this.failAll(new Error("nvml: sampling thread exited"));
    });
    return worker;
  }

  private request(body: Omit<WorkerRequest, "id"> & { op: WorkerRequest["op"] }, timeoutMs: number): Promise<unknown> {
    const worker = this.worker;
    if (!worker) return Promise.reject(new Error("nvml: not open"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.isStuck = true;
        reject(new NvmlTimeoutError(`nvml: ${body.op} did not return within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      worker.postMessage({ ...body, id });
    });
  }

  private settle(response: WorkerResponse): void {
    const pending = this.pending.get(response.id);
    if (!pending) {
      // The late answer of a timed-out request: the sampling thread is free again.
      this.isStuck = false;
      return;
    }
    this.pending.delete(response.id);
    clearTimeout(pending.timer);
    if (response.ok) pending.resolve(response.result);
    else pending.reject(new Error(response.error));
  }

  private failAll(err: Error): void {
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(err);
      this.pending.delete(id);
    }
  }

  /** Ends the worker; one stuck in a native call ends when that call returns, and never holds the process open. */
  private async discardWorker(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    worker.unref();
    if (this.isStuck) {
      void worker.terminate().catch(() => undefined);
      return;
    }
    await worker.terminate();
  }
}
