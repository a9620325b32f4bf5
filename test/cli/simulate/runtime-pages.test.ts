import { describe, expect, it } from "vitest";
import { vllmProfile } from "../../../agent/profiles/vllm/page.js";
import { indexSamples } from "../../../agent/collectors/runtimes/runtime-gauges.js";
import { SimulatedRuntimePages, vllmPage } from "../../../cli/simulate/runtime-pages.js";
import { parseExpositionText } from "../../../common/exposition.js";
import { silentLogger } from "../../../common/log.js";
import { compileFleet, incidentWindows, type SimReplica } from "../../../cli/simulate/fleet-model.js";
import { DEFAULT_SCENARIO } from "../../../cli/simulate/scenario.js";

const ORIGIN = Date.UTC(2026, 10, 28, 0);
const fleet = compileFleet(DEFAULT_SCENARIO, { originMs: ORIGIN });
const incident = DEFAULT_SCENARIO.incident;
const served = fleet.replicas.filter((replica) => replica.peakRps > 0);
const read = (replica: SimReplica, atMs: number) =>
  vllmProfile.read(indexSamples(parseExpositionText(vllmPage(fleet, replica, atMs))));

describe("the simulated fleet's vLLM pages", () => {
  it("read through the agent's own vLLM profile as one model with every gauge", () => {
    const replica = served[0] as SimReplica;
    const at = ORIGIN + 10 * 3_600_000;
    expect(vllmProfile.detects(indexSamples(parseExpositionText(vllmPage(fleet, replica, at))))).toBe(true);
    const [gauges] = read(replica, at);
    expect(gauges?.model).toBe(replica.model.name);
    expect(gauges?.kvCacheUsage).toBeGreaterThan(0);
    expect(gauges?.kvCacheUsage).toBeLessThan(1);
    expect(gauges?.batchSize).toBeGreaterThanOrEqual(1);
    expect(gauges?.prefixCacheHits).toBeLessThan(gauges?.prefixCacheQueries ?? 0);
  });

  it("queue, fill the KV cache and preempt during the incident only, with counters that never go back", () => {
    expect(incident).toBeDefined();
    const model = incident?.model ?? "";
    const replica = served.find((r) => r.model.name === model) as SimReplica;
    const [window] = incidentWindows(fleet, ORIGIN, ORIGIN + 86_400_000);
    expect(window).toBeDefined();
    const during = (window?.startMs ?? 0) + 60_000;
    const before = (window?.startMs ?? 0) - 60_000;
    const after = (window?.endMs ?? 0) + 60_000;
    const [b] = read(replica, before);
    const [d] = read(replica, during);
    const [a] = read(replica, after);
    expect(b?.queueDepth).toBe(0);
    expect(d?.queueDepth).toBeGreaterThan(0);
    expect(d?.kvCacheUsage).toBeGreaterThan((b?.kvCacheUsage ?? 1) + 0.2);
    expect(a?.preemptions).toBeGreaterThan(b?.preemptions ?? Infinity);
    expect(a?.prefixCacheQueries).toBeGreaterThan(d?.prefixCacheQueries ?? Infinity);
  });

  it("serve each node's replicas on loopback, one target per replica with traffic", async () => {
    const pages = new SimulatedRuntimePages({ fleet, log: silentLogger(), now: () => ORIGIN + 3_600_000 });
    expect(pages.targetsFor(fleet.nodes[0]?.name ?? "")).toEqual([]);
    await pages.start();
    try {
      const targets = fleet.nodes.flatMap((node) => pages.targetsFor(node.name));
      expect(targets).toHaveLength(served.length);
      const first = targets[0];
      expect(first?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/replica\/\d+\/metrics$/);
      const body = await (await fetch(first?.url ?? "")).text();
      expect(body).toContain(`vllm:kv_cache_usage_perc{model_name="${first?.model ?? ""}",engine="0"}`);
    } finally {
      await pages.shutdown();
    }
  });
});
