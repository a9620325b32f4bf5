import type { Collector, CollectResult } from "../../common/component.js";
import { COLLECTORS } from "../../common/conventions.js";
import { errorMessage } from "../../common/errors.js";
import type { Logger } from "../../common/log.js";
import type { NvmlClient } from "../nvml/nvml-client.js";
import type { NvmlSampleRaw, NvmlSystemInfo } from "../nvml/types.js";
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
      samples: this.samples,
      sampledAtMs: this.sampledAtMs,
      xids: [...this.xids.values()],
      lastRound: this.lastRound,
    };
  }

  async collect(): Promise<CollectResult<GpuSample>> {
    if (!this.isOpen && !(await this.tryOpen()))
      return { samples: [], errors: [new Error(this.lastOpenError ?? "nvml: not open")] };
    let raw: NvmlSampleRaw;
    try {
      raw = await this.options.client.sample();
    } catch (err) {
      this.isOpen = false;
      this.nextOpenAtMs = this.now() + this.options.retryIntervalMs;
      this.samples = this.samples.map((gpu) => ({ ...identityOf(gpu), isUp: false, downReason: "NVML_UNRESPONSIVE" }));
      this.options.log.error(
        { err: errorMessage(err) },
        "NVML stopped answering; GPU series are marked down until it recovers",
      );
      await this.options.client.close().catch(() => undefined);
      return { samples: [], errors: [err instanceof Error ? err : new Error(String(err))] };
    }
    this.absorb(raw);
    return { samples: this.samples, errors: raw.errors.map((message) => new Error(message)) };
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

  private absorb(raw: NvmlSampleRaw): void {
    this.samples = toGpuSamples(raw, this.options.attribution(), this.options.pidLookup);
    this.sampledAtMs = raw.takenAtMs;
    this.lastRound = { calls: raw.calls, durationMs: raw.durationMs };
    for (const disabled of raw.newlyDisabled) {
      this.options.log.info(disabled, "NVML field not available on this GPU; no longer asked for");
    }
    for (const gpu of this.samples) {
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
      const gpu = this.samples.find((candidate) => candidate.uuid === event.uuid);
      const key = `${event.uuid}/${event.xid}/${event.gpuInstanceId ?? ""}/${event.computeInstanceId ?? ""}`;
      const previous = this.xids.get(key);
      this.xids.set(key, {
        uuid: event.uuid,
        index: gpu ? String(gpu.index) : "",
        model: gpu?.model ?? "",
        xid: event.xid,
        count: (previous?.count ?? 0) + 1,
        lastSeenMs: event.atMs,
        ...(event.gpuInstanceId === undefined ? {} : { gpuInstance: event.gpuInstanceId }),
        ...(event.computeInstanceId === undefined ? {} : { computeInstance: event.computeInstanceId }),
      });
      const mig = gpu?.migDevices?.find(
        (d) => d.gpuInstance === event.gpuInstanceId && d.computeInstance === event.computeInstanceId,
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
