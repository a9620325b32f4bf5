import { setFlagsFromString } from "node:v8";

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
 * A flag V8 no longer knows is ignored: the agent then only uses more memory.
 */
export function applyAgentHeapSettings(): void {
  setFlagsFromString("--semi-space-growth-factor=1");
  setFlagsFromString("--optimize-for-size");
}
