import type { RuntimeName } from "./runtime-gauges.js";

/** A runtime /metrics endpoint and what configuration (or its pod) says it serves. */
export interface RuntimeTarget {
  readonly url: string;
  /** Detected from the page's metric names when absent. */
  readonly runtime?: RuntimeName | undefined;
  /** Wins over the page's model label. */
  readonly model?: string | undefined;
  readonly namespace?: string | undefined;
  readonly pod?: string | undefined;
  /** Wins over the tier rules of agent.spans. */
  readonly tier?: string | undefined;
}
