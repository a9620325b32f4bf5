import {
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Attributes as OtelAttributes,
  type HrTime,
} from "@opentelemetry/api";
import { ExportResultCode, type ExportResult } from "@opentelemetry/core";
import { OTLPTraceExporter as GrpcTraceExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { OTLPTraceExporter as ProtoTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes, type Resource } from "@opentelemetry/resources";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { Component } from "../../common/component.js";
import type { ForwardConfig } from "../../common/config/schema.js";
import { errorMessage, toError } from "../../common/errors.js";
import type { Logger } from "../../common/log.js";
import type { Attributes, DecodedSpan, DecodedTraces } from "../receivers/otlp-model.js";
import type { ConsumeResult, SpanConsumer } from "../receivers/span-consumer.js";

/** Counts of what happened to spans offered for forwarding. */
export interface ForwardCounts {
  sent: number;
  dropped_queue_full: number;
  dropped_export_failed: number;
  /** Spans still queued when the agent stopped (one last batch is sent; the rest are counted here). */
  dropped_shutdown: number;
}

interface Queued {
  readonly span: DecodedSpan;
  readonly resource: Resource;
}

const SCOPE = { name: "inferwatch-agent-forward" };

/** OTLP's Span.SpanKind (1 INTERNAL … 5 CONSUMER, 0 unspecified) in the API's order (INTERNAL = 0 …). */
const OTEL_SPAN_KINDS: readonly SpanKind[] = [
  SpanKind.INTERNAL,
  SpanKind.SERVER,
  SpanKind.CLIENT,
  SpanKind.PRODUCER,
  SpanKind.CONSUMER,
];

function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

function otelAttributes(attributes: Attributes): OtelAttributes {
  const out: OtelAttributes = {};
  for (const [key, value] of attributes) out[key] = typeof value === "object" ? ([...value] as string[]) : value;
  return out;
}

/** A decoded span as the SDK's exporters take it; it carries only the allow-listed attributes. */
export function toReadableSpan(span: DecodedSpan, resource: Resource): ReadableSpan {
  const statusCode =
    span.statusCode === 2 ? SpanStatusCode.ERROR : span.statusCode === 1 ? SpanStatusCode.OK : SpanStatusCode.UNSET;
  return {
    name: span.name,
    kind: OTEL_SPAN_KINDS[span.kind - 1] ?? SpanKind.INTERNAL,
    spanContext: () => ({ traceId: span.traceId, spanId: span.spanId, traceFlags: TraceFlags.SAMPLED }),
    ...(span.parentSpanId
      ? { parentSpanContext: { traceId: span.traceId, spanId: span.parentSpanId, traceFlags: TraceFlags.SAMPLED } }
      : {}),
    startTime: hrTime(span.startTimeMs),
    endTime: hrTime(span.endTimeMs),
    duration: hrTime(Math.max(0, span.endTimeMs - span.startTimeMs)),
    status: { code: statusCode },
    attributes: otelAttributes(span.attributes),
    links: [],
    events: span.events.map((event) => ({
      name: event.name,
      time: hrTime(event.timeMs),
      attributes: otelAttributes(event.attributes),
    })),
    ended: true,
    resource,
    instrumentationScope: SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/** The SDK exporter for the configured protocol. */
export function createSpanExporter(config: ForwardConfig): SpanExporter {
  const options = { url: config.endpoint, timeoutMillis: config.timeout };
  return config.protocol === "grpc" ? new GrpcTraceExporter(options) : new ProtoTraceExporter(options);
}

/**
 * Forwards received spans upstream (Tempo, a collector) through the OpenTelemetry SDK's exporter.
 * The queue is bounded: when the upstream is slow or down, spans past `queueSize` are dropped and
 * counted, never buffered without limit. One export is in flight at a time. Spans carry only what
 * the decoders kept (the allow-list), so no prompt text can be forwarded.
 */
export class OtlpForwarder implements SpanConsumer, Component {
  readonly name = "otlp-forward";
  readonly counts: ForwardCounts = { sent: 0, dropped_queue_full: 0, dropped_export_failed: 0, dropped_shutdown: 0 };
  private queue: Queued[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private isStopped = false;
  private lastError: string | undefined;

  constructor(
    private readonly config: ForwardConfig,
    private readonly exporter: SpanExporter,
    private readonly log: Logger,
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  async start(): Promise<void> {
    this.timer ??= setInterval(() => this.flush(), this.config.flushInterval);
    this.timer.unref();
  }

  consume(traces: DecodedTraces): ConsumeResult {
    if (this.isStopped) return { rejectedSpans: 0 };
    for (const resourceSpans of traces.resourceSpans) {
      let resource: Resource | undefined;
      for (const span of resourceSpans.spans) {
        if (this.queue.length >= this.config.queueSize) {
          this.counts.dropped_queue_full++;
          continue;
        }
        resource ??= resourceFromAttributes(otelAttributes(resourceSpans.resource));
        this.queue.push({ span, resource });
      }
    }
    if (this.queue.length >= this.config.batchSize) this.flush();
    // Forwarding is best effort: it never makes the runtime resend what the metrics already counted.
    return { rejectedSpans: 0 };
  }

  /** Stops the timer and sends what is queued, bounded by the export timeout. Idempotent. */
  async shutdown(): Promise<void> {
    if (this.isStopped) return;
    clearInterval(this.timer);
    await this.inFlight;
    this.flush();
    this.isStopped = true;
    await this.inFlight;
    this.counts.dropped_shutdown += this.queue.length;
    this.queue = [];
    await this.exporter.shutdown().catch(() => undefined);
  }

  private flush(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.config.batchSize);
    const spans = batch.map((entry) => toReadableSpan(entry.span, entry.resource));
    this.inFlight = new Promise<void>((resolve) => {
      try {
        this.exporter.export(spans, (result: ExportResult) => {
          this.settle(result, spans.length);
          resolve();
        });
      } catch (err) {
        this.settle({ code: ExportResultCode.FAILED, error: toError(err) }, spans.length);
        resolve();
      }
    }).then(() => {
      this.inFlight = undefined;
      if (this.queue.length >= this.config.batchSize && !this.isStopped) this.flush();
    });
  }

  private settle(result: ExportResult, count: number): void {
    if (result.code === ExportResultCode.SUCCESS) {
      this.counts.sent += count;
      if (this.lastError !== undefined) this.log.info({ endpoint: this.config.endpoint }, "span forwarding recovered");
      this.lastError = undefined;
      return;
    }
    this.counts.dropped_export_failed += count;
    const message = errorMessage(result.error ?? "export failed");
    if (message !== this.lastError)
      this.log.warn(
        { endpoint: this.config.endpoint, err: message },
        "span forwarding failed; dropping the batch (counted)",
      );
    this.lastError = message;
  }
}
