/**
 * The runtime scraper against real HTTP servers on loopback serving recorded runtime pages, and
 * targets that hang, answer garbage or go away; read back through the agent's exporter.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { RuntimeScraper, type RuntimeTarget } from "../../../agent/collectors/runtimes/runtime-scraper.js";
import { registerRuntimeMetrics } from "../../../agent/exporters/runtime-metrics.js";
import { agentConfigSchema } from "../../../common/config/schema.js";
import { silentLogger } from "../../../common/log.js";
import { projectPath } from "../../../common/paths.js";
import { find, parseExposition, valueOf, type Series } from "../../fixtures/exposition.js";

const NODE = "node-a";
const LLAMA = "meta-llama/Llama-3.1-8B-Instruct";

function recorded(name: string): string {
  return readFileSync(projectPath(`test/fixtures/runtime-pages/${name}`), "utf8");
}

interface FakeRuntime {
  readonly url: string;
  /** Requests received so far, and how many are still open. */
  readonly requests: () => number;
  readonly open: () => number;
  close(): Promise<void>;
}

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

/** A runtime on a loopback port; `handle` answers each GET /metrics (or never, for a hung one). */
async function fakeRuntime(handle: (request: IncomingMessage, response: ServerResponse) => void): Promise<FakeRuntime> {
  let requests = 0;
  let open = 0;
  const server = createServer((request, response) => {
    requests++;
    open++;
    response.on("close", () => open--);
    handle(request, response);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    requests: () => requests,
    open: () => open,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function serving(body: () => string): Promise<FakeRuntime> {
  return fakeRuntime((_, response) => {
    response.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
    response.end(body());
  });
}

function scraperFor(
  targets: readonly RuntimeTarget[],
  overrides: Record<string, unknown> = {},
): { scraper: RuntimeScraper; scrape: () => Promise<Series[]> } {
  const config = agentConfigSchema.parse({
    runtimes: { timeout: "300ms", interval: "1s", ...overrides },
    spans: { tiers: [{ model: "^meta-llama/", tier: "latency" }] },
  });
  const scraper = new RuntimeScraper({
    config: { ...config.runtimes, targets: [...targets] },
    tiers: config.spans,
    log: silentLogger(),
    podModel: (namespace, pod) => (namespace === "serving" && pod === "tgi-0" ? "from-pod-label" : undefined),
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
  );
  return { scraper, scrape: async () => parseExposition(await registry.metrics()) };
}

describe("runtime scraper", () => {
  it("exports each runtime's figures under the inferwatch names with the span metrics' labels", async () => {
    const vllm = await serving(() => recorded("vllm.prom"));
    const old = await serving(() => recorded("vllm-0.8.prom"));
    const tgi = await serving(() => recorded("tgi.prom"));
    const triton = await serving(() => recorded("triton.prom"));
    const { scraper, scrape } = scraperFor([
      { url: vllm.url, namespace: "serving", pod: "vllm-0" },
      { url: old.url },
      { url: tgi.url, namespace: "serving", pod: "tgi-0" },
      { url: triton.url, runtime: "triton", model: "llama-70b-trt", tier: "batch" },
    ]);
    const result = await scraper.collect();
    expect(result.errors).toEqual([]);
    const series = await scrape();

    const llama = { model: LLAMA, runtime: "vllm", namespace: "serving", pod: "vllm-0", node: NODE, tier: "latency" };
    expect(valueOf(series, "inferwatch_llm_kv_cache_usage_ratio", llama)).toBe(0.87);
    expect(valueOf(series, "inferwatch_llm_queue_depth", llama)).toBe(4);
    expect(valueOf(series, "inferwatch_llm_batch_size", llama)).toBe(21);
    expect(valueOf(series, "inferwatch_llm_preemptions_total", llama)).toBe(6);
    expect(valueOf(series, "inferwatch_llm_prefix_cache_queries_total", llama)).toBe(100_000);
    expect(valueOf(series, "inferwatch_llm_prefix_cache_hits_total", llama)).toBe(45_000);
    expect(valueOf(series, "inferwatch_llm_prefix_cache_hit_ratio", llama)).toBe(0.45);

    const mistral = { model: "mistralai/Mistral-7B-Instruct-v0.3", runtime: "vllm", tier: "default" };
    expect(valueOf(series, "inferwatch_llm_kv_cache_usage_ratio", mistral)).toBe(0.955);
    expect(valueOf(series, "inferwatch_llm_prefix_cache_hit_ratio", mistral)).toBe(0.25);

    const tgiLabels = { model: "from-pod-label", runtime: "tgi", namespace: "serving", pod: "tgi-0" };
    expect(valueOf(series, "inferwatch_llm_queue_depth", tgiLabels)).toBe(6);
    expect(valueOf(series, "inferwatch_llm_kv_cache_usage_ratio", tgiLabels)).toBe(0.75);
    expect(find(series, "inferwatch_llm_preemptions_total", { runtime: "tgi" })).toEqual([]);

    // The configured model wins over Triton's model label; both Triton models fold into it.
    const trt = { model: "llama-70b-trt", runtime: "triton", tier: "batch" };
    expect(valueOf(series, "inferwatch_llm_kv_cache_usage_ratio", trt)).toBe(0.75);
    expect(valueOf(series, "inferwatch_llm_queue_depth", trt)).toBe(7);
    expect(valueOf(series, "inferwatch_llm_batch_size", trt)).toBe(16);

    for (const [target, runtime] of [
      [vllm, "vllm"],
      [old, "vllm"],
      [tgi, "tgi"],
      [triton, "triton"],
    ] as const) {
      expect(valueOf(series, "inferwatch_runtime_scrape_up", { target: target.url, runtime, node: NODE })).toBe(1);
      expect(valueOf(series, "inferwatch_runtime_scrape_duration_seconds", { target: target.url })).toBeGreaterThan(0);
    }
  });

  it("reports a hung target down at its timeout while the exporter answers at once with everything else", async () => {
    const good = await serving(() => recorded("vllm.prom"));
    const hung = await fakeRuntime(() => {
      // Never answers.
    });
    const { scraper, scrape } = scraperFor([{ url: good.url }, { url: hung.url }], { timeout: "1s" });
    const round = scraper.collect();
    while (hung.open() === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    // Mid-round, with the hung request open: the exporter reads the last state and does not wait.
    await scrape();
    expect(hung.open()).toBe(1);
    const result = await round;
    expect(result.errors.map((e) => e.message)).toEqual([
      expect.stringContaining(`runtime ${hung.url}: no complete answer within 1000 ms`),
    ]);
    const series = await scrape();
    expect(valueOf(series, "inferwatch_runtime_scrape_up", { target: hung.url })).toBe(0);
    expect(valueOf(series, "inferwatch_runtime_scrape_up", { target: good.url })).toBe(1);
    expect(valueOf(series, "inferwatch_runtime_scrape_duration_seconds", { target: hung.url })).toBeGreaterThanOrEqual(
      1,
    );
    expect(valueOf(series, "inferwatch_llm_batch_size", { model: LLAMA })).toBe(21);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(hung.open()).toBe(0); // the agent closed its side: nothing is left holding the socket
  });

  it("aborts a hung request on shutdown instead of waiting out its timeout", async () => {
    const hung = await fakeRuntime(() => {
      // Never answers.
    });
    const { scraper } = scraperFor([{ url: hung.url }], { timeout: "60s", interval: "60s" });
    const round = scraper.collect();
    while (hung.open() === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await scraper.shutdown();
    const result = await round; // a 60 s timeout would outlast the test's own
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]?.message).not.toContain("no complete answer");
    expect(scraper.view()[0]).toMatchObject({ isUp: false });
  });

  it.each([
    ["an HTML error page", "<html><body>502 Bad Gateway</body></html>"],
    ["binary noise", "\u0000\u0001\u00ff garbage {{{"],
    ["a truncated label set", 'vllm:num_requests_running{model_name="m" 3\n'],
  ])("reports a target that returns %s down, with no series of its own", async (_, body) => {
    const good = await serving(() => recorded("tgi.prom"));
    const bad = await serving(() => body);
    const { scraper, scrape } = scraperFor([
      { url: good.url, model: "tgi-model" },
      { url: bad.url, runtime: "vllm" },
    ]);
    const result = await scraper.collect();
    expect(result.errors).toHaveLength(1);
    const series = await scrape();
    expect(valueOf(series, "inferwatch_runtime_scrape_up", { target: bad.url })).toBe(0);
    expect(find(series, "inferwatch_llm_batch_size").map((s) => s.labels["model"])).toEqual(["tgi-model"]);
  });

  it("reports non-200 answers and oversized pages down", async () => {
    const missing = await fakeRuntime((_, response) => {
      response.writeHead(404);
      response.end("not found");
    });
    const huge = await serving(() => `${recorded("vllm.prom")}${"# padding\n".repeat(200)}`);
    const { scraper, scrape } = scraperFor([{ url: missing.url }, { url: huge.url }], { maxBodyBytes: "1KiB" });
    const result = await scraper.collect();
    expect(result.errors.map((e) => e.message)).toEqual([
      expect.stringContaining("HTTP 404"),
      expect.stringContaining("page larger than 1024 bytes"),
    ]);
    const series = await scrape();
    expect(find(series, "inferwatch_runtime_scrape_up").map((s) => s.value)).toEqual([0, 0]);
  });

  it("drops the series of a target that goes away mid-run and picks it up when it is back", async () => {
    const vllm = await serving(() => recorded("vllm.prom"));
    const tgi = await serving(() => recorded("tgi.prom"));
    const { scraper, scrape } = scraperFor([{ url: vllm.url }, { url: tgi.url, model: "tgi-model" }]);
    await scraper.collect();
    expect(valueOf(await scrape(), "inferwatch_llm_queue_depth", { model: "tgi-model" })).toBe(6);

    const port = new URL(tgi.url).port;
    await tgi.close();
    await scraper.collect();
    let series = await scrape();
    expect(valueOf(series, "inferwatch_runtime_scrape_up", { target: tgi.url })).toBe(0);
    expect(find(series, "inferwatch_llm_queue_depth", { model: "tgi-model" })).toEqual([]);
    expect(valueOf(series, "inferwatch_llm_queue_depth", { model: LLAMA })).toBe(4);

    const back = createServer((_, response) => response.end("tgi_queue_size 2\n"));
    servers.push(back);
    await new Promise<void>((resolve) => back.listen(Number(port), "127.0.0.1", resolve));
    await scraper.collect();
    series = await scrape();
    expect(valueOf(series, "inferwatch_runtime_scrape_up", { target: tgi.url })).toBe(1);
    expect(valueOf(series, "inferwatch_llm_queue_depth", { model: "tgi-model" })).toBe(2);
  });

  it("takes the prefix-cache hit ratio over the queries since the previous scrape, and across a runtime restart", async () => {
    let counters = { queries: 1000, hits: 900 };
    const page = () =>
      `vllm:prefix_cache_queries_total{model_name="m"} ${counters.queries}\nvllm:prefix_cache_hits_total{model_name="m"} ${counters.hits}\n`;
    const vllm = await serving(page);
    const { scraper, scrape } = scraperFor([{ url: vllm.url }]);
    const ratio = async () => {
      await scraper.collect();
      return valueOf(await scrape(), "inferwatch_llm_prefix_cache_hit_ratio", { model: "m" });
    };
    expect(await ratio()).toBe(0.9); // first scrape: since the runtime started
    counters = { queries: 2000, hits: 1100 };
    expect(await ratio()).toBe(0.2); // 200 hits of 1000 new queries
    expect(await ratio()).toBe(0.2); // no new queries: the last ratio stands
    counters = { queries: 100, hits: 50 };
    expect(await ratio()).toBe(0.5); // counters went back: the runtime restarted
  });

  it("sums two unlabelled targets serving the same model instead of letting one overwrite the other", async () => {
    const a = await serving(() => "tgi_queue_size 3\ntgi_batch_current_size 4\n");
    const b = await serving(() => "tgi_queue_size 5\ntgi_batch_current_size 6\n");
    const { scraper, scrape } = scraperFor([
      { url: a.url, model: "same" },
      { url: b.url, model: "same" },
    ]);
    await scraper.collect();
    const series = await scrape();
    expect(valueOf(series, "inferwatch_llm_queue_depth", { model: "same" })).toBe(8);
    expect(valueOf(series, "inferwatch_llm_batch_size", { model: "same" })).toBe(10);
  });

  it("keeps a page of an unknown exporter up but exports nothing from it", async () => {
    const other = await serving(() => "node_load1 0.5\n");
    const { scraper, scrape } = scraperFor([{ url: other.url }]);
    await scraper.collect();
    const series = await scrape();
    expect(valueOf(series, "inferwatch_runtime_scrape_up", { target: other.url, runtime: "" })).toBe(1);
    expect(find(series, "inferwatch_llm_queue_depth")).toEqual([]);
  });
});
