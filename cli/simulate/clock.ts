/**
 * Simulated time. The simulated NVML clients and the span traffic read one clock, so GPU load,
 * request rates and incidents line up; by default simulated time is real time, a `timeScale`
 * above 1 runs the day curve (and the incident schedule) that many times faster.
 */

/** Maps wall-clock time to simulated time: real time by default, or `timeScale` times faster. */
export interface SimulationClock {
  /** The instant both clocks agree on (when the simulation started). */
  readonly originMs: number;
  readonly timeScale: number;
  wallNow(): number;
  simulatedNow(): number;
  /** The wall-clock instant at which simulated time reaches `simMs`. */
  toWallMs(simMs: number): number;
}

/** A clock for the simulated NVML clients and the span traffic; pure apart from reading `now`. */
export function simulationClock(options: {
  readonly originMs: number;
  readonly timeScale?: number;
  readonly now?: () => number;
}): SimulationClock {
  const { originMs, timeScale = 1, now = Date.now } = options;
  if (!(timeScale > 0)) throw new Error(`simulation: timeScale must be positive, got ${timeScale}`);
  return {
    originMs,
    timeScale,
    wallNow: now,
    simulatedNow: () => originMs + (now() - originMs) * timeScale,
    toWallMs: (simMs) => originMs + (simMs - originMs) / timeScale,
  };
}
