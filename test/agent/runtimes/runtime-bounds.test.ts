/**
 * What the scraper bounds and isolates, against real HTTP servers on loopback: the series a
 * hostile page can add (100,000 model_name values), a hung target beside healthy ones on the same
 * host:port, and the figures derived between two scrapes (Triton's mean queue and compute time,
 * the request counts handed to the span series).
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import type { RequestIncrements } from "../../../agent/collectors/runtimes/counter-memo.js";
import {
  RuntimeScraper,
  type RuntimeSeriesLabels,
  type RuntimeTarget,
} from "../../../agent/collectors/runtimes/runtime-scraper.js";
import { registerRuntimeMetrics } from "../../../agent/exporters/runtime-metrics.js";
import { agentConfigSchema } from "../../../common/config/schema.js";
import { OVERFLOW_MODEL } from "../../../common/conventions.js";
import { silentLogger } from "../../../common/log.js";
import { projectPath } from "../../../common/paths.js";
import { find, parseExposition, valueOf, type Series } from "../../fixtures/exposition.js";

const NODE = "node-a";
const servers: Server[] = [];
const scrapers: RuntimeScraper[] = [];

afterEach(async () => {
  await Promise.all(scrapers.splice(0).map((s) => s.shutdown()));
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

/** One loopback server answering by path; returns its base URL. */
async function listen(handle: (request: IncomingMessage, response: ServerResponse) => void): Promise<string> {
  const server = createServer(handle);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function answer(response: ServerResponse, body: string): void {
  response.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
  response.end(body);
}

function fixture(name: string): string {
  return readFileSync(projectPath(`test/fixtures/runtimes/${name}`), "utf8");
}

interface Counted {
  readonly labels: RuntimeSeriesLabels;
  readonly increments: RequestIncrements;
}

function scraperFor(targets: readonly RuntimeTarget[], runtimes: Record<string, unknown> = {}) {
  const config = agentConfigSchema.parse({ runtimes: { timeout: "400ms", interval: "1s", ...runtimes } });
  const counted: Counted[] = [];
  const scraper = new RuntimeScraper({
    config: { ...config.runtimes, targets: [...targets] },
    tiers: config.spans,
    log: silentLogger(),
    requestCounts: (labels, increments) => counted.push({ labels, increments }),
  });
  scrapers.push(scraper);
  const registry = new Registry();
  registerRuntimeMetrics(
    registry,
    NODE,
    () => scraper.view(),
    (metric, err) => {
      throw new Error(`fill of ${metric} failed`, { cause: err });
    },
    () => ({ series: scraper.seriesCount, overflowed: scraper.overflowed }),
  );
  return {
    scraper,
    counted,
    scrape: async (): Promise<{ series: Series[]; bytes: number }> => {
      const text = await registry.metrics();
      return { series: parseExposition(text), bytes: text.length };
    },
  };
}

/** A vLLM page listing `count` served models (what any GPU pod with a metrics-port annotation could serve). */
function manyModels(count: number, prefix = "m"): string {
  const lines = ["# TYPE vllm:num_requests_running gauge"];
  for (let i = 0; i < count; i++) lines.push(`vllm:num_requests_running{engine="0",model_name="${prefix}${i}"} 1`);
  lines.push("# TYPE vllm:kv_cache_usage_perc gauge");
  for (let i = 0; i < count; i++)
    lines.push(`vllm:kv_cache_usage_perc{engine="0",model_name="${prefix}${i}"} ${(i % 100) / 100}`);
  return `${lines.join("\n")}\n`;
}

describe("runtime series limits", () => {
  it("folds a page of 100,000 model_name values into the target's limit, totals kept, and counts what folded", async () => {
    const base = await listen((_, response) => answer(response, manyModels(100_000)));
    // The page (12.7 MiB) is within the default page limit (16 MiB): read as it arrives, the series limits meet it.
    const { scraper, scrape } = scraperFor([{ url: `${base}/metrics`, namespace: "serving", pod: "evil-0" }], {
      timeout: "20s",
      interval: "30s",
    });
    expect((await scraper.collect()).errors).toEqual([]);
    const { series, bytes } = await scrape();
    const batch = find(series, "inferwatch_llm_batch_size");
    expect(batch).toHaveLength(64);
    expect(batch.reduce((sum, s) => sum + s.value, 0)).toBe(100_000);
    const overflow = { model: OVERFLOW_MODEL, runtime: "vllm", namespace: "serving", pod: "evil-0" };
    expect(valueOf(series, "inferwatch_llm_batch_size", overflow)).toBe(100_000 - 63);
    expect(valueOf(series, "inferwatch_llm_kv_cache_usage_ratio", overflow)).toBe(0.99);
    expect(valueOf(series, "inferwatch_runtime_series", { node: NODE })).toBe(64);
    expect(valueOf(series, "inferwatch_runtime_series_overflow_total", { limit: "target" })).toBe(100_000 - 63);
    // The agent's own page stays small: 11.6 MB before the limit.
    expect(bytes).toBeLessThan(64 * 1024);
  });

  it("keeps the models admitted first from one scrape to the next, and frees the slot of a model that went away", async () => {
    let models = ["a", "b", "c", "d"];
    const base = await listen((_, response) =>
      answer(response, models.map((m) => `vllm:num_requests_running{model_name="${m}"} 1`).join("\n")),
    );
    const { scraper, scrape } = scraperFor([{ url: `${base}/metrics` }], { maxSeriesPerTarget: 3 });
    await scraper.collect();
    const kept = (await scrape()).series
      .filter((s) => s.name === "inferwatch_llm_batch_size")
      .map((s) => s.labels["model"])
      .sort();
    expect(kept).toEqual([OVERFLOW_MODEL, "a", "b"]);
    models = ["d", "c", "b", "a"];
    await scraper.collect();
    expect(
      (await scrape()).series
        .filter((s) => s.name === "inferwatch_llm_batch_size")
        .map((s) => s.labels["model"])
        .sort(),
    ).toEqual([OVERFLOW_MODEL, "a", "b"]);
    models = ["b", "c", "d"];
    await scraper.collect(); // a is gone: its slot frees at the end of this round
    await scraper.collect();
    expect(
      (await scrape()).series
        .filter((s) => s.name === "inferwatch_llm_batch_size")
        .map((s) => s.labels["model"])
        .sort(),
    ).toEqual([OVERFLOW_MODEL, "b", "c"]);
  });

  it("bounds all targets together at the agent's limit, past it one agent-wide overflow row", async () => {
    const base = await listen((request, response) =>
      answer(response, manyModels(50, request.url === "/one" ? "x" : "y")),
    );
    const { scraper, scrape } = scraperFor([{ url: `${base}/one` }, { url: `${base}/two` }], {
      maxSeriesPerTarget: 1000,
      maxSeries: 80,
    });
    await scraper.collect();
    const { series } = await scrape();
    const batch = find(series, "inferwatch_llm_batch_size");
    expect(batch.length).toBeLessThanOrEqual(80);
    expect(batch.reduce((sum, s) => sum + s.value, 0)).toBe(100);
    expect(valueOf(series, "inferwatch_llm_batch_size", { model: OVERFLOW_MODEL, runtime: "", pod: "" })).toBe(
      100 - 79,
    );
    expect(valueOf(series, "inferwatch_runtime_series_overflow_total", { limit: "agent" })).toBe(21);
  });
});

describe("runtime page size", () => {
  /** The default page limit (agent.runtimes.maxBodyBytes). */
  const DEFAULT_MAX_PAGE = 16 * 2 ** 20;

  /** One vLLM model over `engines` data-parallel engines: running requests `i % 7`, KV usage `(i % 100) / 100` on engine i. */
  function manyEngines(engines: number): string {
    const lines = ["# TYPE vllm:num_requests_running gauge"];
    for (let i = 0; i < engines; i++)
      lines.push(`vllm:num_requests_running{engine="${i}",model_name="llama-70b"} ${i % 7}`);
    lines.push("# TYPE vllm:kv_cache_usage_perc gauge");
    for (let i = 0; i < engines; i++)
      lines.push(`vllm:kv_cache_usage_perc{engine="${i}",model_name="llama-70b"} ${(i % 100) / 100}`);
    return `${lines.join("\n")}\n`;
  }

  it("reads a page past the old 1 MiB limit whole at the default limit, sent in odd-sized chunks without a Content-Length", async () => {
    const engines = 40_000;
    const page = manyEngines(engines);
    expect(page.length).toBeGreaterThan(4 * 2 ** 20);
    const base = await listen((_, response) => {
      response.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
      // 7,919-byte writes: lines and UTF-8 cut anywhere, chunked transfer encoding.
      for (let at = 0; at < page.length; at += 7919) response.write(page.slice(at, at + 7919));
      response.end();
    });
    const { scraper, scrape } = scraperFor([{ url: `${base}/metrics` }], { timeout: "20s", interval: "30s" });
    expect((await scraper.collect()).errors).toEqual([]);
    const { series } = await scrape();
    let running = 0;
    for (let i = 0; i < engines; i++) running += i % 7;
    expect(find(series, "inferwatch_llm_batch_size").map((s) => [s.labels["model"], s.value])).toEqual([
      ["llama-70b", running],
    ]);
    expect(valueOf(series, "inferwatch_llm_kv_cache_usage_ratio", { model: "llama-70b" })).toBe(0.99);
    expect(valueOf(series, "inferwatch_runtime_scrape_up", { target: `${base}/metrics` })).toBe(1);
  });

  it("refuses a page over the default limit, by its Content-Length or as it passes the limit, and reports its target down", async () => {
    const page = manyModels(140_000);
    expect(page.length).toBeGreaterThan(DEFAULT_MAX_PAGE);
    const base = await listen((request, response) => {
      if (request.url === "/declared") return answer(response, page);
      response.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
      response.on("error", () => undefined);
      response.write(page);
      response.end();
    });
    const { scraper, scrape } = scraperFor([{ url: `${base}/declared` }, { url: `${base}/streamed` }], {
      timeout: "20s",
      interval: "30s",
    });
    const result = await scraper.collect();
    expect(result.errors.map((e) => e.message)).toEqual([
      expect.stringContaining(`page larger than ${DEFAULT_MAX_PAGE} bytes`),
      expect.stringContaining(`page larger than ${DEFAULT_MAX_PAGE} bytes`),
    ]);
    const { series } = await scrape();
    expect(find(series, "inferwatch_runtime_scrape_up").map((s) => s.value)).toEqual([0, 0]);
    expect(find(series, "inferwatch_llm_batch_size")).toEqual([]);
    expect(valueOf(series, "inferwatch_runtime_series", { node: NODE })).toBe(0);
  });
});

describe("runtime socket pools", () => {
  it("scrapes the other targets of a host:port while one of them hangs", async () => {
    let hung = 0;
    const base = await listen((request, response) => {
      if (request.url === "/hang") {
        hung++;
        return; // never answers
      }
      answer(response, fixture("vllm-v1.prom"));
    });
    const { scraper, scrape } = scraperFor([
      { url: `${base}/hang` },
      { url: `${base}/a/metrics` },
      { url: `${base}/b/metrics` },
    ]);
    const result = await scraper.collect();
    expect(hung).toBe(1);
    expect(result.errors.map((e) => e.message).join()).toContain("/hang");
    expect(result.samples.map((s) => s.url).sort()).toEqual([`${base}/a/metrics`, `${base}/b/metrics`]);
    const { series } = await scrape();
    expect(valueOf(series, "inferwatch_runtime_scrape_up", { target: `${base}/a/metrics` })).toBe(1);
    expect(valueOf(series, "inferwatch_runtime_scrape_up", { target: `${base}/b/metrics` })).toBe(1);
    expect(valueOf(series, "inferwatch_runtime_scrape_up", { target: `${base}/hang` })).toBe(0);
  });
});

describe("figures between two scrapes", () => {
  it("derives Triton's mean queue and compute time from the duration counters' increases", async () => {
    let page = fixture("triton-vllm-backend.prom");
    const base = await listen((_, response) => answer(response, page));
    const { scraper, scrape } = scraperFor([{ url: `${base}/metrics` }]);
    await scraper.collect();
    const labels = { model: "llama3_vllm", runtime: "triton" };
    // First scrape: since Triton started, 40 s queued and 840 s computing over 400 requests.
    expect(valueOf((await scrape()).series, "inferwatch_llm_runtime_mean_queue_seconds", labels)).toBeCloseTo(0.1, 9);
    expect(valueOf((await scrape()).series, "inferwatch_llm_runtime_mean_compute_seconds", labels)).toBeCloseTo(2.1, 9);
    // 100 more requests that queued 0.5 s and computed 3 s each.
    page = page
      .replace(
        'nv_inference_request_success{model="llama3_vllm",version="1"} 400',
        'nv_inference_request_success{model="llama3_vllm",version="1"} 500',
      )
      .replace(
        'nv_inference_queue_duration_us{model="llama3_vllm",version="1"} 40000000',
        'nv_inference_queue_duration_us{model="llama3_vllm",version="1"} 90000000',
      )
      .replace(
        'nv_inference_compute_infer_duration_us{model="llama3_vllm",version="1"} 836000000',
        'nv_inference_compute_infer_duration_us{model="llama3_vllm",version="1"} 1136000000',
      );
    await scraper.collect();
    const { series } = await scrape();
    expect(valueOf(series, "inferwatch_llm_runtime_mean_queue_seconds", labels)).toBeCloseTo(0.5, 9);
    expect(valueOf(series, "inferwatch_llm_runtime_mean_compute_seconds", labels)).toBeCloseTo(3, 9);
  });

  it("hands on what vLLM counted between scrapes (the first scrape is the baseline), and a restart's counts whole", async () => {
    let stop = 900;
    let errors = 4;
    const base = await listen((_, response) =>
      answer(
        response,
        [
          `vllm:request_success_total{engine="0",finished_reason="stop",model_name="m"} ${stop}`,
          `vllm:request_success_total{engine="0",finished_reason="error",model_name="m"} ${errors}`,
          `vllm:prompt_tokens_total{engine="0",model_name="m"} ${stop * 10}`,
        ].join("\n"),
      ),
    );
    const { scraper, counted } = scraperFor([{ url: `${base}/metrics`, namespace: "serving", pod: "vllm-0" }]);
    await scraper.collect();
    expect(counted).toEqual([]);
    stop = 950;
    errors = 7;
    await scraper.collect();
    expect(counted).toEqual([
      {
        labels: { model: "m", runtime: "vllm", namespace: "serving", pod: "vllm-0", tier: "default" },
        increments: { requestsOk: 50, requestsFailed: 3, promptTokens: 500 },
      },
    ]);
    await scraper.collect();
    expect(counted).toHaveLength(1); // nothing new, nothing handed on
    stop = 20; // vLLM restarted
    errors = 1;
    await scraper.collect();
    expect(counted[1]?.increments).toEqual({ requestsOk: 20, requestsFailed: 1, promptTokens: 200 });
  });
});
