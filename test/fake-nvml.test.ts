/**
 * ABI tests of the fake NVML library (test/fixtures/fake-nvml): builds it, loads it with koffi
 * directly (no agent code) and checks return codes, struct offsets and scenario behaviour.
 *
 * One dlopen'd instance is shared by every test of the full build, so each test starts its own
 * session: a fresh scenario file, FAKE_NVML_SCENARIO, nvmlInit_v2 — and afterEach shuts it down.
 */
import { appendFile, mkdir, mkdtemp, rename, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import koffi from "koffi";
import type { LibraryHandle } from "koffi";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { buildFakeNvml } from "./setup/build-fake-nvml.js";
import type { FakeNvmlLibraries } from "./setup/build-fake-nvml.js";

const REPO_ROOT = fileURLToPath(new URL("../", import.meta.url));

const NVML_SUCCESS = 0;
const NVML_ERROR_UNINITIALIZED = 1;
const NVML_ERROR_INVALID_ARGUMENT = 2;
const NVML_ERROR_NOT_SUPPORTED = 3;
const NVML_ERROR_NO_PERMISSION = 4;
const NVML_ERROR_NOT_FOUND = 6;
const NVML_ERROR_INSUFFICIENT_SIZE = 7;
const NVML_ERROR_DRIVER_NOT_LOADED = 9;
const NVML_ERROR_TIMEOUT = 10;
const NVML_ERROR_GPU_IS_LOST = 15;
const NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18;
const NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25;

const MEMORY_V2_VERSION = 0x02000028;
const TEMPERATURE_V1_VERSION = 0x0100000c;
const NOT_MIG = 0xffffffff;
const XID_EVENT = 0x8n;

type NativeFn = (...args: unknown[]) => number;

/** The NVML entry points, every pointer declared `void *` (Buffers in, BigInt handles). */
const PROTOTYPES = {
  init: "int nvmlInit_v2(void)",
  shutdown: "int nvmlShutdown(void)",
  driverVersion: "int nvmlSystemGetDriverVersion(void *buf, unsigned int len)",
  nvmlVersion: "int nvmlSystemGetNVMLVersion(void *buf, unsigned int len)",
  cudaVersion: "int nvmlSystemGetCudaDriverVersion(void *v)",
  cudaVersionV2: "int nvmlSystemGetCudaDriverVersion_v2(void *v)",
  count: "int nvmlDeviceGetCount_v2(void *n)",
  handleByIndex: "int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void *dev)",
  uuid: "int nvmlDeviceGetUUID(void *dev, void *buf, unsigned int len)",
  name: "int nvmlDeviceGetName(void *dev, void *buf, unsigned int len)",
  index: "int nvmlDeviceGetIndex(void *dev, void *i)",
  pci: "int nvmlDeviceGetPciInfo_v3(void *dev, void *pci)",
  util: "int nvmlDeviceGetUtilizationRates(void *dev, void *u)",
  memory: "int nvmlDeviceGetMemoryInfo(void *dev, void *m)",
  memoryV2: "int nvmlDeviceGetMemoryInfo_v2(void *dev, void *m)",
  temperature: "int nvmlDeviceGetTemperature(void *dev, int sensor, void *t)",
  temperatureV: "int nvmlDeviceGetTemperatureV(void *dev, void *t)",
  power: "int nvmlDeviceGetPowerUsage(void *dev, void *p)",
  powerLimit: "int nvmlDeviceGetEnforcedPowerLimit(void *dev, void *p)",
  energy: "int nvmlDeviceGetTotalEnergyConsumption(void *dev, void *e)",
  clock: "int nvmlDeviceGetClockInfo(void *dev, int type, void *c)",
  eventReasons: "int nvmlDeviceGetCurrentClocksEventReasons(void *dev, void *r)",
  throttleReasons: "int nvmlDeviceGetCurrentClocksThrottleReasons(void *dev, void *r)",
  ecc: "int nvmlDeviceGetTotalEccErrors(void *dev, int errorType, int counterType, void *c)",
  remappedRows: "int nvmlDeviceGetRemappedRows(void *dev, void *corr, void *unc, void *pending, void *failure)",
  fieldValues: "int nvmlDeviceGetFieldValues(void *dev, int count, void *values)",
  nvlinkState: "int nvmlDeviceGetNvLinkState(void *dev, unsigned int link, void *active)",
  migMode: "int nvmlDeviceGetMigMode(void *dev, void *current, void *pending)",
  maxMig: "int nvmlDeviceGetMaxMigDeviceCount(void *dev, void *n)",
  migHandle: "int nvmlDeviceGetMigDeviceHandleByIndex(void *dev, unsigned int i, void *mig)",
  gpuInstanceId: "int nvmlDeviceGetGpuInstanceId(void *dev, void *id)",
  computeInstanceId: "int nvmlDeviceGetComputeInstanceId(void *dev, void *id)",
  processesV3: "int nvmlDeviceGetComputeRunningProcesses_v3(void *dev, void *count, void *infos)",
  processesV2: "int nvmlDeviceGetComputeRunningProcesses_v2(void *dev, void *count, void *infos)",
  eventSetCreate: "int nvmlEventSetCreate(void *set)",
  registerEvents: "int nvmlDeviceRegisterEvents(void *dev, unsigned long long types, void *set)",
  eventSetWait: "int nvmlEventSetWait_v2(void *set, void *data, unsigned int timeoutms)",
  eventSetFree: "int nvmlEventSetFree(void *set)",
  noop: "int fake_nvml_noop(void)",
  tempThreshold: "int nvmlDeviceGetTemperatureThreshold(void *dev, int type, void *temp)",
  detailList: "int nvmlDeviceGetRunningProcessDetailList(void *dev, void *plist)",
  gpmSupport: "int nvmlGpmQueryDeviceSupport(void *dev, void *support)",
  gpmAlloc: "int nvmlGpmSampleAlloc(void *sample)",
  gpmFree: "int nvmlGpmSampleFree(void *sample)",
  gpmSampleGet: "int nvmlGpmSampleGet(void *dev, void *sample)",
  gpmMigSampleGet: "int nvmlGpmMigSampleGet(void *dev, unsigned int gi, void *sample)",
  gpmMetricsGet: "int nvmlGpmMetricsGet(void *metricsGet)",
  gpmStats: "int fake_nvml_gpm_stats(void *live, void *gets)",
} as const;

type Nvml = { [K in keyof typeof PROTOTYPES]: NativeFn } & { errorString: (rc: number) => string };

/** The five entry points an "old driver" lacks. */
const NEWER_SYMBOLS = [
  "nvmlDeviceGetMemoryInfo_v2",
  "nvmlDeviceGetTemperatureV",
  "nvmlDeviceGetCurrentClocksEventReasons",
  "nvmlDeviceGetComputeRunningProcesses_v3",
  "nvmlDeviceGetRemappedRows",
] as const;

function bindAll(lib: LibraryHandle): Nvml {
  const fns: Partial<Record<keyof typeof PROTOTYPES, NativeFn>> = {};
  for (const [key, proto] of Object.entries(PROTOTYPES) as [keyof typeof PROTOTYPES, string][]) {
    fns[key] = lib.func(proto) as NativeFn;
  }
  const errorString = lib.func("const char *nvmlErrorString(int rc)") as (rc: number) => string;
  return { ...(fns as Record<keyof typeof PROTOTYPES, NativeFn>), errorString };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** Longer than the library's 100 ms reload throttle. */
const RELOAD_WAIT_MS = 160;

function cString(buf: Buffer, offset = 0, length = buf.length - offset): string {
  const slice = buf.subarray(offset, offset + length);
  const end = slice.indexOf(0);
  return slice.subarray(0, end < 0 ? slice.length : end).toString("latin1");
}

const GPU0_UUID = "GPU-11111111-2222-3333-4444-555555555555";
const GPU1_UUID = "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

/** Two H100s: GPU 0 fully populated, GPU 1 without temp/power and NVLink. */
function baseScenario(extra = ""): string {
  return `# fake-nvml test scenario
driver_version 550.54.15
nvml_version 12.550.54.15
cuda_driver_version 12040
gpu_count 2

gpu.0.name NVIDIA H100 80GB HBM3
gpu.0.uuid ${GPU0_UUID}
gpu.0.pci_bus_id 00000000:17:00.0
gpu.0.util_gpu 55                # percent
gpu.0.util_mem 30
gpu.0.mem_total 85520809984
gpu.0.mem_used 42949672960
gpu.0.mem_reserved 536870912
gpu.0.temp 61
gpu.0.power_mw 350000
gpu.0.power_limit_mw 700000
gpu.0.energy_mj 123456789
gpu.0.sm_clock 1980
gpu.0.mem_clock 2619
gpu.0.throttle 0x4
gpu.0.ecc_corrected 3
gpu.0.ecc_uncorrected 1
gpu.0.remap_correctable 1
gpu.0.remap_uncorrectable 2
gpu.0.remap_pending 1
gpu.0.remap_failure 0
gpu.0.nvlink_count 18
gpu.0.nvlink_down 3,7
gpu.0.proc 4242 8589934592
gpu.0.proc 4343 1073741824
gpu.0.proc 4444 2147483648

gpu.1.name NVIDIA H100 80GB HBM3
gpu.1.uuid ${GPU1_UUID}
gpu.1.pci_bus_id 00000001:A3:00.0
gpu.1.util_gpu 12
gpu.1.util_mem 4
gpu.1.mem_total 85520809984
gpu.1.temp 40
gpu.1.power_mw 90000
gpu.1.nvlink_count 0
gpu.1.not_supported temp,power
${extra}`;
}

describe("fake NVML library", () => {
  let artifacts: string;
  let scenarios: string;
  let libs: FakeNvmlLibraries;
  let nvml: Nvml;
  let scenarioSeq = 0;

  beforeAll(async () => {
    await mkdir(path.join(REPO_ROOT, "test/artifacts"), { recursive: true });
    artifacts = await mkdtemp(path.join(REPO_ROOT, "test/artifacts/fake-nvml-test-"));
    scenarios = await mkdtemp(path.join(os.tmpdir(), "fake-nvml-scenarios-"));
    libs = await buildFakeNvml(artifacts);
    nvml = bindAll(koffi.load(libs.full));
  });

  afterAll(async () => {
    await rm(artifacts, { recursive: true, force: true });
    await rm(scenarios, { recursive: true, force: true });
  });

  afterEach(() => {
    // Drop every nvmlInit_v2 reference a test left behind, so the next one starts fresh.
    for (let i = 0; i < 16 && nvml.shutdown() === NVML_SUCCESS; i++);
    delete process.env.FAKE_NVML_SCENARIO;
  });

  /** Writes a scenario atomically (temp file + rename) and returns its path. */
  async function writeScenario(text: string, file?: string): Promise<string> {
    const target = file ?? path.join(scenarios, `scenario-${++scenarioSeq}.txt`);
    const temporary = `${target}.tmp`;
    await writeFile(temporary, text);
    await rename(temporary, target);
    return target;
  }

  /** Writes the scenario, points FAKE_NVML_SCENARIO at it and initializes NVML. */
  async function start(text: string): Promise<string> {
    const file = await writeScenario(text);
    process.env.FAKE_NVML_SCENARIO = file;
    expect(nvml.init()).toBe(NVML_SUCCESS);
    return file;
  }

  function handle(index: number): bigint {
    const out = Buffer.alloc(8);
    expect(nvml.handleByIndex(index, out)).toBe(NVML_SUCCESS);
    return out.readBigUInt64LE(0);
  }

  function migHandle(dev: bigint, index: number): bigint {
    const out = Buffer.alloc(8);
    expect(nvml.migHandle(dev, index, out)).toBe(NVML_SUCCESS);
    return out.readBigUInt64LE(0);
  }

  function readString(fn: NativeFn, dev: bigint): string {
    const buf = Buffer.alloc(96);
    expect(fn(dev, buf, buf.length)).toBe(NVML_SUCCESS);
    return cString(buf);
  }

  function readU32(fn: NativeFn, ...args: unknown[]): number {
    const out = Buffer.alloc(4);
    expect(fn(...args, out)).toBe(NVML_SUCCESS);
    return out.readUInt32LE(0);
  }

  function readU64(fn: NativeFn, ...args: unknown[]): bigint {
    const out = Buffer.alloc(8);
    expect(fn(...args, out)).toBe(NVML_SUCCESS);
    return out.readBigUInt64LE(0);
  }

  function utilization(dev: bigint): { gpu: number; memory: number } {
    const out = Buffer.alloc(8);
    expect(nvml.util(dev, out)).toBe(NVML_SUCCESS);
    return { gpu: out.readUInt32LE(0), memory: out.readUInt32LE(4) };
  }

  describe("lifecycle", () => {
    it("answers UNINITIALIZED before nvmlInit_v2 and after the last matching nvmlShutdown", async () => {
      const count = Buffer.alloc(4);
      expect(nvml.count(count)).toBe(NVML_ERROR_UNINITIALIZED);
      expect(nvml.shutdown()).toBe(NVML_ERROR_UNINITIALIZED);

      await start(baseScenario());
      expect(nvml.init()).toBe(NVML_SUCCESS); // reference-counted
      expect(nvml.shutdown()).toBe(NVML_SUCCESS);
      expect(nvml.count(count)).toBe(NVML_SUCCESS);
      expect(count.readUInt32LE(0)).toBe(2);
      expect(nvml.shutdown()).toBe(NVML_SUCCESS);
      expect(nvml.count(count)).toBe(NVML_ERROR_UNINITIALIZED);
      expect(nvml.handleByIndex(0, Buffer.alloc(8))).toBe(NVML_ERROR_UNINITIALIZED);
      expect(nvml.shutdown()).toBe(NVML_ERROR_UNINITIALIZED);
    });

    it("answers DRIVER_NOT_LOADED without a scenario variable or file", () => {
      delete process.env.FAKE_NVML_SCENARIO;
      expect(nvml.init()).toBe(NVML_ERROR_DRIVER_NOT_LOADED);
      process.env.FAKE_NVML_SCENARIO = path.join(scenarios, "does-not-exist.txt");
      expect(nvml.init()).toBe(NVML_ERROR_DRIVER_NOT_LOADED);
      expect(nvml.count(Buffer.alloc(4))).toBe(NVML_ERROR_UNINITIALIZED);
    });

    it("sleeps init_delay_ms inside nvmlInit_v2, then returns init_result", async () => {
      process.env.FAKE_NVML_SCENARIO = await writeScenario(`init_delay_ms 200\ninit_result 18\ngpu_count 1\n`);
      const started = performance.now();
      expect(nvml.init()).toBe(NVML_ERROR_LIB_RM_VERSION_MISMATCH);
      expect(performance.now() - started).toBeGreaterThanOrEqual(190);
      expect(nvml.count(Buffer.alloc(4))).toBe(NVML_ERROR_UNINITIALIZED);
    });

    it("exports fake_nvml_noop and static error strings", () => {
      expect(nvml.noop()).toBe(0);
      expect(nvml.errorString(0)).toBe("Success");
      expect(nvml.errorString(3)).toBe("Not Supported");
      expect(nvml.errorString(15)).toBe("GPU is lost");
      expect(nvml.errorString(25)).toBe("Argument version mismatch");
      expect(nvml.errorString(12345)).toBe("Unknown Error");
    });

    it("reuses a library that is newer than its source", async () => {
      const before = (await stat(libs.full)).mtimeMs;
      const again = await buildFakeNvml(artifacts);
      expect(again).toEqual(libs);
      expect((await stat(libs.full)).mtimeMs).toBe(before);
      expect(path.basename(libs.full)).toBe("libnvidia-ml.so.1");
      expect(path.relative(artifacts, libs.old)).toBe(path.join("old", "libnvidia-ml.so.1"));
    });
  });

  describe("system and identity", () => {
    it("reports driver, NVML and CUDA versions and rejects a short buffer", async () => {
      await start(baseScenario());
      const buf = Buffer.alloc(80);
      expect(nvml.driverVersion(buf, 80)).toBe(NVML_SUCCESS);
      expect(cString(buf)).toBe("550.54.15");
      expect(nvml.nvmlVersion(buf, 80)).toBe(NVML_SUCCESS);
      expect(cString(buf)).toBe("12.550.54.15");
      expect(nvml.driverVersion(buf, 9)).toBe(NVML_ERROR_INSUFFICIENT_SIZE); // needs 10 with the NUL
      expect(nvml.driverVersion(null, 80)).toBe(NVML_ERROR_INVALID_ARGUMENT);
      const cuda = Buffer.alloc(4);
      expect(nvml.cudaVersion(cuda)).toBe(NVML_SUCCESS);
      expect(cuda.readInt32LE(0)).toBe(12040);
      expect(nvml.cudaVersionV2(cuda)).toBe(NVML_SUCCESS);
      expect(cuda.readInt32LE(0)).toBe(12040);
    });

    it("enumerates GPUs with name, UUID, index and PCI info at the nvmlPciInfo_t offsets", async () => {
      await start(baseScenario());
      expect(readU32(nvml.count)).toBe(2);
      const gpu0 = handle(0);
      const gpu1 = handle(1);
      expect(gpu0).not.toBe(gpu1);
      expect(handle(0)).toBe(gpu0); // stable handles
      expect(nvml.handleByIndex(2, Buffer.alloc(8))).toBe(NVML_ERROR_INVALID_ARGUMENT);
      expect(nvml.handleByIndex(0, null)).toBe(NVML_ERROR_INVALID_ARGUMENT);

      expect(readString(nvml.name, gpu0)).toBe("NVIDIA H100 80GB HBM3");
      expect(readString(nvml.uuid, gpu0)).toBe(GPU0_UUID);
      expect(readString(nvml.uuid, gpu1)).toBe(GPU1_UUID);
      expect(nvml.uuid(gpu0, Buffer.alloc(96), 41)).toBe(NVML_SUCCESS); // 40 chars + NUL fit in 41
      expect(nvml.uuid(gpu0, Buffer.alloc(96), 40)).toBe(NVML_ERROR_INSUFFICIENT_SIZE);
      expect(readU32(nvml.index, gpu1)).toBe(1);
      expect(nvml.name(0x1234n, Buffer.alloc(96), 96)).toBe(NVML_ERROR_INVALID_ARGUMENT);

      const pci = Buffer.alloc(68, 0xaa);
      expect(nvml.pci(gpu0, pci)).toBe(NVML_SUCCESS);
      expect(cString(pci, 0, 16)).toBe("0000:17:00.0");
      expect(pci.readUInt32LE(16)).toBe(0); // domain
      expect(pci.readUInt32LE(20)).toBe(0x17); // bus
      expect(pci.readUInt32LE(24)).toBe(0); // device
      expect(pci.readUInt32LE(28)).toBe(0x233010de); // pciDeviceId
      expect(cString(pci, 36, 32)).toBe("00000000:17:00.0");

      expect(nvml.pci(gpu1, pci)).toBe(NVML_SUCCESS);
      expect(pci.readUInt32LE(16)).toBe(1);
      expect(pci.readUInt32LE(20)).toBe(0xa3);
      expect(cString(pci, 0, 16)).toBe("0001:A3:00.0");
      expect(cString(pci, 36, 32)).toBe("00000001:A3:00.0");
    });
  });

  describe("telemetry", () => {
    it("fills nvmlMemory_t and nvmlMemory_v2_t at their offsets and checks the v2 version", async () => {
      await start(baseScenario());
      const gpu0 = handle(0);
      const total = 85520809984n;
      const used = 42949672960n;
      const reserved = 536870912n;

      const v1 = Buffer.alloc(24);
      expect(nvml.memory(gpu0, v1)).toBe(NVML_SUCCESS);
      expect(v1.readBigUInt64LE(0)).toBe(total);
      expect(v1.readBigUInt64LE(8)).toBe(total - used - reserved); // free
      expect(v1.readBigUInt64LE(16)).toBe(used + reserved); // v1 used includes reserved

      const v2 = Buffer.alloc(40);
      v2.writeUInt32LE(MEMORY_V2_VERSION, 0);
      expect(nvml.memoryV2(gpu0, v2)).toBe(NVML_SUCCESS);
      expect(v2.readUInt32LE(0)).toBe(MEMORY_V2_VERSION);
      expect(v2.readBigUInt64LE(8)).toBe(total);
      expect(v2.readBigUInt64LE(16)).toBe(reserved);
      expect(v2.readBigUInt64LE(24)).toBe(total - used - reserved);
      expect(v2.readBigUInt64LE(32)).toBe(used);

      const wrong = Buffer.alloc(40);
      wrong.writeUInt32LE(0x01000018, 0);
      expect(nvml.memoryV2(gpu0, wrong)).toBe(NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
      expect(nvml.memoryV2(gpu0, Buffer.alloc(40))).toBe(NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    });

    it("reports utilization, temperature, power, clocks, throttle, ECC and remapped rows", async () => {
      await start(baseScenario());
      const gpu0 = handle(0);
      expect(utilization(gpu0)).toEqual({ gpu: 55, memory: 30 });
      expect(readU32(nvml.temperature, gpu0, 0)).toBe(61);
      expect(nvml.temperature(gpu0, 1, Buffer.alloc(4))).toBe(NVML_ERROR_INVALID_ARGUMENT);

      const temp = Buffer.alloc(12);
      temp.writeUInt32LE(TEMPERATURE_V1_VERSION, 0);
      temp.writeInt32LE(0, 4);
      expect(nvml.temperatureV(gpu0, temp)).toBe(NVML_SUCCESS);
      expect(temp.readInt32LE(8)).toBe(61);
      const badTemp = Buffer.alloc(12);
      badTemp.writeUInt32LE(0x0100000b, 0);
      expect(nvml.temperatureV(gpu0, badTemp)).toBe(NVML_ERROR_ARGUMENT_VERSION_MISMATCH);

      expect(readU32(nvml.power, gpu0)).toBe(350000);
      expect(readU32(nvml.powerLimit, gpu0)).toBe(700000);
      expect(readU32(nvml.clock, gpu0, 0)).toBe(1980);
      expect(readU32(nvml.clock, gpu0, 1)).toBe(1980);
      expect(readU32(nvml.clock, gpu0, 2)).toBe(2619);
      expect(readU64(nvml.eventReasons, gpu0)).toBe(4n);
      expect(readU64(nvml.throttleReasons, gpu0)).toBe(4n);
      expect(readU64(nvml.ecc, gpu0, 0, 0)).toBe(3n);
      expect(readU64(nvml.ecc, gpu0, 1, 0)).toBe(1n);
      expect(readU64(nvml.ecc, gpu0, 1, 1)).toBe(1n);
      expect(nvml.ecc(gpu0, 2, 0, Buffer.alloc(8))).toBe(NVML_ERROR_INVALID_ARGUMENT);

      const rows = [Buffer.alloc(4), Buffer.alloc(4), Buffer.alloc(4), Buffer.alloc(4)];
      expect(nvml.remappedRows(gpu0, ...rows)).toBe(NVML_SUCCESS);
      expect(rows.map((b) => b.readUInt32LE(0))).toEqual([1, 2, 1, 0]);
      expect(nvml.remappedRows(gpu0, rows[0], null, rows[2], rows[3])).toBe(NVML_ERROR_INVALID_ARGUMENT);
    });

    it("grows energy by power_mw per second since init", async () => {
      await start(baseScenario());
      const gpu0 = handle(0);
      const first = readU64(nvml.energy, gpu0);
      const firstAt = performance.now();
      expect(first).toBeGreaterThanOrEqual(123456789n);
      expect(first).toBeLessThan(123456789n + 350000n); // well under a second since init
      await sleep(250);
      const second = readU64(nvml.energy, gpu0);
      const elapsedS = (performance.now() - firstAt) / 1000;
      const grown = Number(second - first);
      expect(grown).toBeGreaterThan(350000 * 0.2);
      expect(grown).toBeLessThanOrEqual(350000 * (elapsedS + 0.02));
    });

    it("answers NOT_SUPPORTED only for the calls and GPU named in not_supported", async () => {
      await start(baseScenario());
      const gpu0 = handle(0);
      const gpu1 = handle(1);
      expect(nvml.temperature(gpu1, 0, Buffer.alloc(4))).toBe(NVML_ERROR_NOT_SUPPORTED);
      const temp = Buffer.alloc(12);
      temp.writeUInt32LE(TEMPERATURE_V1_VERSION, 0);
      expect(nvml.temperatureV(gpu1, temp)).toBe(NVML_ERROR_NOT_SUPPORTED);
      expect(nvml.power(gpu1, Buffer.alloc(4))).toBe(NVML_ERROR_NOT_SUPPORTED);
      expect(utilization(gpu1)).toEqual({ gpu: 12, memory: 4 });
      expect(readU32(nvml.temperature, gpu0, 0)).toBe(61);
      expect(readU32(nvml.power, gpu0)).toBe(350000);
    });
  });

  describe("NVLink", () => {
    it("answers field 91 (NVLink link count) per field in the 40-byte nvmlFieldValue_t", async () => {
      await start(baseScenario());
      const values = Buffer.alloc(3 * 40);
      values.writeUInt32LE(91, 0);
      values.writeUInt32LE(83, 40); // any other field: per-field NOT_SUPPORTED
      values.writeUInt32LE(91, 80);
      const nowUs = BigInt(Date.now()) * 1000n;
      expect(nvml.fieldValues(handle(0), 3, values)).toBe(NVML_SUCCESS);
      for (const base of [0, 80]) {
        expect(values.readUInt32LE(base)).toBe(91);
        expect(values.readInt32LE(base + 24)).toBe(1); // valueType: unsigned int
        expect(values.readInt32LE(base + 28)).toBe(NVML_SUCCESS);
        expect(values.readUInt32LE(base + 32)).toBe(18);
        const ts = values.readBigInt64LE(base + 8);
        expect(ts > nowUs - 5_000_000n && ts < nowUs + 5_000_000n).toBe(true);
      }
      expect(values.readInt32LE(40 + 28)).toBe(NVML_ERROR_NOT_SUPPORTED);

      const noLinks = Buffer.alloc(40);
      noLinks.writeUInt32LE(91, 0);
      expect(nvml.fieldValues(handle(1), 1, noLinks)).toBe(NVML_SUCCESS);
      expect(noLinks.readInt32LE(28)).toBe(NVML_ERROR_NOT_SUPPORTED);
    });

    it("reports link state with nvlink_down links inactive", async () => {
      await start(baseScenario());
      const gpu0 = handle(0);
      const active = (link: number): number => readU32(nvml.nvlinkState, gpu0, link);
      expect([0, 3, 7, 17].map(active)).toEqual([1, 0, 0, 1]);
      expect(nvml.nvlinkState(gpu0, 18, Buffer.alloc(4))).toBe(NVML_ERROR_INVALID_ARGUMENT);
      expect(nvml.nvlinkState(handle(1), 0, Buffer.alloc(4))).toBe(NVML_ERROR_NOT_SUPPORTED);
    });
  });

  describe("processes", () => {
    const ENTRY = [
      { pid: 4242, used: 8589934592n },
      { pid: 4343, used: 1073741824n },
      { pid: 4444, used: 2147483648n },
    ];

    function expectEntries(buf: Buffer, stride: number): void {
      ENTRY.forEach((entry, i) => {
        const base = i * stride;
        expect(buf.readUInt32LE(base)).toBe(entry.pid);
        expect(buf.readBigUInt64LE(base + 8)).toBe(entry.used);
        expect(buf.readUInt32LE(base + 16)).toBe(NOT_MIG);
        expect(buf.readUInt32LE(base + 20)).toBe(NOT_MIG);
        if (stride === 32) expect(buf.readBigUInt64LE(base + 24)).toBe(0n); // usedGpuCcProtectedMemory
      });
    }

    it("follows the count protocol and writes 24-byte entries by default", async () => {
      await start(baseScenario());
      const gpu0 = handle(0);
      const count = Buffer.alloc(4);
      expect(nvml.processesV3(gpu0, count, null)).toBe(NVML_ERROR_INSUFFICIENT_SIZE);
      expect(count.readUInt32LE(0)).toBe(3);
      count.writeUInt32LE(2, 0);
      expect(nvml.processesV3(gpu0, count, Buffer.alloc(96))).toBe(NVML_ERROR_INSUFFICIENT_SIZE);
      expect(count.readUInt32LE(0)).toBe(3);

      count.writeUInt32LE(8, 0);
      const infos = Buffer.alloc(8 * 32, 0xaa);
      expect(nvml.processesV3(gpu0, count, infos)).toBe(NVML_SUCCESS);
      expect(count.readUInt32LE(0)).toBe(3);
      expectEntries(infos, 24);
      expect(infos.subarray(72).every((b) => b === 0xaa)).toBe(true); // wrote exactly 3 × 24 bytes

      const none = Buffer.alloc(4);
      expect(nvml.processesV3(handle(1), none, null)).toBe(NVML_SUCCESS);
      expect(none.readUInt32LE(0)).toBe(0);
    });

    it("writes 32-byte _v3 entries with process_entry_size 32 while _v2 stays at 24", async () => {
      await start(baseScenario("process_entry_size 32\n"));
      const gpu0 = handle(0);
      const count = Buffer.alloc(4);
      count.writeUInt32LE(3, 0);
      const v3 = Buffer.alloc(4 * 32, 0xaa);
      expect(nvml.processesV3(gpu0, count, v3)).toBe(NVML_SUCCESS);
      expectEntries(v3, 32);
      expect(v3.subarray(96).every((b) => b === 0xaa)).toBe(true);

      count.writeUInt32LE(3, 0);
      const v2 = Buffer.alloc(4 * 32, 0xaa);
      expect(nvml.processesV2(gpu0, count, v2)).toBe(NVML_SUCCESS);
      expectEntries(v2, 24);
      expect(v2.subarray(72).every((b) => b === 0xaa)).toBe(true);
    });
  });

  describe("scenario changes", () => {
    it("answers GPU_IS_LOST for a lost GPU's handle lookup and for calls on a handle that got lost", async () => {
      const file = await start(baseScenario("gpu.1.lost 1\n"));
      expect(readU32(nvml.count)).toBe(2);
      expect(nvml.handleByIndex(1, Buffer.alloc(8))).toBe(NVML_ERROR_GPU_IS_LOST);
      const gpu0 = handle(0);
      expect(utilization(gpu0).gpu).toBe(55);

      await writeScenario(baseScenario("gpu.0.lost 1\n"), file);
      await sleep(RELOAD_WAIT_MS);
      expect(nvml.util(gpu0, Buffer.alloc(8))).toBe(NVML_ERROR_GPU_IS_LOST);
      expect(nvml.name(gpu0, Buffer.alloc(96), 96)).toBe(NVML_ERROR_GPU_IS_LOST);
      expect(nvml.memory(gpu0, Buffer.alloc(24))).toBe(NVML_ERROR_GPU_IS_LOST);
      expect(nvml.handleByIndex(0, Buffer.alloc(8))).toBe(NVML_ERROR_GPU_IS_LOST);
      expect(readString(nvml.uuid, handle(1))).toBe(GPU1_UUID); // GPU 1 is back
    });

    it("re-reads a rewritten scenario and keeps handle identity", async () => {
      const file = await start(baseScenario());
      const gpu0 = handle(0);
      expect(utilization(gpu0)).toEqual({ gpu: 55, memory: 30 });
      await writeScenario(baseScenario().replace("gpu.0.util_gpu 55", "gpu.0.util_gpu 77"), file);
      await sleep(RELOAD_WAIT_MS);
      expect(utilization(gpu0)).toEqual({ gpu: 77, memory: 30 });
      expect(handle(0)).toBe(gpu0);
    });

    it("moves .ramp values with time since init, utilization clamped to 0..100", async () => {
      await start(`gpu_count 3
gpu.0.util_gpu 10
gpu.0.util_gpu.ramp 100
gpu.1.util_gpu 90
gpu.1.util_gpu.ramp 1000
gpu.2.util_gpu 5
gpu.2.util_gpu.ramp -1000
gpu.2.temp 50
gpu.2.temp.ramp 10
`);
      const [gpu0, gpu1, gpu2] = [handle(0), handle(1), handle(2)];
      const first = utilization(gpu0).gpu;
      const firstAt = performance.now();
      expect(first).toBeGreaterThanOrEqual(10);
      expect(first).toBeLessThan(25);
      await sleep(300);
      const second = utilization(gpu0).gpu;
      const elapsedS = (performance.now() - firstAt) / 1000;
      expect(second - first).toBeGreaterThanOrEqual(25);
      expect(second - first).toBeLessThanOrEqual(Math.ceil(100 * elapsedS) + 2);
      expect(utilization(gpu1).gpu).toBe(100);
      expect(utilization(gpu2).gpu).toBe(0);
      expect(readU32(nvml.temperature, gpu2, 0)).toBeGreaterThanOrEqual(53);
    });

    it("delivers an appended XID event once, only for GPUs registered on the set", async () => {
      const file = await start(baseScenario());
      const gpu0 = handle(0);
      const setOut = Buffer.alloc(8);
      expect(nvml.eventSetCreate(setOut)).toBe(NVML_SUCCESS);
      const set = setOut.readBigUInt64LE(0);
      expect(nvml.registerEvents(gpu0, XID_EVENT, set)).toBe(NVML_SUCCESS);

      const data = Buffer.alloc(32);
      expect(nvml.eventSetWait(set, data, 0)).toBe(NVML_ERROR_TIMEOUT);

      await appendFile(file, "event 1 1 48\nevent 2 0 79\n"); // GPU 1 is not registered
      await sleep(RELOAD_WAIT_MS);
      expect(nvml.eventSetWait(set, data, 0)).toBe(NVML_SUCCESS);
      expect(data.readBigUInt64LE(0)).toBe(gpu0); // device
      expect(data.readBigUInt64LE(8)).toBe(XID_EVENT); // eventType
      expect(data.readBigUInt64LE(16)).toBe(79n); // eventData: the XID
      expect(data.readUInt32LE(24)).toBe(NOT_MIG);
      expect(data.readUInt32LE(28)).toBe(NOT_MIG);
      expect(nvml.eventSetWait(set, data, 0)).toBe(NVML_ERROR_TIMEOUT); // delivered once

      const started = performance.now();
      expect(nvml.eventSetWait(set, data, 500)).toBe(NVML_ERROR_TIMEOUT);
      const waited = performance.now() - started;
      expect(waited).toBeGreaterThanOrEqual(15); // slept min(timeout, 20) ms
      expect(waited).toBeLessThan(400);

      await appendFile(file, "event 3 0 94\n");
      await sleep(RELOAD_WAIT_MS);
      expect(nvml.eventSetWait(set, data, 0)).toBe(NVML_SUCCESS);
      expect(data.readBigUInt64LE(16)).toBe(94n);

      expect(nvml.eventSetFree(set)).toBe(NVML_SUCCESS);
      expect(nvml.eventSetWait(set, data, 0)).toBe(NVML_ERROR_INVALID_ARGUMENT);
    });
  });

  describe("MIG", () => {
    // A privileged caller (root on the host): the parent of a MIG GPU answers memory and process queries.
    const MIG_SCENARIO = baseScenario(`privileged 1
gpu.1.mig_mode 1
gpu.1.mig 1 0 1g.10gb 10737418240 1073741824
gpu.1.mig 2 0 3g.40gb 42949672960 21474836480
gpu.1.proc 5151 1073741824 1 0
gpu.1.proc 5252 2147483648 2 0
`);

    it("exposes MIG devices as handles of their own with name, UUID, memory and instance ids", async () => {
      await start(MIG_SCENARIO);
      const gpu0 = handle(0);
      const gpu1 = handle(1);
      const modes = [Buffer.alloc(4), Buffer.alloc(4)];
      expect(nvml.migMode(gpu1, ...modes)).toBe(NVML_SUCCESS);
      expect(modes.map((b) => b.readUInt32LE(0))).toEqual([1, 1]);
      expect(readU32(nvml.maxMig, gpu1)).toBe(7);
      expect(readU32(nvml.maxMig, gpu0)).toBe(0);

      const mig0 = migHandle(gpu1, 0);
      const mig1 = migHandle(gpu1, 1);
      expect(new Set([gpu0, gpu1, mig0, mig1]).size).toBe(4);
      expect(nvml.migHandle(gpu1, 2, Buffer.alloc(8))).toBe(NVML_ERROR_NOT_FOUND);
      expect(nvml.migHandle(gpu1, 7, Buffer.alloc(8))).toBe(NVML_ERROR_INVALID_ARGUMENT);

      expect(readString(nvml.name, mig0)).toBe("NVIDIA H100 80GB HBM3 MIG 1g.10gb");
      expect(readString(nvml.name, mig1)).toBe("NVIDIA H100 80GB HBM3 MIG 3g.40gb");
      expect(readString(nvml.uuid, mig0)).toBe("MIG-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-1");
      expect(readString(nvml.uuid, mig1)).toBe("MIG-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-2");
      expect(readU32(nvml.gpuInstanceId, mig1)).toBe(2);
      expect(readU32(nvml.computeInstanceId, mig1)).toBe(0);
      expect(nvml.gpuInstanceId(gpu1, Buffer.alloc(4))).toBe(NVML_ERROR_INVALID_ARGUMENT);
      expect(nvml.computeInstanceId(gpu1, Buffer.alloc(4))).toBe(NVML_ERROR_INVALID_ARGUMENT);

      const v1 = Buffer.alloc(24);
      expect(nvml.memory(mig0, v1)).toBe(NVML_SUCCESS);
      expect([0, 8, 16].map((o) => v1.readBigUInt64LE(o))).toEqual([10737418240n, 9663676416n, 1073741824n]);
      const v2 = Buffer.alloc(40);
      v2.writeUInt32LE(MEMORY_V2_VERSION, 0);
      expect(nvml.memoryV2(mig1, v2)).toBe(NVML_SUCCESS);
      expect([8, 16, 24, 32].map((o) => v2.readBigUInt64LE(o))).toEqual([42949672960n, 0n, 21474836480n, 21474836480n]);

      expect(nvml.util(mig0, Buffer.alloc(8))).toBe(NVML_ERROR_NOT_SUPPORTED);

      const count = Buffer.alloc(4);
      count.writeUInt32LE(4, 0);
      const infos = Buffer.alloc(4 * 24);
      expect(nvml.processesV3(mig1, count, infos)).toBe(NVML_SUCCESS);
      expect(count.readUInt32LE(0)).toBe(1);
      expect(infos.readUInt32LE(0)).toBe(5252);
      expect(infos.readUInt32LE(16)).toBe(2);
      expect(infos.readUInt32LE(20)).toBe(0);
      count.writeUInt32LE(4, 0);
      expect(nvml.processesV3(gpu1, count, infos)).toBe(NVML_SUCCESS);
      expect(count.readUInt32LE(0)).toBe(2); // the parent lists every instance's processes
    });

    it("answers GPU_IS_LOST on MIG handles of a lost GPU and NOT_SUPPORTED with not_supported mig", async () => {
      const file = await start(MIG_SCENARIO);
      const gpu1 = handle(1);
      const mig0 = migHandle(gpu1, 0);
      await writeScenario(`${MIG_SCENARIO}gpu.1.lost 1\ngpu.0.not_supported mig\n`, file);
      await sleep(RELOAD_WAIT_MS);
      expect(nvml.name(mig0, Buffer.alloc(96), 96)).toBe(NVML_ERROR_GPU_IS_LOST);
      expect(nvml.gpuInstanceId(mig0, Buffer.alloc(4))).toBe(NVML_ERROR_GPU_IS_LOST);
      expect(nvml.migMode(handle(0), Buffer.alloc(4), Buffer.alloc(4))).toBe(NVML_ERROR_NOT_SUPPORTED);
    });
  });

  describe("MIG as a real driver answers an unprivileged caller", () => {
    const UNPRIVILEGED = baseScenario(`privileged 0
gpu.1.mig_mode 1
gpu.1.mig 1 0 3g.40gb 42949672960 4294967296
gpu.1.proc 5151 1073741824 1 0
event 1 1 31 1 0
`);

    it("refuses the parent's memory and processes, answers them per MIG device, and has no utilization or remapped rows", async () => {
      await start(UNPRIVILEGED);
      const gpu1 = handle(1);
      const mig0 = migHandle(gpu1, 0);
      expect(nvml.memory(gpu1, Buffer.alloc(24))).toBe(NVML_ERROR_NO_PERMISSION);
      const v2 = Buffer.alloc(40);
      v2.writeUInt32LE(MEMORY_V2_VERSION, 0);
      expect(nvml.memoryV2(gpu1, v2)).toBe(NVML_ERROR_NO_PERMISSION);
      expect(nvml.processesV3(gpu1, Buffer.alloc(4), null)).toBe(NVML_ERROR_NO_PERMISSION);
      expect(nvml.util(gpu1, Buffer.alloc(8))).toBe(NVML_ERROR_NOT_SUPPORTED);
      const rows = [Buffer.alloc(4), Buffer.alloc(4), Buffer.alloc(4), Buffer.alloc(4)];
      expect(nvml.remappedRows(gpu1, ...rows)).toBe(NVML_ERROR_NOT_SUPPORTED);
      expect(nvml.remappedRows(handle(0), ...rows)).toBe(NVML_SUCCESS); // only while MIG is on
      expect(nvml.memoryV2(mig0, v2)).toBe(NVML_SUCCESS);
      expect(v2.readBigUInt64LE(32)).toBe(4294967296n);
      const count = Buffer.alloc(4);
      count.writeUInt32LE(2, 0);
      const infos = Buffer.alloc(2 * 24);
      expect(nvml.processesV3(mig0, count, infos)).toBe(NVML_SUCCESS);
      expect([count.readUInt32LE(0), infos.readUInt32LE(0), infos.readUInt32LE(16)]).toEqual([1, 5151, 1]);
    });

    it("delivers an XID event with the GPU and compute instance it belongs to", async () => {
      await start(UNPRIVILEGED);
      const set = Buffer.alloc(8);
      expect(nvml.eventSetCreate(set)).toBe(NVML_SUCCESS);
      expect(nvml.registerEvents(handle(1), XID_EVENT, set.readBigUInt64LE(0))).toBe(NVML_SUCCESS);
      const data = Buffer.alloc(32);
      expect(nvml.eventSetWait(set.readBigUInt64LE(0), data, 0)).toBe(NVML_SUCCESS);
      expect([data.readBigUInt64LE(16), data.readUInt32LE(24), data.readUInt32LE(28)]).toEqual([31n, 1, 0]);
    });
  });

  describe("field values", () => {
    /** One nvmlFieldValue_t per id (scopeId UINT_MAX for the NVLink throughput ids), read after one call. */
    function fieldValues(dev: bigint, ids: readonly number[]): { rc: number; type: number; value: number }[] {
      const buf = Buffer.alloc(ids.length * 40);
      ids.forEach((id, i) => {
        buf.writeUInt32LE(id, i * 40);
        buf.writeUInt32LE(id === 138 || id === 139 ? 0xffffffff : 0, i * 40 + 4);
      });
      expect(nvml.fieldValues(dev, ids.length, buf)).toBe(NVML_SUCCESS);
      return ids.map((_, i) => {
        const type = buf.readInt32LE(i * 40 + 24);
        const value = type === 1 ? buf.readUInt32LE(i * 40 + 32) : Number(buf.readBigUInt64LE(i * 40 + 32));
        return { rc: buf.readInt32LE(i * 40 + 28), type, value };
      });
    }

    const FIELDS = `gpu.0.memory_temp 78
gpu.0.memory_temp_max 95
gpu.0.pcie_replay 12
gpu.0.viol_power_ns 1000
gpu.0.viol_thermal_ns 2000
gpu.0.sw_thermal_ns 3000
gpu.0.hw_thermal_ns 4000
gpu.0.hw_power_brake_ns 5000
gpu.0.power_smoothing 1
gpu.0.nvlink_tx_kib 1800
`;

    it("answers each field with its own return code and value type", async () => {
      await start(baseScenario(FIELDS));
      const [temp, replay, power, link, beyond] = fieldValues(handle(0), [82, 94, 74, 138, 250]);
      expect(temp).toEqual({ rc: NVML_SUCCESS, type: 1, value: 78 });
      expect(replay).toEqual({ rc: NVML_SUCCESS, type: 3, value: 12 });
      expect(power).toEqual({ rc: NVML_SUCCESS, type: 3, value: 1000 });
      expect(link).toEqual({ rc: NVML_SUCCESS, type: 3, value: 1800 });
      expect(beyond?.rc).toBe(NVML_ERROR_INVALID_ARGUMENT); // 250 is past NVML_FI_MAX (200) of a 12.4 header
      expect(fieldValues(handle(1), [82, 138]).map((v) => v.rc)).toEqual([
        NVML_ERROR_NOT_SUPPORTED,
        NVML_ERROR_NOT_SUPPORTED,
      ]);
      expect(readU32(nvml.tempThreshold, handle(0), 2)).toBe(95);
      expect(nvml.tempThreshold(handle(0), 0, Buffer.alloc(4))).toBe(NVML_ERROR_NOT_SUPPORTED);
    });

    // nvml.h 12.8: power smoothing 251..268; 12.9/13.0: throttle durations 251..253, smoothing 256..;
    // 13.1+: smoothing 251..268, durations 269..271.
    it.each([
      [12080, { 251: 1, 252: NaN, 253: NaN, 256: NaN, 269: NaN, 270: NaN }],
      [12090, { 251: 3000, 252: 4000, 253: 5000, 256: 1, 269: NaN, 270: NaN }],
      [13000, { 251: 3000, 252: 4000, 253: 5000, 256: 1, 269: NaN, 270: NaN }],
      [13010, { 251: 1, 252: NaN, 253: NaN, 256: NaN, 269: 3000, 270: 4000 }],
      [13030, { 251: 1, 252: NaN, 253: NaN, 256: NaN, 269: 3000, 270: 4000 }],
    ])(
      "numbers the throttle-duration and power-smoothing fields as the header of CUDA %i does",
      async (cuda, expected) => {
        await start(baseScenario(FIELDS).replace("cuda_driver_version 12040", `cuda_driver_version ${cuda}`));
        const ids = Object.keys(expected).map(Number);
        const answers = fieldValues(handle(0), ids);
        const got = Object.fromEntries(
          ids.map((id, i) => [id, answers[i]?.rc === NVML_SUCCESS ? answers[i]?.value : NaN]),
        );
        // NaN: no value (NOT_SUPPORTED for an id the fake does not model, INVALID_ARGUMENT past NVML_FI_MAX).
        expect(got).toEqual(expected);
      },
    );
  });

  describe("processes", () => {
    it("writes 16-byte entries from _v3 with process_entry_size 16", async () => {
      await start(
        baseScenario().replace("cuda_driver_version 12040", "cuda_driver_version 12040\nprocess_entry_size 16"),
      );
      const count = Buffer.alloc(4);
      count.writeUInt32LE(8, 0);
      const infos = Buffer.alloc(8 * 32, 0xaa);
      expect(nvml.processesV3(handle(0), count, infos)).toBe(NVML_SUCCESS);
      expect(count.readUInt32LE(0)).toBe(3);
      expect([infos.readUInt32LE(16), infos.readBigUInt64LE(24)]).toEqual([4343, 1073741824n]);
      expect(infos.subarray(48, 72).every((b) => b === 0xaa)).toBe(true);
    });

    it("fills the versioned nvmlProcessDetailList_v1_t with 32-byte entries by the count protocol", async () => {
      await start(baseScenario());
      const plist = Buffer.alloc(24);
      plist.writeUInt32LE(24 | (1 << 24), 0);
      expect(nvml.detailList(handle(0), plist)).toBe(NVML_ERROR_INSUFFICIENT_SIZE);
      expect(plist.readUInt32LE(8)).toBe(3);
      const entries = Buffer.alloc(3 * 32);
      plist.writeBigUInt64LE(koffi.address(entries), 16);
      expect(nvml.detailList(handle(0), plist)).toBe(NVML_SUCCESS);
      expect([0, 32, 64].map((o) => entries.readUInt32LE(o))).toEqual([4242, 4343, 4444]);
      expect(entries.readUInt32LE(32 + 16)).toBe(NOT_MIG);
      plist.writeUInt32LE(24 | (2 << 24), 0);
      expect(nvml.detailList(handle(0), plist)).toBe(NVML_ERROR_INVALID_ARGUMENT);
    });
  });

  describe("GPM", () => {
    const HOPPER = baseScenario(`gpu.0.gpm_supported 1
gpu.0.gpm.sm_util 40
gpu.0.gpm.tensor_util 20
gpu.0.gpm.dram_util 60
gpu.0.gpm.pcie_tx 100
gpu.1.gpm_supported 0
`);
    const METRICS_SIZE = 24 + 333 * 40;

    function support(dev: bigint, version = 1): { rc: number; isSupported: number } {
      const buf = Buffer.alloc(8);
      buf.writeUInt32LE(version, 0);
      const rc = nvml.gpmSupport(dev, buf);
      return { rc, isSupported: buf.readUInt32LE(4) };
    }

    function alloc(): bigint {
      const out = Buffer.alloc(8);
      expect(nvml.gpmAlloc(out)).toBe(NVML_SUCCESS);
      return out.readBigUInt64LE(0);
    }

    function metrics(
      s1: bigint,
      s2: bigint,
      ids: readonly number[],
      numMetrics = ids.length,
    ): { rc: number; values: { rc: number; value: number }[] } {
      const buf = Buffer.alloc(METRICS_SIZE);
      buf.writeUInt32LE(1, 0);
      buf.writeUInt32LE(numMetrics, 4);
      buf.writeBigUInt64LE(s1, 8);
      buf.writeBigUInt64LE(s2, 16);
      ids.forEach((id, i) => buf.writeUInt32LE(id, 24 + i * 40));
      const rc = nvml.gpmMetricsGet(buf);
      return {
        rc,
        values: ids.map((_, i) => ({ rc: buf.readInt32LE(24 + i * 40 + 4), value: buf.readDoubleLE(24 + i * 40 + 8) })),
      };
    }

    it("says per GPU whether it has GPM and checks the struct version", async () => {
      await start(HOPPER);
      expect(support(handle(0))).toEqual({ rc: NVML_SUCCESS, isSupported: 1 });
      expect(support(handle(1))).toEqual({ rc: NVML_SUCCESS, isSupported: 0 });
      expect(support(handle(0), 2).rc).toBe(NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
      const sample = alloc();
      expect(nvml.gpmSampleGet(handle(1), sample)).toBe(NVML_ERROR_NOT_SUPPORTED);
      expect(nvml.gpmFree(sample)).toBe(NVML_SUCCESS);
      expect(nvml.gpmFree(sample)).toBe(NVML_ERROR_INVALID_ARGUMENT); // freed once only
    });

    it("computes metrics between two samples over 100 ms apart, each metric with its own code", async () => {
      await start(HOPPER);
      const [a, b] = [alloc(), alloc()];
      expect(nvml.gpmSampleGet(handle(0), a)).toBe(NVML_SUCCESS);
      expect(nvml.gpmSampleGet(handle(0), b)).toBe(NVML_SUCCESS);
      expect(Number.isNaN(metrics(a, b, [2]).values[0]?.value)).toBe(true); // one 100 ms refresh: no rate
      await sleep(120);
      expect(nvml.gpmSampleGet(handle(0), b)).toBe(NVML_SUCCESS);
      const got = metrics(a, b, [2, 5, 10, 20, 60, 7, 150]);
      expect(got.rc).toBe(NVML_SUCCESS);
      expect(got.values.slice(0, 4)).toEqual([40, 20, 60, 100].map((value) => ({ rc: NVML_SUCCESS, value })));
      expect(got.values[4]).toEqual({ rc: NVML_SUCCESS, value: 0 }); // NVLink receive rate: the GPU has links, the scenario sets no traffic
      expect(got.values[5]?.rc).toBe(NVML_ERROR_NOT_SUPPORTED); // HMMA is not modelled
      expect(got.values[6]?.rc).toBe(NVML_ERROR_INVALID_ARGUMENT); // 150 is past NVML_GPM_METRIC_MAX (98) of a 12.4 header
      expect(metrics(b, a, [2]).rc).toBe(NVML_ERROR_INVALID_ARGUMENT); // sample1 must be the older
      for (const s of [a, b]) expect(nvml.gpmFree(s)).toBe(NVML_SUCCESS);
    });

    it.each([
      [12040, 98],
      [12090, 210],
      [13020, 333],
    ])(
      "refuses more metrics than NVML_GPM_METRIC_MAX of CUDA %i's header (%i), with version 1 throughout",
      async (cuda, max) => {
        await start(HOPPER.replace("cuda_driver_version 12040", `cuda_driver_version ${cuda}`));
        const [a, b] = [alloc(), alloc()];
        expect(nvml.gpmSampleGet(handle(0), a)).toBe(NVML_SUCCESS);
        await sleep(110);
        expect(nvml.gpmSampleGet(handle(0), b)).toBe(NVML_SUCCESS);
        expect(metrics(a, b, [2], max).rc).toBe(NVML_SUCCESS);
        expect(metrics(a, b, [2], max + 1).rc).toBe(NVML_ERROR_INVALID_ARGUMENT);
        for (const s of [a, b]) expect(nvml.gpmFree(s)).toBe(NVML_SUCCESS);
      },
    );

    it("samples a MIG GPU per GPU instance, and its parent only for a privileged caller", async () => {
      const mig = `${HOPPER}gpu.0.mig_mode 1
gpu.0.mig 1 0 3g.40gb 42949672960 0
gpu.0.mig 2 0 4g.40gb 42949672960 0
gpu.0.mig_gpm 1 sm_util 70
gpu.0.mig_gpm 2 sm_util 10
`;
      const file = await start(mig);
      const [a, b, c] = [alloc(), alloc(), alloc()];
      expect(nvml.gpmSampleGet(handle(0), a)).toBe(NVML_ERROR_NO_PERMISSION);
      expect(nvml.gpmMigSampleGet(handle(0), 9, a)).toBe(NVML_ERROR_NOT_FOUND);
      expect(nvml.gpmMigSampleGet(handle(0), 1, a)).toBe(NVML_SUCCESS);
      expect(nvml.gpmSampleGet(migHandle(handle(0), 1), c)).toBe(NVML_SUCCESS); // a MIG handle samples its GPU instance
      await sleep(120);
      expect(nvml.gpmMigSampleGet(handle(0), 1, b)).toBe(NVML_SUCCESS);
      expect(metrics(a, b, [2, 20]).values).toEqual([
        { rc: NVML_SUCCESS, value: 70 },
        { rc: NVML_ERROR_NOT_SUPPORTED, value: 0 },
      ]);
      expect(metrics(c, b, [2]).rc).toBe(NVML_ERROR_INVALID_ARGUMENT); // samples of two GPU instances
      await writeScenario(`${mig}privileged 1\n`, file);
      await sleep(RELOAD_WAIT_MS);
      expect(nvml.gpmSampleGet(handle(0), c)).toBe(NVML_SUCCESS);
      await writeScenario(`${mig}privileged 1\ngpu.0.gpm_no_permission 1\n`, file);
      await sleep(RELOAD_WAIT_MS);
      expect(nvml.gpmMigSampleGet(handle(0), 1, a)).toBe(NVML_ERROR_NO_PERMISSION);
      for (const s of [a, b, c]) expect(nvml.gpmFree(s)).toBe(NVML_SUCCESS);
    });

    it("counts live samples and sample calls for the tests of the agent", async () => {
      await start(HOPPER);
      const live = Buffer.alloc(4);
      const gets = Buffer.alloc(8);
      nvml.gpmStats(live, gets);
      const [liveBefore, getsBefore] = [live.readUInt32LE(0), gets.readBigUInt64LE(0)];
      const s = alloc();
      expect(nvml.gpmSampleGet(handle(0), s)).toBe(NVML_SUCCESS);
      nvml.gpmStats(live, gets);
      expect([live.readUInt32LE(0) - liveBefore, gets.readBigUInt64LE(0) - getsBefore]).toEqual([1, 1n]);
      expect(nvml.gpmFree(s)).toBe(NVML_SUCCESS);
    });
  });

  describe("old driver build", () => {
    it("lacks the five newer entry points but keeps their fallbacks", async () => {
      const lib = koffi.load(libs.old);
      for (const symbol of NEWER_SYMBOLS) {
        expect(() => lib.func(`int ${symbol}(void *dev, void *out)`)).toThrow(/Cannot find function/);
      }
      const init = lib.func(PROTOTYPES.init) as NativeFn;
      const shutdown = lib.func(PROTOTYPES.shutdown) as NativeFn;
      const byIndex = lib.func(PROTOTYPES.handleByIndex) as NativeFn;
      const throttle = lib.func(PROTOTYPES.throttleReasons) as NativeFn;
      const processesV2 = lib.func(PROTOTYPES.processesV2) as NativeFn;
      const memory = lib.func(PROTOTYPES.memory) as NativeFn;

      process.env.FAKE_NVML_SCENARIO = await writeScenario(baseScenario());
      expect(init()).toBe(NVML_SUCCESS);
      try {
        const out = Buffer.alloc(8);
        expect(byIndex(0, out)).toBe(NVML_SUCCESS);
        const gpu0 = out.readBigUInt64LE(0);
        const reasons = Buffer.alloc(8);
        expect(throttle(gpu0, reasons)).toBe(NVML_SUCCESS);
        expect(reasons.readBigUInt64LE(0)).toBe(4n);
        const count = Buffer.alloc(4);
        expect(processesV2(gpu0, count, null)).toBe(NVML_ERROR_INSUFFICIENT_SIZE);
        expect(count.readUInt32LE(0)).toBe(3);
        const mem = Buffer.alloc(24);
        expect(memory(gpu0, mem)).toBe(NVML_SUCCESS);
        expect(mem.readBigUInt64LE(0)).toBe(85520809984n);
      } finally {
        expect(shutdown()).toBe(NVML_SUCCESS);
      }
    });
  });
});
