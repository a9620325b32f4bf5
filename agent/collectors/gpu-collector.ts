import type { Collector, CollectResult } from "../../common/component.js";
import { COLLECTORS } from "../../common/conventions.js";
import { errorMessage, toError } from "../../common/errors.js";
import type { Logger } from "../../common/log.js";
import type { NvmlClient } from "../nvml/nvml-client.js";
import type { GpuRaw, NvmlSampleRaw, NvmlSystemInfo } from "../nvml/types.js";
import { toGpuSamples, type GpuSample, type PidLookup } from "./gpu-sample.js";
import type { PodAttribution } from "./pods/pod-attribution.js";

/** An XID code seen on a GPU: how often since the agent started and when last. */
export interface XidCount {
  readonly uuid: string;
  readonly index: string;
  readonly model: string;
  readonly xid: number;
  readonly count: number;
  readonly lastSeenMs: number;
  /** The MIG instance NVML attributed the event to, when it did. */
  readonly gpuInstance?: number;
  readonly computeInstance?: number;
}

/** What the exporters and the snapshot read: the latest state, never a live NVML call. */
export interface GpuView {
  readonly isNvmlUp: boolean;
  readonly source: NvmlClient["source"];
  readonly system: NvmlSystemInfo | undefined;
  readonly samples: readonly GpuSample[];
  readonly sampledAtMs: number | undefined;
  readonly xids: readonly XidCount[];
  /** NVML calls and wall time of the last round (the sampler's own timings). */
  readonly lastRound: { readonly calls: number; readonly durationMs: number } | undefined;
}

/** Options for {@link GpuCollector}. */
export interface GpuCollectorOptions {
  readonly client: NvmlClient;
  readonly retryIntervalMs: number;
  readonly log: Logger;
  readonly attribution: () => PodAttribution;
  readonly pidLookup: PidLookup;
  readonly now?: () => number;
}

/**
 * How often the event loop takes the sampling thread's rounds at the most: at intervals shorter
 * than this the rounds come in batches that span it (10 rounds a batch at 100 ms).
 */
export const BATCH_PERIOD_MS = 1_000;

/** Rounds per batch at `intervalMs` between rounds: as many as fit in BATCH_PERIOD_MS, at least 1. */
export function roundsPerBatch(intervalMs: number): number {
  return Math.max(1, Math.floor(BATCH_PERIOD_MS / intervalMs));
}

const EMPTY_ATTRIBUTION: PodAttribution = { byDevice: new Map(), refreshedAtMs: undefined, isUp: false };

/** Attribution for agents without pod mapping. */
export function noAttribution(): PodAttribution {
  return EMPTY_ATTRIBUTION;
}

/**
 * Samples every GPU through an NvmlClient. Opens NVML lazily and retries it at an interval when the
 * library is missing, fails to initialise or hangs; keeps XID counters across rounds (they stay
 * visible while sampling fails, which is when XIDs happen); logs each disabled field and each GPU
 * going down or coming back once.
 */
export class GpuCollector implements Collector<GpuSample> {
  readonly name = COLLECTORS.gpu;
  private system: NvmlSystemInfo | undefined;
  private isOpen = false;
  private nextOpenAtMs = 0;
  private lastOpenError: string | undefined;
  private samples: GpuSample[] = [];
  /** The latest round when it has not been converted yet: view() converts it (rounds nobody looks at never are). */
  private unconverted: NvmlSampleRaw | undefined;
  private sampledAtMs: number | undefined;
  private lastRound: GpuView["lastRound"];
  private readonly xids = new Map<string, XidCount>();
  private readonly wasUp = new Map<string, boolean>();
  private readonly now: () => number;

  constructor(private readonly options: GpuCollectorOptions) {
    this.now = options.now ?? Date.now;
  }

  async start(): Promise<void> {}

  async shutdown(): Promise<void> {
    this.isOpen = false;
    await this.options.client.close();
  }

  /** True when an NVML call hung and still runs on the sampling thread (a normal exit waits for it). */
  hasStuckNvmlCall(): boolean {
    return this.options.client.hasStuckCall();
  }

  /** The latest state for exporters; cheap, no I/O. */
  view(): GpuView {
    return {
      isNvmlUp: this.isOpen,
      source: this.options.client.source,
      system: this.system,
      samples: this.current(),
      sampledAtMs: this.sampledAtMs,
      xids: [...this.xids.values()],
      lastRound: this.lastRound,
    };
  }

  async collect(): Promise<CollectResult<GpuSample>> {
    let errors: Error[] = [];
    let isSampled = false;
    await this.collectRounds(1, 0, (result) => {
      errors = result.errors;
      isSampled = result.samples.length > 0;
    });
    return { samples: isSampled ? this.current() : [], errors };
  }

  /**
   * `count` rounds `intervalMs` apart, taken by the client in one batch where it can (the sampling
   * thread times them, so the event loop wakes once per batch) and one at a time otherwise. Each
   * round is absorbed in order and handed to `onRound` (its GPUs as NVML read them) before the next
   * is absorbed, so view() is that round's state while `onRound` runs; a round is converted to
   * samples only when view() is asked for it. A failed batch is one round with the error.
   */
  async collectRounds(
    count: number,
    intervalMs: number,
    onRound: (result: CollectResult<GpuRaw>, durationMs: number, takenAtMs?: number) => void,
  ): Promise<void> {
    if (!this.isOpen && !(await this.tryOpen())) {
      onRound({ samples: [], errors: [new Error(this.lastOpenError ?? "nvml: not open")] }, 0);
      return;
    }
    const { client } = this.options;
    let rounds: readonly NvmlSampleRaw[];
    try {
      rounds =
        count > 1 && client.sampleRounds !== undefined
          ? await client.sampleRounds(count, intervalMs)
          : [await client.sample()];
    } catch (err) {
      this.isOpen = false;
      this.nextOpenAtMs = this.now() + this.options.retryIntervalMs;
      this.samples = this.current().map((gpu) => ({
        ...identityOf(gpu),
        isUp: false,
        downReason: "NVML_UNRESPONSIVE",
      }));
      this.options.log.error(
        { err: errorMessage(err) },
        "NVML stopped answering; GPU series are marked down until it recovers",
      );
      await client.close().catch(() => undefined);
      onRound({ samples: [], errors: [toError(err)] }, 0);
      return;
    }
    for (const raw of rounds) {
      this.absorb(raw);
      const errors = raw.errors.map((message) => new Error(message));
      onRound({ samples: [...raw.gpus], errors }, raw.durationMs, raw.takenAtMs);
    }
  }

  /** Ends a batch in progress before its next round (shutdown does not wait out the batch). */
  cancelRounds(): void {
    this.options.client.cancelRounds?.();
  }

  private async tryOpen(): Promise<boolean> {
    if (this.now() < this.nextOpenAtMs) return false;
    try {
      this.system = await this.options.client.open();
      this.isOpen = true;
      this.lastOpenError = undefined;
      const { driverVersion, cudaDriverVersion, deviceCount, library, missingFunctions, fieldNumbering } = this.system;
      this.options.log.info(
        { library, driverVersion, cudaDriverVersion, fieldNumbering, deviceCount, missingFunctions },
        "NVML initialised",
      );
      return true;
    } catch (err) {
      const message = errorMessage(err);
      this.nextOpenAtMs = this.now() + this.options.retryIntervalMs;
      if (message !== this.lastOpenError) {
        this.options.log.warn(
          { err: message, retryInMs: this.options.retryIntervalMs },
          "NVML unavailable: inferwatch_nvml_up is 0, GPU metrics are absent, everything else is served",
        );
      }
      this.lastOpenError = message;
      return false;
    }
  }

  /** The latest round's samples, converted now if they were not yet. */
  private current(): GpuSample[] {
    const raw = this.unconverted;
    if (raw !== undefined) {
      this.unconverted = undefined;
      this.samples = toGpuSamples(raw, this.options.attribution(), this.options.pidLookup);
    }
    return this.samples;
  }

  /** Takes a round in: its events and state changes now, its conversion when view() asks. */
  private absorb(raw: NvmlSampleRaw): void {
    this.unconverted = raw;
    this.sampledAtMs = raw.takenAtMs;
    this.lastRound = { calls: raw.calls, durationMs: raw.durationMs };
    for (const disabled of raw.newlyDisabled) {
      this.options.log.info(disabled, "NVML field not available on this GPU; no longer asked for");
    }
    for (const gpu of raw.gpus) {
      const previous = this.wasUp.get(gpu.uuid);
      if (previous !== undefined && previous !== gpu.isUp) {
        if (gpu.isUp) this.options.log.info({ uuid: gpu.uuid, gpu: gpu.index }, "GPU answers again");
        else
          this.options.log.warn(
            { uuid: gpu.uuid, gpu: gpu.index, reason: gpu.downReason },
            "GPU down; retrying with backoff",
          );
      } else if (previous === undefined && !gpu.isUp) {
        this.options.log.warn(
          { uuid: gpu.uuid, gpu: gpu.index, reason: gpu.downReason },
          "GPU down at start; retrying with backoff",
        );
      }
      this.wasUp.set(gpu.uuid, gpu.isUp);
    }
    for (const event of raw.xids) {
      const gpu = raw.gpus.find((candidate) => candidate.uuid === event.uuid);
      const key = `${event.uuid}/${event.xid}/${event.gpuInstanceId ?? ""}/${event.computeInstanceId ?? ""}`;
      const previous = this.xids.get(key);
      this.xids.set(key, {
        uuid: event.uuid,
        index: gpu ? String(gpu.index) : "",
        model: gpu?.name ?? "",
        xid: event.xid,
        count: (previous?.count ?? 0) + 1,
        lastSeenMs: event.atMs,
        ...(event.gpuInstanceId === undefined ? {} : { gpuInstance: event.gpuInstanceId }),
        ...(event.computeInstanceId === undefined ? {} : { computeInstance: event.computeInstanceId }),
      });
      const mig = gpu?.migDevices?.find(
        (d) => d.gpuInstanceId === event.gpuInstanceId && d.computeInstanceId === event.computeInstanceId,
      );
      this.options.log.warn(
        {
          uuid: event.uuid,
          xid: event.xid,
          gpuInstance: event.gpuInstanceId,
          computeInstance: event.computeInstanceId,
          migUuid: mig?.uuid,
        },
        "XID critical error",
      );
    }
  }
}

function identityOf(
  gpu: GpuSample,
): Pick<GpuSample, "index" | "uuid" | "model" | "pciBusId" | "holders" | "unsupported"> {
  return {
    index: gpu.index,
    uuid: gpu.uuid,
    model: gpu.model,
    pciBusId: gpu.pciBusId,
    holders: gpu.holders,
    unsupported: gpu.unsupported,
  };
}
