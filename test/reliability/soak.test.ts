/**
 * The short soak: the real agent for SOAK_SECONDS (default 90) at 1 s sampling of eight
 * fake GPUs with 2,000 spans/s over OTLP/HTTP. `npm run soak` runs the same for 30 minutes and fits
 * the RSS trend; see soak-bounds.ts for why the two runs hold different bounds.
 */
import { expect, it } from "vitest";
import { runSoak } from "./soak-run.js";
import { shortRunLoopBoundSeconds, SOAK_BOUNDS } from "./soak-bounds.js";

const SECONDS = Number(process.env["SOAK_SECONDS"] ?? 90);

it(
  `the agent runs ${SECONDS} s at 1 s sampling and 2,000 spans/s without losing a span, stalling or growing past its bound`,
  async () => {
    const result = await runSoak({ durationMs: SECONDS * 1000, spansPerSecond: 2000, sampleEveryMs: 3_000 });
    const counted = Object.values(result.spansCounted).reduce((a, b) => a + b, 0);
    const mib = result.rss.map((p) => p.mib);
    console.info(
      `soak ${SECONDS} s: spans accepted ${result.spansAccepted}, counted ${counted}; loop delay max ${(result.eventLoopDelayMaxSeconds * 1000).toFixed(0)} ms ` +
        `(control ${(result.controlDelayMaxSeconds * 1000).toFixed(0)} ms, load per core ${result.loadPerCore.toFixed(1)}); RSS ${Math.min(...mib).toFixed(1)}…${Math.max(...mib).toFixed(1)} MiB, second-half slope ${result.rssSlopeMiBPerMinute.toFixed(2)} MiB/min`,
    );
    // Every span the agent accepted is counted, as an LLM request; nothing was refused.
    expect(result.spansNotAccepted).toBe(0);
    expect(result.spansAccepted).toBeGreaterThanOrEqual(2000 * SECONDS * 0.95);
    expect(counted).toBe(result.spansAccepted);
    expect(result.spansCounted["recorded"]).toBe(result.spansAccepted);
    expect(result.llmRequestsCounted).toBe(result.spansAccepted);
    // The agent measured its own event loop on every scrape and never stalled past the bound.
    expect(result.scrapes).toBeGreaterThan(SECONDS / 3 - 2);
    expect(result.eventLoopDelayMaxSeconds).toBeGreaterThan(0);
    expect(result.eventLoopDelayMaxSeconds).toBeLessThan(
      shortRunLoopBoundSeconds(result.loadPerCore, result.controlDelayMaxSeconds),
    );
    expect(Math.max(...mib)).toBeLessThan(SOAK_BOUNDS.rssPeakMiB);
    expect(result.gpuCollectorErrors).toBe(0);
    expect(result.exitCode).toBe(0);
  },
  SECONDS * 1000 + 60_000,
);
