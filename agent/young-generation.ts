import { setFlagsFromString } from "node:v8";

/**
 * Keeps V8's young generation at its starting size (two 1 MiB semi-spaces) instead of letting it
 * grow to 2 × 16 MiB under a steady allocation rate. The agent allocates small, short-lived objects
 * (OTLP batches, span records, scrape answers): under 500 spans a second the grown semi-spaces were
 * ~26 MiB of the agent's resident memory in its first minutes (footprint benchmark: anonymous memory
 * 75 → 49 MiB after one minute). After ten minutes the old generation has grown into that room
 * either way (127–128 MiB with or without), so this bounds the early and the spiky cases, not the
 * steady state.
 *
 * `--max-semi-space-size` would do the same but is read only when the heap is created (a
 * NODE_OPTIONS setting); the growth factor is read each time V8 considers growing new space, so
 * setting it at start-up works from then on (V8's heap.cc, Heap::ConfigureHeap and
 * NewSpace::Grow). A flag V8 no longer knows is ignored: the agent then only uses more memory.
 */
export function keepYoungGenerationSmall(): void {
  setFlagsFromString("--semi-space-growth-factor=1");
}
