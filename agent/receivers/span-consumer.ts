import type { DecodedTraces } from "./otlp-model.js";

/** What the pipeline did with one request's spans, for OTLP's partial_success. */
export interface ConsumeResult {
  /** Spans the pipeline refused (e.g. no LLM profile claimed them and they were malformed); 0 normally. */
  readonly rejectedSpans: number;
  /** Why, when rejectedSpans > 0. */
  readonly message?: string;
}

/**
 * The next stage after a receiver. consume() is synchronous and cheap (it records metrics and
 * enqueues for forwarding); the caller owns nothing after it returns.
 */
export interface SpanConsumer {
  /** `peer`: the sending connection's `address:port` as grpc-js getPeer() writes it, when the receiver knows it. */
  consume(traces: DecodedTraces, peer?: string): ConsumeResult;
}
