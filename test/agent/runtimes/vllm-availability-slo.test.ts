/**
 * A vLLM model whose requests fail burns its availability SLO, with no tracing at all (vLLM's
 * default): the agent scrapes vLLM's own `vllm:request_success_total{finished_reason}` from a
 * real HTTP server, its request series carry the failures into `inferwatch_llm_requests_total`,
 * the analyzer's memory store ingests the agent's /metrics text as it would pull it, and the
 * analyzer's SLO evaluation (analyzer/slo/evaluate.ts) reads the burn.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import { RuntimeScraper } from "../../../agent/collectors/runtimes/runtime-scraper.js";
import { registerLlmMetrics } from "../../../agent/exporters/llm-metrics.js";
import { bucketsWithThresholds, LlmSeriesStore } from "../../../agent/processors/llm-series-store.js";
import { evaluateSlos } from "../../../analyzer/slo/evaluate.js";
import { DEFAULT_SLO_CONFIG } from "../../../common/slo/spec.js";
import { MemoryStore } from "../../../analyzer/stores/memory-store.js";
import { agentConfigSchema } from "../../../common/config/schema.js";
import { silentLogger } from "../../../common/log.js";

const T0 = 1_750_000_000_000;
const MINUTE = 60_000;
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A vLLM /metrics page whose request counters the test moves, two models on one server. */
async function vllmServer(counts: Record<string, { stop: number; abort: number; error: number }>): Promise<string> {
  const server: Server = createServer((_, response) => {
    const lines = ["# TYPE vllm:request_success_total counter"];
    for (const [model, c] of Object.entries(counts)) {
      for (const reason of ["stop", "length", "abort", "error", "repetition"] as const) {
        const value = reason === "stop" || reason === "abort" || reason === "error" ? c[reason] : 0;
        lines.push(
          `vllm:request_success_total{engine="0",finished_reason="${reason}",model_name="${model}"} ${value}.0`,
        );
      }
    }
    response.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
    response.end(`${lines.join("\n")}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
}

describe("vLLM failures from request_success_total", () => {
  it("burn the failing model's availability SLO and leave a healthy one alone", async () => {
    const counts = {
      "llama-3.1-8b": { stop: 1000, abort: 0, error: 0 },
      "qwen2.5-14b": { stop: 1000, abort: 0, error: 0 },
    };
    const url = await vllmServer(counts);
    const config = agentConfigSchema.parse({
      runtimes: { targets: [{ url, namespace: "serving", pod: "vllm-0" }], timeout: "2s", interval: "15s" },
    });
    let now = T0;
    const store = new LlmSeriesStore({
      latencyBuckets: bucketsWithThresholds(config.spans.buckets, config.spans.sloThresholds),
      tpotBuckets: config.spans.tpotBuckets,
      maxSeries: config.spans.maxSeriesPerMetric,
      ttlMs: config.spans.seriesTtl,
      now: () => now,
    });
    const scraper = new RuntimeScraper({
      config: config.runtimes,
      tiers: config.spans,
      log: silentLogger(),
      now: () => now,
      requestCounts: (labels, increments, atMs) => store.recordRuntimeCounts(labels, increments, atMs),
    });
    cleanups.push(() => scraper.shutdown());
    const registry = new Registry();
    registerLlmMetrics(
      registry,
      "gpu-node-1",
      store,
      () => ({}),
      (metric, err) => {
        throw new Error(`fill of ${metric} failed`, { cause: err });
      },
    );
    const analyzerStore = new MemoryStore();

    // An hour, scraped and pulled every minute: llama fails 20 % of its requests (abort and error), qwen none.
    for (let minute = 0; minute <= 60; minute++) {
      now = T0 + minute * MINUTE;
      if (minute > 0) {
        counts["llama-3.1-8b"].stop += 80;
        counts["llama-3.1-8b"].abort += 5;
        counts["llama-3.1-8b"].error += 15;
        counts["qwen2.5-14b"].stop += 100;
      }
      expect((await scraper.collect()).errors).toEqual([]);
      analyzerStore.ingestExposition(await registry.metrics(), now);
    }

    const evaluation = await evaluateSlos(analyzerStore, DEFAULT_SLO_CONFIG, now);
    const availability = evaluation.slos.find((slo) => slo.id === "7b-availability");
    expect(availability?.models).toEqual(["llama-3.1-8b"]);
    // 1,200 of 6,000 requests failed in the hour: a 20 % error rate against a 1 % budget, a burn rate of 20.
    expect(availability?.burn.state).toBe("firing");
    expect(availability?.burn.severity).toBe("page");
    const hour = availability?.burn.windows.find((window) => window.longMs === 3_600_000)?.long;
    expect(hour).toMatchObject({ state: "measured", bad: 1200, total: 6000 });
    expect(hour?.state === "measured" ? hour.burnRate : undefined).toBeCloseTo(20, 6);
    expect(availability?.budget.remaining).toBeLessThan(0);

    const healthy = evaluation.slos.find((slo) => slo.id === "13b-availability");
    expect(healthy?.models).toEqual(["qwen2.5-14b"]);
    expect(healthy?.burn.state).toBe("ok");
    expect(healthy?.budget).toMatchObject({ state: "measured", bad: 0, total: 6000, remaining: 1 });
  });
});
