import koffi from "koffi";
import { cString, type NvmlFunctionName, type NvmlLibrary } from "./nvml-library.js";
import {
  GPM_METRIC_MAX_LARGEST,
  GPM_METRIC_SIZE,
  GPM_METRICS_OFFSET,
  NvmlReturn,
  PROCESS_DETAIL_LIST_SIZE,
} from "./nvml-abi.js";

/**
 * An unsigned 64-bit little-endian integer as a number, from its two 32-bit halves: exact to 2^53
 * (bytes, millijoules, counters, bit masks up to bit 52), and no BigInt allocated per read.
 */
export function u64At(buffer: Buffer, offset: number): number {
  return buffer.readUInt32LE(offset + 4) * 2 ** 32 + buffer.readUInt32LE(offset);
}

/**
 * Calls into a loaded NVML library with reusable scratch buffers, counting every call.
 * Not thread-safe and not reentrant: one instance per sampling thread. The values read from a
 * scratch buffer are valid until the next call.
 */
export class NvmlCalls {
  /** NVML calls made since the counter was last reset. */
  count = 0;
  readonly u32 = [Buffer.alloc(4), Buffer.alloc(4), Buffer.alloc(4), Buffer.alloc(4)] as const;
  readonly u64 = Buffer.alloc(8);
  readonly handle = Buffer.alloc(8);
  readonly text = Buffer.alloc(96);
  readonly struct = Buffer.alloc(72);
  /** nvmlProcessDetailList_v1_t, reused. */
  readonly detailList = Buffer.alloc(PROCESS_DETAIL_LIST_SIZE);
  private processes = Buffer.alloc(0);
  private processesAddress: bigint | undefined;
  private fields = Buffer.alloc(0);
  private gpm: Buffer | undefined;

  constructor(readonly lib: NvmlLibrary) {}

  /** Whether the library has this function. */
  has(name: NvmlFunctionName): boolean {
    return this.lib.fn[name] !== undefined;
  }

  /** Calls a function; a function the library lacks answers FUNCTION_NOT_FOUND without a call. */
  call(name: NvmlFunctionName, ...args: unknown[]): number {
    const fn = this.lib.fn[name];
    if (fn === undefined) return NvmlReturn.FUNCTION_NOT_FOUND;
    this.count++;
    return fn(...args) as number;
  }

  /** Calls a getter with one unsigned int out-parameter; the value is in `this.u32[0]`. */
  u32Out(name: NvmlFunctionName, ...args: unknown[]): number {
    return this.call(name, ...args, this.u32[0]);
  }

  /** Calls a getter that writes a string into a buffer of `length`; the text is `this.lastText()`. */
  textOut(name: NvmlFunctionName, length: number, ...args: unknown[]): number {
    this.text.fill(0);
    return this.call(name, ...args, this.text, length);
  }

  lastText(): string {
    return cString(this.text);
  }

  lastU32(slot = 0): number {
    return (this.u32[slot] as Buffer).readUInt32LE(0);
  }

  lastU64(): number {
    return u64At(this.u64, 0);
  }

  lastHandle(): bigint {
    return this.handle.readBigUInt64LE(0);
  }

  /** A buffer of at least `bytes` for a process list, reused across calls. */
  processBuffer(bytes: number): Buffer {
    if (this.processes.length < bytes) {
      this.processes = Buffer.alloc(Math.max(bytes, this.processes.length * 2));
      this.processesAddress = undefined;
    }
    return this.processes;
  }

  /** The address of the current process buffer (for a struct's pointer field), looked up once per buffer. */
  processBufferAddress(): bigint {
    this.processesAddress ??= koffi.address(this.processes);
    return this.processesAddress;
  }

  /** A buffer of at least `bytes` for nvmlFieldValue_t entries, reused across calls. */
  fieldValues(bytes: number): Buffer {
    if (this.fields.length < bytes) this.fields = Buffer.alloc(Math.max(bytes, this.fields.length * 2));
    return this.fields;
  }

  /**
   * The nvmlGpmMetricsGet_t of this thread, allocated once at the size of the largest header
   * (NVML_GPM_METRIC_MAX 333), zeroed: a driver built with a smaller maximum reads only `numMetrics` entries.
   */
  gpmMetricsGet(): Buffer {
    this.gpm ??= Buffer.alloc(GPM_METRICS_OFFSET + GPM_METRIC_MAX_LARGEST * GPM_METRIC_SIZE);
    return this.gpm;
  }

  /** nvmlErrorString, or the code when the library cannot say. */
  describe(code: number): string {
    const fn = this.lib.fn.nvmlErrorString;
    if (fn === undefined) return `NVML error ${code}`;
    const text = fn(code);
    return typeof text === "string" ? text : `NVML error ${code}`;
  }
}
