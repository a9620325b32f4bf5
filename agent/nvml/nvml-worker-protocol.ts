/**
 * The hand-off between the main thread and the NVML sampling thread: shared memory and futexes
 * instead of messages. A request is an op code and a sequence number stored into a shared control
 * block and a notify; the sampling thread, blocked in Atomics.wait with no event loop turning,
 * answers in place — a status and a serialized payload in a shared buffer — and notifies back; the main
 * thread awaits that with Atomics.waitAsync, whose timeout is the request's deadline. Per round
 * this costs one wake-up of each thread and no MessagePort, structured clone or timer: measured by
 * the footprint benchmark (test/bench/footprint-bench.ts).
 *
 * `sampleRounds` asks for several rounds in one request: the sampling thread takes them `interval`
 * apart on its own clock (sleeping in Atomics.wait on the `cancel` slot, which ends the batch early
 * with the rounds taken so far) and answers with all of them, so the main thread wakes once per
 * batch instead of once per round.
 *
 * The payload is written with V8's serializer, the structured-clone algorithm postMessage uses, so
 * an answer arrives exactly as the sampling thread built it (NaN, infinities and undefined
 * included), whatever fields the raw types grow.
 */
import { deserialize, serialize } from "node:v8";
import type { NvmlSampleRaw, NvmlSystemInfo } from "./types.js";
import { MIB } from "../../common/units.js";

/** Int32 slots of the control block. */
export const SLOT = {
  /** Sequence number of the latest request (main thread writes, then notifies). */
  request: 0,
  /** Its op code. */
  op: 1,
  /** Sequence number of the latest answer (sampling thread writes, then notifies); -1 once the thread is gone. */
  done: 2,
  /** Status of that answer. */
  status: 3,
  /** Payload bytes of that answer. */
  length: 4,
  /** `sampleRounds`: how many rounds. */
  count: 5,
  /** `sampleRounds`: milliseconds from the start of one round to the start of the next. */
  interval: 6,
  /** Non-zero ends a `sampleRounds` batch before its next round (main thread writes, then notifies). */
  cancel: 7,
} as const;

export const CONTROL_BYTES = 8 * Int32Array.BYTES_PER_ELEMENT;

/**
 * Payload capacity: far above any batch (a round is about 2 KiB for 3 GPUs, 25 KiB for 8 GPUs × 10
 * processes; a batch is at most one second of rounds); pages never written are never resident.
 */
export const PAYLOAD_BYTES = 4 * MIB;

export const OP = { open: 1, sample: 2, close: 3, sampleRounds: 4 } as const;
export type Op = (typeof OP)[keyof typeof OP];

export const STATUS = { ok: 0, error: 1 } as const;

/** `done` once the sampling thread has exited: wakes a waiter at once. */
export const THREAD_GONE = -1;

/** What the sampling thread is started with (`workerData`). */
export interface SamplingThreadInit {
  readonly control: SharedArrayBuffer;
  readonly payload: SharedArrayBuffer;
  readonly library: string;
  readonly maxBackoffMs: number;
  /** Whether the reader samples GPM metrics (`--nvml-gpm`). */
  readonly isGpmEnabled: boolean;
}

/** The answer of each op. */
export interface OpResult {
  readonly [OP.open]: NvmlSystemInfo;
  readonly [OP.sample]: NvmlSampleRaw;
  readonly [OP.close]: null;
  readonly [OP.sampleRounds]: readonly NvmlSampleRaw[];
}

/** Whether `value` is a sampling thread's start data. */
export function isSamplingThreadInit(value: unknown): value is SamplingThreadInit {
  if (typeof value !== "object" || value === null) return false;
  const init: Partial<Record<keyof SamplingThreadInit, unknown>> = value;
  return (
    init.control instanceof SharedArrayBuffer &&
    init.payload instanceof SharedArrayBuffer &&
    typeof init.library === "string" &&
    typeof init.maxBackoffMs === "number" &&
    typeof init.isGpmEnabled === "boolean"
  );
}

/**
 * Writes an answer into the payload buffer and its status and length into the control block
 * (the caller then publishes it by storing `done` and notifying). An answer larger than the
 * buffer becomes an error answer that says so; a batch of rounds larger than the buffer keeps its
 * newest rounds that fit (at least one), so a batch costs at most its oldest rounds, never all.
 */
export function writeAnswer(
  control: Int32Array,
  payload: Buffer,
  status: (typeof STATUS)[keyof typeof STATUS],
  body: unknown,
): void {
  let bytes = serialize(body);
  if (bytes.length > payload.length && Array.isArray(body) && body.length > 1) {
    let kept = body.length;
    while (bytes.length > payload.length && kept > 1) {
      kept = Math.max(1, Math.floor(kept / 2));
      bytes = serialize(body.slice(body.length - kept));
    }
  }
  if (bytes.length > payload.length) {
    const reason = `nvml: answer of ${bytes.length} bytes exceeds the ${payload.length}-byte hand-off buffer`;
    // A one-byte string serializes as a few header bytes and its characters: keep as many as fit.
    for (let keep = Math.min(reason.length, payload.length); keep >= 0; keep -= 1) {
      bytes = serialize(reason.slice(0, keep));
      if (bytes.length <= payload.length) break;
    }
    status = STATUS.error;
  }
  bytes.copy(payload, 0);
  Atomics.store(control, SLOT.status, status);
  Atomics.store(control, SLOT.length, bytes.length);
}

/** Reads the published answer: its status and its decoded body. */
export function readAnswer(control: Int32Array, payload: Buffer): { readonly isOk: boolean; readonly body: unknown } {
  const length = Atomics.load(control, SLOT.length);
  const body: unknown = deserialize(payload.subarray(0, length));
  return { isOk: Atomics.load(control, SLOT.status) === STATUS.ok, body };
}
