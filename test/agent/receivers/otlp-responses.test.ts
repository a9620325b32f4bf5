import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { describe, expect, it } from "vitest";
import { OtlpDecodeError, type DecodedTraces } from "../../../agent/receivers/otlp-model.js";
import {
  PipelineUnavailableError,
  RpcCode,
  encodeExportResponseJson,
  encodeExportResponseProtobuf,
  encodeStatusJson,
  encodeStatusProtobuf,
  exportTraces,
  retryAfterSeconds,
  retryInfoDetail,
} from "../../../agent/receivers/otlp-responses.js";
import { silentLogger } from "../../../common/log.js";
import { RecordingConsumer, decodeRpcStatus, retryInfoDelayMs } from "./receiver-harness.js";

const EMPTY: DecodedTraces = { resourceSpans: [], rejectedSpans: 0 };

describe("OTLP response messages", () => {
  it.each([1, 300, 2 ** 31 + 5, Number.MAX_SAFE_INTEGER])(
    "partial_success with %d rejected spans reads back through the SDK's generated code",
    (rejected) => {
      const bytes = encodeExportResponseProtobuf({ rejectedSpans: rejected, errorMessage: "trace_id of 3 bytes" });
      const decoded = ProtobufTraceSerializer.deserializeResponse(bytes);
      expect(String(decoded.partialSuccess?.rejectedSpans)).toBe(String(rejected));
      expect(decoded.partialSuccess?.errorMessage).toBe("trace_id of 3 bytes");
    },
  );

  it("a full success is an empty message in protobuf and {} in JSON", () => {
    expect(encodeExportResponseProtobuf().length).toBe(0);
    expect(encodeExportResponseJson()).toBe("{}");
  });

  it("partialSuccess in JSON writes int64 as a decimal string", () => {
    expect(JSON.parse(encodeExportResponseJson({ rejectedSpans: 3, errorMessage: "bad ids" }))).toEqual({
      partialSuccess: { rejectedSpans: "3", errorMessage: "bad ids" },
    });
  });

  it("a Status carries code, message and a RetryInfo detail", () => {
    const status = decodeRpcStatus(
      encodeStatusProtobuf(RpcCode.RESOURCE_EXHAUSTED, "busy: ü", [retryInfoDetail(2500)]),
    );
    expect(status.code).toBe(8);
    expect(status.message).toBe("busy: ü");
    expect(status.details[0]?.typeUrl).toBe("type.googleapis.com/google.rpc.RetryInfo");
    expect(retryInfoDelayMs(status.details[0]?.value ?? new Uint8Array())).toBe(2500);
  });

  it("a Status in JSON is {code, message}", () => {
    expect(JSON.parse(encodeStatusJson(RpcCode.INVALID_ARGUMENT, "bad"))).toEqual({ code: 3, message: "bad" });
  });

  it.each([
    [1, 1],
    [999, 1],
    [1000, 1],
    [1001, 2],
    [0, 1],
  ])("Retry-After for %d ms is %d s", (ms, seconds) => {
    expect(retryAfterSeconds(ms)).toBe(seconds);
  });
});

describe("exportTraces", () => {
  const log = silentLogger();

  it("a decoder error is an invalid request carrying the decoder's message", () => {
    const outcome = exportTraces(
      () => {
        throw new OtlpDecodeError("truncated varint at byte 3");
      },
      new RecordingConsumer(),
      log,
    );
    expect(outcome).toEqual({ kind: "invalid", message: "truncated varint at byte 3" });
  });

  it("an unexpected decoder exception is still an invalid request, never a server error", () => {
    const outcome = exportTraces(
      () => {
        throw new RangeError("offset out of range");
      },
      new RecordingConsumer(),
      log,
    );
    expect(outcome.kind).toBe("invalid");
  });

  it("spans rejected by the decoder and by the consumer add up in partial success", () => {
    const consumer = new RecordingConsumer();
    consumer.result = { rejectedSpans: 2, message: "no profile" };
    const outcome = exportTraces(
      () => ({ ...EMPTY, rejectedSpans: 1, rejectReason: "span_id of 3 bytes" }),
      consumer,
      log,
    );
    expect(outcome).toEqual({
      kind: "accepted",
      partialSuccess: { rejectedSpans: 3, errorMessage: "span_id of 3 bytes; no profile" },
    });
  });

  it("a consumer error named PipelineUnavailableError from another module copy is still unavailable", () => {
    const consumer = new RecordingConsumer();
    consumer.failWith = Object.assign(new Error("queue full"), { name: "PipelineUnavailableError" });
    expect(exportTraces(() => EMPTY, consumer, log)).toEqual({ kind: "unavailable", message: "queue full" });
    consumer.failWith = new PipelineUnavailableError("shutting down");
    expect(exportTraces(() => EMPTY, consumer, log)).toEqual({ kind: "unavailable", message: "shutting down" });
  });
});
