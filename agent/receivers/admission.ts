/**
 * Admission control for the OTLP receivers: a budget of request bytes being received or decoded at
 * once, shared by the HTTP and gRPC receivers. A request that does not fit is refused (HTTP 429,
 * gRPC RESOURCE_EXHAUSTED) instead of being buffered, so overload costs clients a retry rather than
 * costing the agent memory.
 *
 * What is counted is taken before the memory is: HTTP bodies chunk by chunk as they are inflated;
 * a gRPC call reserves the largest message it may inflate to before its message is read (grpc-js
 * inflates a whole message before any handler sees it) and gives back the difference once the
 * message is in; an OTLP/JSON body is charged what parsing it is estimated to allocate before it is
 * parsed. The protobuf decoder allocates a few times less than the body for the allow-listed
 * attributes the agent keeps, so for protobuf the body is the term that grows with load.
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
  /** Gives back `bytes` taken by tryAcquire() or a granted wait. Releasing more than is held clamps at zero. */
  release(bytes: number): void;
  /**
   * Takes `bytes` as soon as they fit, waiting at most `waitMs` behind earlier waiters (first come,
   * first served). The wait is granted (true) or ends refused (false, counted as one rejection) at
   * the deadline, at once when `bytes` exceed the whole budget, or when cancel() is called first.
   * Requests through tryAcquire() do not queue behind waiters.
   */
  waitToAcquire(bytes: number, waitMs: number): AdmissionWait;
  readonly counters: AdmissionCounters;
}

/** A pending {@link Admission.waitToAcquire}. */
export interface AdmissionWait {
  /** Resolves true once the bytes are taken (give them back with release()), false when refused or cancelled. */
  readonly granted: Promise<boolean>;
  /** Stops waiting; a wait already granted is not undone (release() gives the bytes back). */
  cancel(): void;
}

/** Creates an admission controller with a budget of `maxInflightBytes`. */
export function createAdmission(maxInflightBytes: number): Admission {
  if (!(maxInflightBytes > 0))
    throw new RangeError(`admission: maxInflightBytes must be positive, got ${maxInflightBytes}`);
  let inflightBytes = 0;
  let peakInflightBytes = 0;
  let acquisitions = 0;
  let rejections = 0;
  let rejectedBytes = 0;
  /** Waiters in arrival order; each is settled (granted or refused) exactly once. */
  const waiters: { readonly bytes: number; settle(isGranted: boolean): void }[] = [];
  const take = (bytes: number): void => {
    inflightBytes += bytes;
    acquisitions++;
    if (inflightBytes > peakInflightBytes) peakInflightBytes = inflightBytes;
  };
  const refuse = (bytes: number): void => {
    rejections++;
    rejectedBytes += bytes;
  };
  const checkBytes = (bytes: number): void => {
    if (bytes < 0 || !Number.isFinite(bytes)) throw new RangeError(`admission: cannot acquire ${bytes} bytes`);
  };
  /** Grants waiters from the head while they fit; the head blocks the ones behind it (no overtaking). */
  const wake = (): void => {
    while (waiters.length > 0 && inflightBytes + (waiters[0]?.bytes ?? 0) <= maxInflightBytes)
      waiters.shift()?.settle(true);
  };
  return {
    tryAcquire(bytes) {
      checkBytes(bytes);
      if (inflightBytes + bytes > maxInflightBytes) {
        refuse(bytes);
        return false;
      }
      take(bytes);
      return true;
    },
    release(bytes) {
      inflightBytes = Math.max(0, inflightBytes - bytes);
      wake();
    },
    waitToAcquire(bytes, waitMs) {
      checkBytes(bytes);
      if (waiters.length === 0 && inflightBytes + bytes <= maxInflightBytes) {
        take(bytes);
        return { granted: Promise.resolve(true), cancel() {} };
      }
      if (bytes > maxInflightBytes || !(waitMs > 0)) {
        refuse(bytes);
        return { granted: Promise.resolve(false), cancel() {} };
      }
      let settle: (isGranted: boolean) => void = () => undefined;
      const granted = new Promise<boolean>((resolve) => {
        let timer: NodeJS.Timeout | undefined;
        const waiter = {
          bytes,
          settle(isGranted: boolean) {
            clearTimeout(timer);
            const at = waiters.indexOf(waiter);
            if (at >= 0) waiters.splice(at, 1);
            if (isGranted) take(bytes);
            resolve(isGranted);
          },
        };
        waiters.push(waiter);
        timer = setTimeout(() => {
          refuse(bytes);
          waiter.settle(false);
          wake();
        }, waitMs);
        settle = (isGranted) => {
          if (waiters.includes(waiter)) {
            waiter.settle(isGranted);
            wake();
          }
        };
      });
      return { granted, cancel: () => settle(false) };
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
