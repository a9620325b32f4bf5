/**
 * `inferwatch agent` in its own process scraping three fake runtimes (vLLM, TGI, Triton) and one
 * that hangs, all on loopback, configured through the YAML file as an operator would.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectPath } from "../../../common/paths.js";
import { scrapeUntil, startAgentProcess, type AgentProcess } from "../../fixtures/agent-process.js";
import { valueOf } from "../../fixtures/exposition.js";

const servers: Server[] = [];
let agent: AgentProcess | undefined;
let dir: string | undefined;
let hungOpen = 0;

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
}

function page(name: string): Parameters<typeof createServer>[1] {
  const body = readFileSync(projectPath(`test/fixtures/runtime-pages/${name}`), "utf8");
  return (_, response) => {
    response.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
    response.end(body);
  };
}

const urls: Record<"vllm" | "tgi" | "triton" | "hung", string> = { vllm: "", tgi: "", triton: "", hung: "" };

beforeAll(async () => {
  urls.vllm = await listen(page("vllm.prom"));
  urls.tgi = await listen(page("tgi.prom"));
  urls.triton = await listen(page("triton.prom"));
  urls.hung = await listen((_, response) => {
    hungOpen++;
    response.on("close", () => hungOpen--);
  });
  dir = await mkdtemp(join(tmpdir(), "inferwatch-runtimes-"));
  const config = join(dir, "inferwatch.yaml");
  await writeFile(
    config,
    [
      "agent:",
      "  runtimes:",
      "    interval: 5s",
      "    timeout: 4s",
      "    targets:",
      `      - ${urls.vllm}`,
      `      - { url: '${urls.tgi}', model: mistral-7b, namespace: serving, pod: tgi-0 }`,
      `      - { url: '${urls.triton}', runtime: triton, namespace: serving, pod: trt-0, tier: batch }`,
      `      - ${urls.hung}`,
    ].join("\n"),
  );
  agent = await startAgentProcess([
    "--config",
    config,
    "--nvml-library",
    "/nonexistent/libnvidia-ml.so.1",
    "--pods",
    "false",
    "--host-metrics",
    "false",
    "--otlp",
    "false",
  ]);
}, 30_000);

afterAll(async () => {
  await agent?.stop();
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("inferwatch agent with three runtimes on loopback", () => {
  it("exports each model's KV cache, prefix cache, queue, batch and preemptions, and the hung target only as down", async () => {
    const a = agent as AgentProcess;
    const series = await scrapeUntil(
      a,
      (s) => valueOf(s, "inferwatch_runtime_scrape_up", { target: urls.hung }) !== undefined,
      15_000,
    );
    const at = (model: string, runtime: string) => ({ model, runtime, node: "test-node" });

    const llama = at("meta-llama/Llama-3.1-8B-Instruct", "vllm");
    expect(valueOf(series, "inferwatch_llm_kv_cache_usage_ratio", llama)).toBe(0.87);
    expect(valueOf(series, "inferwatch_llm_prefix_cache_hit_ratio", llama)).toBe(0.45);
    expect(valueOf(series, "inferwatch_llm_prefix_cache_queries_total", llama)).toBe(100_000);
    expect(valueOf(series, "inferwatch_llm_prefix_cache_hits_total", llama)).toBe(45_000);
    expect(valueOf(series, "inferwatch_llm_queue_depth", llama)).toBe(4);
    expect(valueOf(series, "inferwatch_llm_batch_size", llama)).toBe(21);
    expect(valueOf(series, "inferwatch_llm_preemptions_total", llama)).toBe(6);

    const mistral = { ...at("mistral-7b", "tgi"), namespace: "serving", pod: "tgi-0", tier: "default" };
    expect(valueOf(series, "inferwatch_llm_queue_depth", mistral)).toBe(6);
    expect(valueOf(series, "inferwatch_llm_batch_size", mistral)).toBe(24);
    expect(valueOf(series, "inferwatch_llm_kv_cache_usage_ratio", mistral)).toBe(0.75);

    const trt = { ...at("tensorrt_llm", "triton"), namespace: "serving", pod: "trt-0", tier: "batch" };
    expect(valueOf(series, "inferwatch_llm_kv_cache_usage_ratio", trt)).toBe(0.75);
    expect(valueOf(series, "inferwatch_llm_batch_size", trt)).toBe(16);
    expect(valueOf(series, "inferwatch_llm_queue_depth", trt)).toBe(7);

    expect(valueOf(series, "inferwatch_runtime_scrape_up", { target: urls.vllm, runtime: "vllm" })).toBe(1);
    expect(valueOf(series, "inferwatch_runtime_scrape_up", { target: urls.tgi, runtime: "tgi" })).toBe(1);
    expect(valueOf(series, "inferwatch_runtime_scrape_up", { target: urls.triton, runtime: "triton" })).toBe(1);
    expect(valueOf(series, "inferwatch_runtime_scrape_up", { target: urls.hung })).toBe(0);
    expect(valueOf(series, "inferwatch_agent_collector_success", { collector: "runtimes" })).toBe(1);
    expect(valueOf(series, "inferwatch_nvml_up")).toBe(0);
  });

  it("answers its own /metrics while a runtime request hangs", async () => {
    const a = agent as AgentProcess;
    const deadline = Date.now() + 10_000;
    while (hungOpen === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(hungOpen).toBe(1);
    const { series } = await a.scrape();
    // The scrape came back while the agent's request to the hung runtime was still open.
    expect(hungOpen).toBe(1);
    expect(valueOf(series, "inferwatch_llm_batch_size", { runtime: "vllm" })).toBe(21);
  });

  it("serves the same figures as OpenMetrics, counters included", async () => {
    const { series, contentType } = await (agent as AgentProcess).scrape("application/openmetrics-text; version=1.0.0");
    expect(contentType).toContain("application/openmetrics-text");
    expect(valueOf(series, "inferwatch_llm_preemptions_total", { runtime: "vllm" })).toBe(6);
    expect(valueOf(series, "inferwatch_llm_prefix_cache_hits_total", { runtime: "vllm" })).toBe(45_000);
    expect(valueOf(series, "inferwatch_llm_kv_cache_usage_ratio", { runtime: "triton" })).toBe(0.75);
  });

  it("stops cleanly on SIGTERM while a runtime request hangs", async () => {
    const deadline = Date.now() + 10_000;
    while (hungOpen === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(hungOpen).toBe(1);
    const code = await (agent as AgentProcess).stop();
    agent = undefined;
    expect(code).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(hungOpen).toBe(0);
  });
});
