/** OTLP/HTTP protobuf span traffic for the reliability tests: one encoded batch, sent as often as asked. */
import { request, type Agent } from "node:http";
import { vllmRawSpan } from "../fixtures/spans.js";
import { protobufRequest, runtimeOtelResource, toReadableSpan } from "../agent/receivers/receiver-harness.js";

/** One protobuf export request of `count` distinct vLLM request spans (no prompt text). */
export function encodeSpanBatch(count: number): Uint8Array {
  const resource = runtimeOtelResource("vllm");
  return protobufRequest(
    Array.from({ length: count }, (_, i) =>
      toReadableSpan(
        vllmRawSpan({
          traceId: (0x30000000 + i).toString(16).padStart(32, "5"),
          spanId: (0x40000000 + i).toString(16).padStart(16, "0"),
          attributes: { "gen_ai.usage.prompt_tokens": 100 + (i % 900) },
        }),
        resource,
      ),
    ),
  );
}

/** POSTs `body` to `/v1/traces` at `address` (`host:port`); resolves with the status, 0 on a transport error. */
export function postSpans(agent: Agent, address: string, body: Uint8Array): Promise<number> {
  const colon = address.lastIndexOf(":");
  return new Promise((resolve) => {
    const req = request(
      {
        host: address.slice(0, colon),
        port: Number(address.slice(colon + 1)),
        method: "POST",
        path: "/v1/traces",
        agent,
        headers: { "content-type": "application/x-protobuf", "content-length": body.length },
      },
      (response) => {
        response.resume();
        response.on("end", () => resolve(response.statusCode ?? 0));
        response.on("error", () => resolve(0));
      },
    );
    req.on("error", () => resolve(0));
    req.end(body);
  });
}
