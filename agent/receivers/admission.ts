/**
 * Admission control for the OTLP receivers: a budget of request bytes being received or decoded at
 * once, shared by the HTTP and gRPC receivers. A request that does not fit is refused (HTTP 429,
 * gRPC RESOURCE_EXHAUSTED) instead of being buffered, so overload costs clients a retry rather than
 * costing the agent memory.
 *
 * The budget counts body bytes (after decompression for HTTP bodies read in chunks, the whole message
 * for gRPC), not the decoded objects; decoding allocates a few times less than the body for the
 * allow-listed attributes the agent keeps, so the body is the term that grows with load.
 */

/** What the admission controller has done since it was created; read at scrape time. */
export interface AdmissionCounters {
  /** Bytes currently held by requests in flight. */
  readonly inflightBytes: number;
  /** Most bytes ever held at once. */
  readonly peakInflightBytes: number;
  /** The budget. */
  readonly maxInflightBytes: number;
  /** tryAcquire() calls that were granted. */
  readonly acquisitions: number;
  /** tryAcquire() calls that were refused: each ends its request with 429 / RESOURCE_EXHAUSTED. */
  readonly rejections: number;
  /** Bytes asked for by the refused calls. */
  readonly rejectedBytes: number;
}

/** Bounds the bytes in flight across receivers. Synchronous; one instance per agent. */
export interface Admission {
  /**
   * Takes `bytes` from the budget when they fit and returns true; returns false (and counts a
   * rejection) when they do not. A grant must be given back with release(). A request larger than
   * the whole budget is never granted, so keep maxInflightBytes ≥ maxBodyBytes.
   */
  tryAcquire(bytes: number): boolean;
  /** Gives back `bytes` taken by tryAcquire(). Releasing more than is held clamps at zero. */
  release(bytes: number): void;
  readonly counters: AdmissionCounters;
}

/** Creates an admission controller with a budget of `maxInflightBytes`. */
export function createAdmission(maxInflightBytes: number): Admission {
  if (!(maxInflightBytes > 0)) throw new RangeError(`admission: maxInflightBytes must be positive, got ${maxInflightBytes}`);
  let inflightBytes = 0;
  let peakInflightBytes = 0;
  let acquisitions = 0;
  let rejections = 0;
  let rejectedBytes = 0;
  return {
    tryAcquire(bytes) {
      if (bytes < 0 || !Number.isFinite(bytes)) throw new RangeError(`admission: cannot acquire ${bytes} bytes`);
      if (inflightBytes + bytes > maxInflightBytes) {
        rejections++;
        rejectedBytes += bytes;
        return false;
      }
      inflightBytes += bytes;
      acquisitions++;
      if (inflightBytes > peakInflightBytes) peakInflightBytes = inflightBytes;
      return true;
    },
    release(bytes) {
      inflightBytes = Math.max(0, inflightBytes - bytes);
    },
    get counters() {
      return { inflightBytes, peakInflightBytes, maxInflightBytes, acquisitions, rejections, rejectedBytes };
    },
  };
}

/**
 * The bytes one request holds, so a receiver gives back exactly what it took, once, on every path.
 * Not shared between requests.
 */
export class AdmissionLease {
  private held = 0;

  constructor(private readonly admission: Admission) {}

  /** Takes `bytes` more; false when the budget refuses them (what is already held stays held). */
  tryAcquire(bytes: number): boolean {
    if (!this.admission.tryAcquire(bytes)) return false;
    this.held += bytes;
    return true;
  }

  /** Gives back everything held. Idempotent. */
  release(): void {
    if (this.held === 0) return;
    this.admission.release(this.held);
    this.held = 0;
  }

  get heldBytes(): number {
    return this.held;
  }
}
