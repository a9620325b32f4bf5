/**
 * Resident memory of the agent process after N minutes of 1 s sampling of 8 fake GPUs with 10
 * processes each, scraped every 15 s as Prometheus would. N is BENCH_RSS_MINUTES (default 10).
 * BENCH_AGENT_NODE_OPTIONS, when set, is the agent's NODE_OPTIONS (to measure V8 heap flags).
 * Beside it, the floors under it (resident-floor.ts): what Node itself, a worker thread, the agent's
 * packages and the agent's modules hold before anything runs.
 */
import { startAgentProcess } from "../fixtures/agent-process.js";
import { scenarioFile } from "../fixtures/nvml-scenario.js";
import { buildFakeNvml } from "../setup/build-fake-nvml.js";
import { eightGpuScenario } from "./nvml-bench.js";
import { residentMiB, rssMiB } from "./proc-stat.js";
import { AGENT_PACKAGES, agentModules, residentFloor } from "./resident-floor.js";
import type { BenchRow } from "./table.js";

export async function benchRss(minutes = Number(process.env["BENCH_RSS_MINUTES"] ?? 10)): Promise<BenchRow[]> {
  const libs = await buildFakeNvml();
  const file = await scenarioFile(eightGpuScenario());
  const nodeOptions = process.env["BENCH_AGENT_NODE_OPTIONS"] ?? "";
  const agent = await startAgentProcess(["--nvml-library", libs.full, "--pods", "false", "--interval", "1s"], {
    FAKE_NVML_SCENARIO: file.path,
    ...(nodeOptions === "" ? {} : { NODE_OPTIONS: nodeOptions }),
  });
  const pid = agent.child.pid as number;
  const samples: number[] = [];
  let parts: { rss: number; anon: number; file: number };
  try {
    const end = Date.now() + minutes * 60_000;
    while (Date.now() < end) {
      await agent.scrape();
      samples.push(await rssMiB(pid));
      await new Promise((resolve) => setTimeout(resolve, 15_000));
    }
    samples.push(await rssMiB(pid));
    parts = await residentMiB(pid);
  } finally {
    await agent.stop();
  }
  const floors = [
    { name: "a Node process that only waits", spec: { imports: [], worker: false } },
    {
      name: "the same with an idle worker thread (the agent samples NVML on one)",
      spec: { imports: [], worker: true },
    },
    {
      name: `a Node process that imported the packages the agent loads (${AGENT_PACKAGES.join(", ")}), nothing running, with the agent's heap settings`,
      spec: { imports: [...AGENT_PACKAGES], worker: false, heapSettings: true },
    },
    {
      name: "a Node process that imported the agent's modules, nothing started, with the agent's heap settings",
      spec: { imports: agentModules(), worker: false, heapSettings: true },
    },
    {
      name: "the same with an idle worker thread: the agent before its first sample",
      spec: { imports: agentModules(), worker: true, heapSettings: true },
    },
  ];
  const floorRows: BenchRow[] = [];
  for (const floor of floors) {
    const resident = await residentFloor(floor.spec);
    floorRows.push({
      name: `  floor: ${floor.name} (anonymous / file-backed)`,
      value: `${resident.rss.toFixed(1)} MiB (${resident.anon.toFixed(1)} / ${resident.file.toFixed(1)})`,
    });
  }
  const last = samples.at(-1) ?? Number.NaN;
  const firstMinute = samples.slice(0, 4);
  return [
    {
      name: `agent RSS after ${minutes} min of 1 s sampling, 8 GPUs × 10 processes${nodeOptions === "" ? "" : ` (NODE_OPTIONS=${nodeOptions})`}`,
      value: `${last.toFixed(1)} MiB`,
      target: "< 64 MiB",
      isMet: last < 64,
    },
    {
      name: "  of which anonymous (heaps, stacks) / file-backed (the node binary's pages, which the kernel can drop)",
      value: `${parts.anon.toFixed(1)} / ${parts.file.toFixed(1)} MiB`,
    },
    {
      name: "agent RSS during the first minute (min … max)",
      value: `${Math.min(...firstMinute).toFixed(1)} … ${Math.max(...firstMinute).toFixed(1)} MiB`,
    },
    { name: "agent RSS peak over the run", value: `${Math.max(...samples).toFixed(1)} MiB` },
    ...floorRows,
  ];
}
