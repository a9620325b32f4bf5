/**
 * Runtime spans end to end: the OpenTelemetry JS SDK exports vLLM-, TGI-, Triton- and
 * GenAI-shaped spans to a running `inferwatch agent` over each OTLP transport, and the agent's
 * /metrics carries the LLM request metrics per model. Prompt text sent along never comes out.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { decodeOtlpProtobuf } from "../../agent/receivers/otlp-protobuf-decoder.js";
import { scrapeUntil, startAgentProcess, type AgentProcess } from "../fixtures/agent-process.js";
import { valueOf } from "../fixtures/exposition.js";
import { sendSpans, TRANSPORTS } from "../fixtures/otlp-client.js";
import {
  genaiRawSpan,
  runtimeResource,
  tgiRawSpan,
  tritonComputeRawSpan,
  tritonRawSpan,
  vllmRawSpan,
} from "../fixtures/spans.js";
import { waitFor } from "../fixtures/wait.js";

let agent: AgentProcess | undefined;

afterEach(async () => {
  await agent?.stop();
  agent = undefined;
});

async function startAgent(args: readonly string[] = []): Promise<AgentProcess> {
  agent = await startAgentProcess([
    "--nvml-library",
    "/nonexistent/libnvidia-ml.so.1",
    "--pods",
    "false",
    "--host-metrics",
    "false",
    ...args,
  ]);
  return agent;
}

describe.each(TRANSPORTS)("spans over %s", (transport) => {
  it("produce request counts, latency sums and buckets per model and runtime", async () => {
    const a = await startAgent();
    const address = (transport === "grpc" ? a.otlpGrpc : a.otlpHttp) as string;
    const e2es = [0.4, 1.15, 1.2, 1.9, 3.3];
    const vllm = e2es.map((e2e, i) =>
      vllmRawSpan({
        spanId: `a00000000000000${i}`,
        attributes: { "gen_ai.latency.e2e": e2e, "gen_ai.response.model": "llama-3-8b" },
      }),
    );
    await sendSpans(transport, address, runtimeResource("vllm"), vllm, { gzip: transport !== "http/json" });
    await sendSpans(transport, address, runtimeResource("tgi"), [
      tgiRawSpan(),
      tgiRawSpan({ spanId: "b000000000000001" }),
    ]);
    await sendSpans(transport, address, runtimeResource("triton"), [tritonComputeRawSpan(), tritonRawSpan()]);
    await sendSpans(transport, address, runtimeResource("genai"), [genaiRawSpan()]);

    const series = await scrapeUntil(
      a,
      (s) => valueOf(s, "inferwatch_llm_requests_total", { runtime: "genai", status: "ok" }) === 1,
    );
    const llama = {
      model: "llama-3-8b",
      runtime: "vllm",
      namespace: "inference",
      pod: "llama-8b-vllm-7c9d8f6b5-x2kqp",
      tier: "default",
    };
    expect(valueOf(series, "inferwatch_llm_requests_total", { ...llama, status: "ok" })).toBe(5);
    expect(valueOf(series, "inferwatch_llm_request_duration_seconds_sum", llama)).toBeCloseTo(7.95, 9);
    expect(valueOf(series, "inferwatch_llm_request_duration_seconds_bucket", { ...llama, le: "1.2" })).toBe(3);
    expect(valueOf(series, "inferwatch_llm_request_duration_seconds_bucket", { ...llama, le: "2" })).toBe(4);
    expect(valueOf(series, "inferwatch_llm_queue_duration_seconds_count", llama)).toBe(5);
    expect(valueOf(series, "inferwatch_llm_tokens_total", { ...llama, type: "completion" })).toBe(5 * 128);

    const tgi = { runtime: "tgi", pod: "mistral-7b-tgi-0" };
    expect(valueOf(series, "inferwatch_llm_requests_total", { ...tgi, status: "ok" })).toBe(2);
    expect(valueOf(series, "inferwatch_llm_request_duration_seconds_sum", tgi)).toBeCloseTo(2.5, 9);
    expect(valueOf(series, "inferwatch_llm_queue_duration_seconds_sum", tgi)).toBeCloseTo(0.025, 9);

    const triton = { runtime: "triton", model: "tensorrt_llm" };
    expect(valueOf(series, "inferwatch_llm_request_duration_seconds_sum", triton)).toBeCloseTo(0.85, 6);
    expect(valueOf(series, "inferwatch_llm_queue_duration_seconds_sum", triton)).toBeCloseTo(0.035, 6);
    expect(
      valueOf(series, "inferwatch_llm_time_to_first_token_seconds_count", {
        runtime: "genai",
        model: "meta-llama/Llama-3.1-8B-Instruct",
      }),
    ).toBe(1);
  });
});

describe("privacy", () => {
  let upstream: Server | undefined;

  afterEach(async () => {
    await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
    upstream = undefined;
  });

  it("never lets prompt, completion or user text out: not in /metrics, the snapshot, the logs or forwarded spans", async () => {
    const forwarded: Buffer[] = [];
    upstream = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        forwarded.push(Buffer.concat(chunks));
        response.writeHead(200, { "content-type": "application/x-protobuf" });
        response.end();
      });
    });
    await new Promise<void>((resolve) => upstream?.listen(0, "127.0.0.1", resolve));
    const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1/traces`;
    const a = await startAgent(["--log-level", "trace", "--forward-endpoint", upstreamUrl]);

    const secrets = [
      "SECRET-PROMPT-how-do-I-bake-bread",
      "SECRET-COMPLETION-first-knead",
      "SECRET-USER-alice@example.com",
      "SECRET-PARAMS-temperature",
    ];
    const leaky = {
      "gen_ai.prompt": secrets[0] as string,
      "gen_ai.completion": secrets[1] as string,
      "user.id": secrets[2] as string,
      "gen_ai.input.messages": `[{"role":"user","content":"${secrets[0]}"}]`,
    };
    const resource = { ...runtimeResource("vllm"), "enduser.id": secrets[2] as string };
    await sendSpans("http/protobuf", a.otlpHttp as string, resource, [vllmRawSpan({ attributes: leaky })]);
    await sendSpans("grpc", a.otlpGrpc as string, runtimeResource("tgi"), [
      tgiRawSpan({ attributes: { parameters: secrets[3], ...leaky } }),
    ]);
    await sendSpans("http/json", a.otlpHttp as string, runtimeResource("genai"), [
      genaiRawSpan({
        attributes: leaky,
        events: [
          {
            name: "gen_ai.content.prompt",
            timeMs: 1_749_988_800_001,
            attributes: { "gen_ai.prompt": secrets[0] as string },
          },
        ],
      }),
    ]);

    await scrapeUntil(a, (s) => valueOf(s, "inferwatch_llm_requests_total", { runtime: "genai", status: "ok" }) === 1);
    await waitFor(
      () =>
        forwarded.length > 0 &&
        forwarded
          .map((b) => decodeOtlpProtobuf(b, () => true).resourceSpans.flatMap((r) => r.spans).length)
          .reduce((x, y) => x + y, 0) === 3,
      10_000,
    );

    const metrics = (await a.scrape()).text + (await a.scrape("application/openmetrics-text")).text;
    const snapshot = await (await fetch(`${a.url}/v1/snapshot`)).text();
    const forwardedSpans = forwarded.flatMap((body) => decodeOtlpProtobuf(body, () => true).resourceSpans);
    const forwardedText = forwarded.map((b) => b.toString("latin1")).join("");
    for (const secret of [...secrets, "SECRET-"]) {
      expect(metrics).not.toContain(secret);
      expect(snapshot).not.toContain(secret);
      expect(a.stderr()).not.toContain(secret);
      expect(forwardedText).not.toContain(secret);
    }
    // The forwarded spans are the real ones, with the timing attributes kept.
    const vllm = forwardedSpans.flatMap((r) => r.spans).find((s) => s.name === "llm_request");
    expect(vllm?.attributes.get("gen_ai.latency.e2e")).toBe(2.4813);
    expect(vllm?.attributes.has("gen_ai.prompt")).toBe(false);
  });
});

describe("self tracing", () => {
  it("exports the agent's own sampling rounds as spans through the OpenTelemetry Node SDK", async () => {
    const bodies: Buffer[] = [];
    const collector = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        bodies.push(Buffer.concat(chunks));
        response.writeHead(200, { "content-type": "application/x-protobuf" });
        response.end();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    try {
      const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;
      const a = await startAgent(["--self-traces-endpoint", endpoint, "--interval", "200ms"]);
      await waitFor(() => bodies.length > 0, 15_000);
      await a.stop();
      agent = undefined;
      const decoded = bodies.flatMap((body) => decodeOtlpProtobuf(body, (key) => key === "service.name").resourceSpans);
      expect(decoded[0]?.resource.get("service.name")).toBe("inferwatch-agent");
      expect(decoded.flatMap((r) => r.spans).map((span) => span.name)).toContain("collect gpu");
    } finally {
      await new Promise<void>((resolve) => collector.close(() => resolve()));
    }
  });
});

describe("bad input", () => {
  it("gets a 400 with a reason, and the agent keeps serving", async () => {
    const a = await startAgent();
    const response = await fetch(`http://${a.otlpHttp as string}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/x-protobuf" },
      body: Buffer.from([0x0a, 0xff, 0xff, 0xff]),
    });
    expect(response.status).toBe(400);
    const json = await fetch(`http://${a.otlpHttp as string}/v1/traces`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"resourceSpans": 7}',
    });
    expect(json.status).toBe(400);
    expect(await json.text()).toMatch(/"code":3,"message":".*resourceSpans/);
    expect((await fetch(`${a.url}/healthz`)).status).toBe(200);
    expect(valueOf((await a.scrape()).series, "inferwatch_nvml_up")).toBe(0);
  });
});
