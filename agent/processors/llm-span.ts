/**
 * One LLM request as the runtime profiles understand it, in seconds. This is what the span
 * metrics processor records; nothing else from the span survives.
 */
export interface LlmSpan {
  /** The profile that recognised the span. */
  readonly runtime: "vllm" | "sglang" | "tgi" | "triton" | "genai";
  /** Model name from the span, else undefined (the processor then resolves it from the pod or the resource: processors/identity). */
  readonly model: string | undefined;
  readonly traceId: string;
  /** Unix ms at which the request ended (the idle signal). */
  readonly endTimeMs: number;
  /** End-to-end latency, seconds. Always present. */
  readonly e2eSeconds: number;
  readonly queueSeconds?: number;
  readonly prefillSeconds?: number;
  readonly decodeSeconds?: number;
  readonly ttftSeconds?: number;
  /** Mean time per output token after the first, seconds. */
  readonly tpotSeconds?: number;
  readonly promptTokens?: number;
  readonly completionTokens?: number;
  /** True when the request failed (span status error, or an error finish reason). */
  readonly isError: boolean;
}
