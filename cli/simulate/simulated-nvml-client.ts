/**
 * The simulated fleet's stand-in for the NVML library, one client per simulated node. It replaces
 * only the library: its readings come back as the same raw structs NVML's reader produces, in NVML's
 * units, and go through the same conversion, collector and exporters. Every GPU series it feeds
 * carries `source="simulated"`, and the driver version says so too.
 *
 * Beside it, the node's kubelet view (which pod holds which GPU and runs which process), so a
 * simulated agent attributes GPUs and spans to pods the way a real one does.
 */
import type { PodAttribution, PodAttributor, PodRef } from "../../agent/collectors/pods/pod-attribution.js";
import { simulationClock, type SimulationClock } from "./clock.js";
import { gpuEnergyJoules, gpuStateAt, type Fleet, type SimGpu, type SimNode } from "./fleet-model.js";
import type { NvmlClient } from "../../agent/nvml/nvml-client.js";
import type { FieldGroup, GpuRaw, NvmlSampleRaw, NvmlSystemInfo } from "../../agent/nvml/types.js";

/** What `nvml_info` and `gpu_info` show as the driver of a simulated node. */
export const SIMULATED_DRIVER_VERSION = "simulated-550.00";

/** NVML's clocks-event reason "GPU idle" (nvml.h nvmlClocksEventReasonGpuIdle). */
const CLOCKS_EVENT_GPU_IDLE = 0x1;
/** What NVML cannot report on a PCIe card without NVLink or MIG; the real reader stops asking for it. */
const PCIE_UNSUPPORTED: readonly FieldGroup[] = ["nvlink", "mig"];

/** Options for {@link SimulatedNvmlClient}. */
export interface SimulatedNvmlClientOptions {
  readonly fleet: Fleet;
  /** The scenario node this client is the NVML of. */
  readonly node: string;
  /** Simulated time; real time from the fleet's origin by default. */
  readonly clock?: SimulationClock;
}

function nodeOf(fleet: Fleet, name: string): SimNode {
  const node = fleet.nodes.find((candidate) => candidate.name === name);
  if (!node) throw new Error(`simulation: no node ${name} in scenario ${fleet.scenario.name}`);
  return node;
}

/** One GPU's raw readings at simulated time `simMs`, in NVML's units. */
function readGpu(fleet: Fleet, gpu: SimGpu, simMs: number): GpuRaw {
  const state = gpuStateAt(fleet, gpu, simMs);
  const utilizationPercent = Math.round(state.utilizationRatio * 100);
  const hasNvlink = gpu.type.nvlinks > 0;
  return {
    index: gpu.index,
    uuid: gpu.uuid,
    name: gpu.type.name,
    pciBusId: gpu.pciBusId,
    isUp: true,
    utilizationGpuPercent: utilizationPercent,
    utilizationMemoryPercent: Math.round(state.memoryUtilizationRatio * 100),
    memoryTotalBytes: state.memoryTotalBytes,
    memoryUsedBytes: state.memoryUsedBytes,
    temperatureCelsius: Math.round(state.temperatureCelsius),
    powerMilliwatts: Math.round(state.powerWatts * 1000),
    powerLimitMilliwatts: state.powerLimitWatts * 1000,
    energyMillijoules: Math.floor(gpuEnergyJoules(fleet, gpu, simMs) * 1000),
    smClockMhz: state.smClockMhz,
    memoryClockMhz: state.memoryClockMhz,
    throttleReasons: utilizationPercent === 0 ? CLOCKS_EVENT_GPU_IDLE : 0,
    eccCorrected: 0,
    eccUncorrected: 0,
    remappedRows: { correctable: 0, uncorrectable: 0, isPending: false, hasFailed: false },
    ...(hasNvlink ? { nvlinkActive: Array.from({ length: gpu.type.nvlinks }, () => true), migEnabled: false } : {}),
    processes: gpu.replicas.map((replica) => ({
      pid: replica.pids[replica.gpuIndices.indexOf(gpu.index)] as number,
      usedMemoryBytes: replica.memoryPerGpuBytes,
    })),
    disabled: hasNvlink ? [] : PCIE_UNSUPPORTED,
  };
}

/**
 * NVML of one simulated node. open() and sample() answer at once and never hang; sample() rejects
 * when the client is not open, as the real one does. Safe to close twice or without open().
 */
export class SimulatedNvmlClient implements NvmlClient {
  readonly source = "simulated";
  private isOpen = false;
  private readonly node: SimNode;
  private readonly clock: SimulationClock;

  constructor(private readonly options: SimulatedNvmlClientOptions) {
    this.node = nodeOf(options.fleet, options.node);
    this.clock = options.clock ?? simulationClock({ originMs: options.fleet.originMs });
  }

  async open(): Promise<NvmlSystemInfo> {
    this.isOpen = true;
    return {
      library: "simulated",
      driverVersion: SIMULATED_DRIVER_VERSION,
      nvmlVersion: "simulated-12.550.00",
      cudaDriverVersion: "simulated-12040",
      deviceCount: this.node.gpus.length,
      missingFunctions: [],
      fieldNumbering: "simulated",
    };
  }

  async sample(): Promise<NvmlSampleRaw> {
    if (!this.isOpen) throw new Error(`nvml: simulated node ${this.node.name} is not open`);
    const startedAt = performance.now();
    const takenAtMs = this.clock.wallNow();
    const simMs = this.clock.simulatedNow();
    const gpus = this.node.gpus.map((gpu) => readGpu(this.options.fleet, gpu, simMs));
    return {
      takenAtMs,
      durationMs: performance.now() - startedAt,
      calls: 0,
      gpus,
      xids: [],
      newlyDisabled: [],
      errors: [],
    };
  }

  async close(): Promise<void> {
    this.isOpen = false;
  }

  hasStuckCall(): boolean {
    return false;
  }
}

/** How often the simulated kubelet view is "refreshed" (the real attributor's default interval). */
const REFRESH_MS = 10_000;

/**
 * The simulated node's kubelet view: the GPUs each replica's pod holds (by uuid, as the
 * pod-resources API reports them) and the pid of each of its processes. Its value changes
 * identity only once per refresh interval, as the real attributor's does.
 */
export class SimulatedPodAttributor implements PodAttributor {
  readonly name = "pods";
  private readonly byDevice: ReadonlyMap<string, readonly PodRef[]>;
  private readonly byPid: ReadonlyMap<number, PodRef>;
  private latest: PodAttribution | undefined;

  constructor(
    fleet: Fleet,
    node: string,
    private readonly now: () => number = Date.now,
  ) {
    const byDevice = new Map<string, PodRef[]>();
    const byPid = new Map<number, PodRef>();
    for (const replica of nodeOf(fleet, node).replicas) {
      const ref: PodRef = {
        namespace: replica.namespace,
        pod: replica.pod,
        container: replica.container,
        model: replica.model.name,
      };
      for (const uuid of replica.gpuUuids) byDevice.set(uuid, [...(byDevice.get(uuid) ?? []), ref]);
      for (const pid of replica.pids) byPid.set(pid, ref);
    }
    this.byDevice = byDevice;
    this.byPid = byPid;
  }

  async start(): Promise<void> {}

  async shutdown(): Promise<void> {}

  current(): PodAttribution {
    const nowMs = this.now();
    if (this.latest?.refreshedAtMs === undefined || nowMs - this.latest.refreshedAtMs >= REFRESH_MS) {
      this.latest = { byDevice: this.byDevice, refreshedAtMs: nowMs, isUp: true };
    }
    return this.latest;
  }

  containerOfPid(pid: number): PodRef | undefined {
    return this.byPid.get(pid);
  }

  async resolvePids(): Promise<void> {}
}
