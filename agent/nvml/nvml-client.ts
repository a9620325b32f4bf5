import type { NvmlSampleRaw, NvmlSystemInfo } from "./types.js";

/**
 * The narrow interface the GPU collector uses. Implementations: the worker-backed koffi client
 * (production), and the simulated client of the embedded fleet. Every method bounds its own time.
 */
export interface NvmlClient {
  /** `nvml` for a real (or fake) library, `simulated` for the simulator. Becomes the `source` label. */
  readonly source: "nvml" | "simulated";
  /** Loads and initialises NVML; rejects with the reason (missing library, init failure, timeout). */
  open(): Promise<NvmlSystemInfo>;
  /** One sampling round; rejects on timeout or when NVML is not open. */
  sample(): Promise<NvmlSampleRaw>;
  /**
   * `count` rounds, each `intervalMs` after the one before, answered together (oldest first); fewer
   * when cancelRounds() ends the batch early. Rejects like sample(), its deadline `(count − 1) ×
   * intervalMs` later. Clients without it are asked one round at a time.
   */
  sampleRounds?(count: number, intervalMs: number): Promise<readonly NvmlSampleRaw[]>;
  /** Ends a sampleRounds() batch in progress before its next round. */
  cancelRounds?(): void;
  /** Shuts NVML down. Safe twice and without open(). */
  close(): Promise<void>;
  /** True while a timed-out call is still running in native code (the process cannot exit normally then). */
  hasStuckCall(): boolean;
}

/** Raised when NVML does not answer in time: the call may still be running on the sampling thread. */
export class NvmlTimeoutError extends Error {}
