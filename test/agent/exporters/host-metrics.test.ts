import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { HostSample } from "../../../agent/collectors/host-collector.js";
import { registerHostMetrics } from "../../../agent/exporters/host-metrics.js";
import { METRICS } from "../../../common/conventions.js";

const full: HostSample = {
  takenAtMs: 1_700_000_000_000,
  cpuUtilization: 0.25,
  cpuCores: 8,
  load: { m1: 1.5, m5: 1, m15: 0.5 },
  memory: { totalBytes: 1024, availableBytes: 512 },
  volume: {
    path: "/models",
    mount: "/mnt/models",
    sizeBytes: 4096,
    freeBytes: 1024,
    device: "all",
    readBytes: 300,
    writtenBytes: 200,
  },
  network: [
    { iface: "eth0", rxBytes: 10, txBytes: 20 },
    { iface: "ib0", rxBytes: 30, txBytes: 40 },
  ],
};

/** The exposition text of a private registry serving `sample`, plus the fill errors it met. */
async function expose(sample: HostSample | undefined): Promise<{ lines: string[]; fillErrors: string[] }> {
  const registry = new Registry();
  const fillErrors: string[] = [];
  registerHostMetrics(
    registry,
    { node: "n1" },
    () => sample,
    (metric) => fillErrors.push(metric),
  );
  const text = await registry.metrics();
  return { lines: text.split("\n").filter((line) => line !== "" && !line.startsWith("#")), fillErrors };
}

describe("registerHostMetrics", () => {
  it("exposes each field of a full sample with the catalog's names and labels", async () => {
    const { lines, fillErrors } = await expose(full);
    expect(fillErrors).toEqual([]);
    expect(lines).toEqual(
      expect.arrayContaining([
        'inferwatch_host_cpu_utilization_ratio{node="n1"} 0.25',
        'inferwatch_host_cpu_cores{node="n1"} 8',
        'inferwatch_host_load_average{node="n1",period="1m"} 1.5',
        'inferwatch_host_load_average{node="n1",period="5m"} 1',
        'inferwatch_host_load_average{node="n1",period="15m"} 0.5',
        'inferwatch_host_memory_total_bytes{node="n1"} 1024',
        'inferwatch_host_memory_available_bytes{node="n1"} 512',
        'inferwatch_host_volume_size_bytes{node="n1",path="/models",mount="/mnt/models"} 4096',
        'inferwatch_host_volume_free_bytes{node="n1",path="/models",mount="/mnt/models"} 1024',
        'inferwatch_host_volume_read_bytes_total{node="n1",path="/models",device="all"} 300',
        'inferwatch_host_volume_written_bytes_total{node="n1",path="/models",device="all"} 200',
        'inferwatch_host_network_receive_bytes_total{node="n1",interface="eth0"} 10',
        'inferwatch_host_network_receive_bytes_total{node="n1",interface="ib0"} 30',
        'inferwatch_host_network_transmit_bytes_total{node="n1",interface="eth0"} 20',
        'inferwatch_host_network_transmit_bytes_total{node="n1",interface="ib0"} 40',
      ]),
    );
    expect(lines).toHaveLength(15);
  });

  it("registers exactly the catalog's host metrics", async () => {
    const registry = new Registry();
    registerHostMetrics(
      registry,
      { node: "n1" },
      () => undefined,
      () => {},
    );
    const hostNames = Object.values(METRICS)
      .filter((def) => def.component === "agent: host")
      .map((def) => def.name);
    expect(
      registry
        .getMetricsAsArray()
        .map((m) => m.name)
        .sort(),
    ).toEqual(hostNames.sort());
  });

  it("emits no series before the first sample", async () => {
    expect((await expose(undefined)).lines).toEqual([]);
  });

  it("emits nothing for fields the sample lacks and keeps the rest", async () => {
    const partial: HostSample = {
      takenAtMs: full.takenAtMs,
      memory: { totalBytes: 1024, availableBytes: 512 },
      volume: { path: "/models", mount: "/mnt/models", sizeBytes: 4096, freeBytes: 1024 },
      network: [],
    };
    const { lines } = await expose(partial);
    expect(lines.sort()).toEqual([
      'inferwatch_host_memory_available_bytes{node="n1"} 512',
      'inferwatch_host_memory_total_bytes{node="n1"} 1024',
      'inferwatch_host_volume_free_bytes{node="n1",path="/models",mount="/mnt/models"} 1024',
      'inferwatch_host_volume_size_bytes{node="n1",path="/models",mount="/mnt/models"} 4096',
    ]);
  });

  it("follows the latest sample at each scrape, dropping series that went away", async () => {
    const registry = new Registry();
    let sample: HostSample = full;
    registerHostMetrics(
      registry,
      { node: "n1" },
      () => sample,
      () => {},
    );
    await registry.metrics();
    sample = { ...full, cpuCores: 16, network: [{ iface: "eth0", rxBytes: 11, txBytes: 21 }] };
    const text = await registry.metrics();
    expect(text).toContain('inferwatch_host_cpu_cores{node="n1"} 16\n');
    expect(text).toContain('inferwatch_host_network_receive_bytes_total{node="n1",interface="eth0"} 11\n');
    expect(text).not.toContain('interface="ib0"');
  });

  it("a throwing sample source is reported per metric and fails no scrape", async () => {
    const registry = new Registry();
    const failedMetrics: string[] = [];
    registerHostMetrics(
      registry,
      { node: "n1" },
      () => {
        throw new Error("boom");
      },
      (metric) => failedMetrics.push(metric),
    );
    const text = await registry.metrics();
    expect(text).not.toMatch(/^inferwatch_host_\w+\{/m);
    expect(failedMetrics).toContain("inferwatch_host_memory_total_bytes");
    expect(failedMetrics).toHaveLength(11);
  });
});
