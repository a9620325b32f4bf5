import type { NvmlSampleRaw, NvmlSystemInfo } from "./types.js";

/** Requests the main thread sends to the NVML sampling worker. */
export type WorkerRequest =
  | { readonly id: number; readonly op: "open"; readonly library: string; readonly maxBackoffMs: number; readonly isGpmEnabled: boolean }
  | { readonly id: number; readonly op: "sample" }
  | { readonly id: number; readonly op: "close" };

/** The worker's answer to request `id`. */
export type WorkerResponse =
  | { readonly id: number; readonly ok: true; readonly result: NvmlSystemInfo | NvmlSampleRaw | null }
  | { readonly id: number; readonly ok: false; readonly error: string };
