import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { tgiProfile } from "../../../agent/profiles/tgi/page.js";
import { tritonTrtllmProfile } from "../../../agent/profiles/triton/trtllm-page.js";
import { vllmProfile } from "../../../agent/profiles/vllm/page.js";
import { readRuntimePage } from "../../../agent/profiles/page-profiles.js";
import { indexSamples, type ModelGauges, type SampleIndex } from "../../../agent/collectors/runtimes/runtime-gauges.js";
import { parseExpositionText } from "../../../common/exposition.js";
import { projectPath } from "../../../common/paths.js";

function page(name: string): SampleIndex {
  return indexSamples(parseExpositionText(readFileSync(projectPath(`test/fixtures/runtime-pages/${name}`), "utf8")));
}

function text(body: string): SampleIndex {
  return indexSamples(parseExpositionText(body));
}

function only(rows: readonly ModelGauges[], model: string): ModelGauges {
  const found = rows.filter((row) => row.model === model);
  expect(found).toHaveLength(1);
  return found[0] as ModelGauges;
}

describe("vLLM profile", () => {
  it("folds the engines of one model: counts add up, KV usage is the fuller engine's", () => {
    const rows = vllmProfile.read(page("vllm.prom"));
    expect(rows).toHaveLength(1);
    expect(only(rows, "meta-llama/Llama-3.1-8B-Instruct")).toEqual({
      model: "meta-llama/Llama-3.1-8B-Instruct",
      kvCacheUsage: 0.87,
      prefixCacheQueries: 100_000,
      prefixCacheHits: 45_000,
      queueDepth: 4,
      batchSize: 21,
      preemptions: 6,
      promptTokens: 1_234_567,
    });
  });

  it("reads KV usage and prefix-cache counters under their pre-0.9 names", () => {
    const row = only(vllmProfile.read(page("vllm-0.8.prom")), "mistralai/Mistral-7B-Instruct-v0.3");
    expect(row).toEqual({
      model: "mistralai/Mistral-7B-Instruct-v0.3",
      kvCacheUsage: 0.955,
      prefixCacheQueries: 8000,
      prefixCacheHits: 2000,
      queueDepth: 7,
      batchSize: 5,
      preemptions: 31,
    });
  });

  it("prefers the current KV name when a page carries both (hidden deprecated metrics shown)", () => {
    const rows = vllmProfile.read(
      text('vllm:gpu_cache_usage_perc{model_name="m"} 0.1\nvllm:kv_cache_usage_perc{model_name="m"} 0.4\n'),
    );
    expect(only(rows, "m").kvCacheUsage).toBe(0.4);
  });

  it("leaves out what the page does not report and drops NaN instead of exporting it", () => {
    const rows = vllmProfile.read(
      text('vllm:num_requests_waiting{model_name="m"} NaN\nvllm:num_requests_running{model_name="m"} 2\n'),
    );
    expect(only(rows, "m")).toEqual({ model: "m", batchSize: 2 });
  });

  it("keeps models apart when one server serves several", () => {
    const rows = vllmProfile.read(
      text('vllm:num_requests_running{model_name="a"} 1\nvllm:num_requests_running{model_name="b"} 3\n'),
    );
    expect(only(rows, "a").batchSize).toBe(1);
    expect(only(rows, "b").batchSize).toBe(3);
  });
});

describe("TGI profile", () => {
  it("maps queue, batch and the batch's share of the KV token budget to one unnamed model", () => {
    const rows = tgiProfile.read(page("tgi.prom"));
    expect(rows).toEqual([{ model: "", queueDepth: 6, batchSize: 24, kvCacheUsage: 98304 / 131072, requestsOk: 1880 }]);
  });

  it("reports no KV usage when the router does not expose its token budget", () => {
    const rows = tgiProfile.read(
      text("tgi_queue_size 0\ntgi_batch_current_size 1\ntgi_batch_current_max_tokens 500\n"),
    );
    expect(rows).toEqual([{ model: "", queueDepth: 0, batchSize: 1 }]);
  });
});

describe("Triton / TensorRT-LLM profile", () => {
  it("takes KV usage as used over max blocks, batch as scheduled requests, queue as pending plus waiting", () => {
    const rows = readRuntimePage(page("triton.prom"))?.rows ?? [];
    expect(only(rows, "tensorrt_llm")).toEqual({
      model: "tensorrt_llm",
      kvCacheUsage: 0.75,
      batchSize: 16,
      queueDepth: 7,
      requestsOk: 5120,
    });
    expect(only(rows, "ensemble")).toEqual({ model: "ensemble", queueDepth: 0, requestsOk: 5120 });
  });

  it("falls back to active requests and the fraction block type on older or newer backends", () => {
    const rows = tritonTrtllmProfile.read(
      text(
        [
          'nv_trt_llm_request_metrics{model="m",request_type="active",version="1"} 9',
          'nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="fraction",model="m",version="1"} 0.4',
        ].join("\n"),
      ),
    );
    expect(only(rows, "m")).toEqual({ model: "m", batchSize: 9, kvCacheUsage: 0.4 });
  });

  it("keeps the fullest version of a model", () => {
    const rows = tritonTrtllmProfile.read(
      text(
        [
          'nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="used",model="m",version="1"} 10',
          'nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="max",model="m",version="1"} 100',
          'nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="used",model="m",version="2"} 90',
          'nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="max",model="m",version="2"} 100',
        ].join("\n"),
      ),
    );
    expect(only(rows, "m").kvCacheUsage).toBe(0.9);
  });
});

describe("runtime detection", () => {
  it.each([
    ["vllm.prom", "vllm"],
    ["vllm-0.8.prom", "vllm"],
    ["tgi.prom", "tgi"],
    ["triton.prom", "triton"],
  ])("recognises %s as %s from its metric names", (file, runtime) => {
    expect(readRuntimePage(page(file))?.runtime).toBe(runtime);
  });

  it("recognises nothing on a page of another exporter", () => {
    expect(readRuntimePage(text('node_cpu_seconds_total{cpu="0",mode="idle"} 1\n'))).toBeUndefined();
  });
});
