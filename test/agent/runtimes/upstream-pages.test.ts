/**
 * Every runtime page built from the runtimes' own source (test/fixtures/runtimes/README.md) read by
 * the profiles: the figures per model under the model label the runtime uses, and the runtime
 * label of a page several profiles read.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readRuntimePage, type RuntimePage } from "../../../agent/profiles/page-profiles.js";
import { indexSamples, type ModelGauges } from "../../../agent/collectors/runtimes/runtime-gauges.js";
import { parseExpositionText } from "../../../common/exposition.js";
import { projectPath } from "../../../common/paths.js";

function read(name: string): RuntimePage {
  const page = readRuntimePage(
    indexSamples(parseExpositionText(readFileSync(projectPath(`test/fixtures/runtimes/${name}`), "utf8"))),
  );
  if (page === undefined) throw new Error(`${name}: no profile read it`);
  return page;
}

function row(page: RuntimePage, model: string): ModelGauges {
  const rows = page.rows.filter((r) => r.model === model);
  expect(rows).toHaveLength(1);
  return rows[0] as ModelGauges;
}

describe("pages built from the runtimes' source", () => {
  it("vLLM V1: engines fold, the queue is the capacity-bound waiting only, abort and error are failures", () => {
    const page = read("vllm-v1.prom");
    expect(page.runtime).toBe("vllm");
    expect(row(page, "llama-3.1-8b")).toEqual({
      model: "llama-3.1-8b",
      kvCacheUsage: 0.93,
      prefixCacheQueries: 1_000_000,
      prefixCacheHits: 400_000,
      // 4 + 3 waiting for capacity; the 2 deferred (KV transfer, LoRA budget) are not a capacity queue.
      queueDepth: 7,
      batchSize: 24,
      preemptions: 17,
      requestsOk: 900 + 80 + 1 + 600 + 40,
      requestsFailed: 6 + 4,
      promptTokens: 2_000_000,
      completionTokens: 500_000,
    });
  });

  it("vLLM V0: the prefix-cache hit-rate gauge is the ratio, and −1 (caching off) gives none", () => {
    const page = read("vllm-v0-prefix-hit-rate.prom");
    expect(row(page, "mistral-7b").prefixCacheHitRatio).toBe(0.38);
    expect(row(page, "mistral-7b").queueDepth).toBe(2);
    expect(row(page, "off-7b")).not.toHaveProperty("prefixCacheHitRatio");
    expect(row(page, "mistral-7b")).toMatchObject({ requestsOk: 150, requestsFailed: 2 });
  });

  it("SGLang: tensor-parallel ranks count once, data-parallel ranks add up, prefix hits from cached over prompt tokens", () => {
    const page = read("sglang.prom");
    expect(page.runtime).toBe("sglang");
    expect(row(page, "qwen2.5-7b")).toEqual({
      model: "qwen2.5-7b",
      kvCacheUsage: 0.82,
      queueDepth: 5 + 2,
      batchSize: 20 + 12,
      prefixCacheHits: 300_000,
      prefixCacheQueries: 500_000,
      preemptions: 7 + 3,
      requestsOk: 2000,
      requestsFailed: 25,
      promptTokens: 500_000,
      completionTokens: 90_000,
    });
  });

  it("Triton with the vLLM backend: one page, two profiles, both under Triton's model label; no KV or batch gauge exists", () => {
    const page = read("triton-vllm-backend.prom");
    expect(page.runtime).toBe("triton");
    expect(page.families).toEqual(["triton-core", "vllm"]);
    const llama = row(page, "llama3_vllm");
    expect(llama).toMatchObject({
      queueDepth: 3,
      requestsOk: 400,
      requestsFailed: 8,
      promptTokens: 120_000,
      completionTokens: 51_200,
      timedRequests: 400,
    });
    expect(llama.queueSecondsTotal).toBeCloseTo(40, 9);
    expect(llama.computeSecondsTotal).toBeCloseTo(840, 9);
    expect(llama).not.toHaveProperty("kvCacheUsage");
    expect(llama).not.toHaveProperty("batchSize");
    expect(page.rows.map((r) => r.model)).toEqual(["llama3_vllm"]);
  });

  it("Triton with TensorRT-LLM: devices of a model add up, the queue is Triton's pending plus the batcher's waiting", () => {
    const page = read("triton-tensorrt-llm.prom");
    expect(page.families).toEqual(["triton-core", "triton-tensorrt-llm"]);
    const trt = row(page, "tensorrt_llm");
    expect(trt).toMatchObject({
      kvCacheUsage: 0.75,
      batchSize: 24,
      queueDepth: 8,
      requestsOk: 1000,
      requestsFailed: 2,
      promptTokens: 350_000,
      completionTokens: 128_000,
      timedRequests: 1000,
    });
    expect(trt.queueSecondsTotal).toBeCloseTo(50, 9);
    expect(trt.computeSecondsTotal).toBeCloseTo(1200, 9);
    expect(row(page, "ensemble")).toEqual({ model: "ensemble", queueDepth: 0, requestsOk: 1000, requestsFailed: 2 });
  });

  it("trtllm-serve: utilization gauge, prefix hits in tokens, cancelled and 5xx as failures, 4xx left out", () => {
    const page = read("trtllm-serve.prom");
    expect(page.runtime).toBe("trtllm");
    expect(row(page, "nemotron-nano-8b")).toEqual({
      model: "nemotron-nano-8b",
      kvCacheUsage: 0.58,
      queueDepth: 4,
      batchSize: 18,
      prefixCacheHits: 160_000,
      prefixCacheQueries: 400_000,
      requestsOk: 750,
      requestsFailed: 5 + 3,
      promptTokens: 400_000,
      completionTokens: 96_000,
    });
  });

  it("trtllm-serve without cached-token counters: prefix hits in blocks, reused over reused plus missed", () => {
    const body = readFileSync(projectPath("test/fixtures/runtimes/trtllm-serve.prom"), "utf8")
      .split("\n")
      .filter((line) => !line.includes("prompt_cached_tokens"))
      .join("\n");
    const page = readRuntimePage(indexSamples(parseExpositionText(body)));
    expect(page?.rows[0]).toMatchObject({ prefixCacheHits: 3000, prefixCacheQueries: 10_000 });
  });

  it("a configured runtime labels the page whatever it carries", () => {
    const page = readRuntimePage(
      indexSamples(parseExpositionText(readFileSync(projectPath("test/fixtures/runtimes/vllm-v1.prom"), "utf8"))),
      "triton",
    );
    expect(page?.runtime).toBe("triton");
    expect(page?.rows[0]?.batchSize).toBe(24);
  });
});
