import { setFlagsFromString } from "node:v8";
// Type only: this module runs before any other loads (cli/agent-heap.ts), so it imports no code.
import type { AgentConfig } from "../common/config/schema.js";

/** `agent.heap`: `small` (the settings below, the default) or `v8` (V8's own defaults). */
export type AgentHeapMode = AgentConfig["heap"];

/**
 * The agent's V8 heap settings, made at start-up before its modules load (cli/agent-heap.ts). The
 * agent lives for weeks on every GPU node beside the inference runtime, so its heap is sized for
 * memory rather than for throughput:
 *
 * - `--semi-space-growth-factor=1` keeps the young generation at its starting size (two 1 MiB
 *   semi-spaces) instead of letting it grow to 2 × 16 MiB under a steady allocation rate. The agent
 *   allocates small, short-lived objects (OTLP batches, span records, scrape answers): under 500
 *   spans a second the grown semi-spaces were ~26 MiB of its resident memory in its first minutes.
 *   `--max-semi-space-size` would do the same but is read only when the heap is created (a
 *   NODE_OPTIONS setting); the growth factor is read each time V8 considers growing new space, so
 *   setting it at start-up works from then on (V8's heap.cc, Heap::ConfigureHeap and
 *   NewSpace::Grow).
 * - `--optimize-for-size` makes V8 grow the old generation's limit by conservative steps and compact
 *   it harder (V8's src/heap/heap.cc: Heap::ShouldOptimizeForMemoryUsage reads the flag at each
 *   decision, Heap::CurrentHeapGrowingMode then answers kConservative; src/heap/mark-compact.cc
 *   picks its smaller fragmentation target). Without it an idle agent's resident memory climbed
 *   about 1 MiB a minute for its first ten minutes (75.8 → 85.6 MiB in nine) as the old generation
 *   grew into room it did not need; with it, it stayed within 75–80 MiB (RSS benchmark after ten
 *   minutes 91.7 → 80.2 MiB, and under 500 spans a second 128 → 98 MiB; docs/agent.md).
 *
 * Both cost collection work: under 500 spans a second the agent used about 0.7 % of a core more
 * with them (two 3-minute side-by-side runs, docs/agent.md). `agent.heap: v8` (`--heap v8`,
 * `INFERWATCH_HEAP=v8`) sets V8's defaults back (`--semi-space-growth-factor=2`,
 * `--no-optimize-for-size`, V8's src/flags/flag-definitions.h) for a node short of CPU rather than memory.
 *
 * A flag V8 no longer knows is ignored: the agent then only uses more memory.
 */
export function applyAgentHeapSettings(mode: AgentHeapMode = "small"): void {
  const isSmall = mode === "small";
  setFlagsFromString(`--semi-space-growth-factor=${isSmall ? 1 : 2}`);
  setFlagsFromString(isSmall ? "--optimize-for-size" : "--no-optimize-for-size");
}

/**
 * The heap mode as the command line or the environment give it, read before the configuration is
 * (which would load the modules whose allocations the settings should precede): `--heap v8`,
 * `--heap=v8` or `INFERWATCH_HEAP=v8` ask for V8's defaults; anything else starts small. The
 * configuration, once loaded, decides (cli/run-agent.ts applies `agent.heap` again), so a
 * configuration file's `agent.heap` and a value it refuses take effect or are reported there.
 */
export function earlyAgentHeapMode(argv: readonly string[], env: NodeJS.ProcessEnv): AgentHeapMode {
  let mode = env["INFERWATCH_HEAP"];
  argv.forEach((arg, i) => {
    if (arg === "--heap") mode = argv[i + 1];
    else if (arg.startsWith("--heap=")) mode = arg.slice("--heap=".length);
  });
  return mode === "v8" ? "v8" : "small";
}
