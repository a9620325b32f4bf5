/**
 * Whether the analyzer keeps answering while a 10,000-GPU / 25,000-replica fleet is planned: an HTTP
 * listener serving a prom-client registry of 200 series (as the analyzer's /metrics does) is polled every 10 ms
 * while the plan runs, once on the planning thread (planner-thread.ts, what the analyzer does) and
 * once on the event loop itself (what it did before), and the answer times are compared.
 */
import { request, type Server } from "node:http";
import { createServer } from "node:http";
import { Gauge, Registry } from "prom-client";
import type { FleetSnapshot } from "../../analyzer/fleet/snapshot.js";
import { createPlannerThread, planConsolidation } from "../../analyzer/recommend/consolidation/index.js";
import { randomFleet } from "../fixtures/fleets.js";
import { percentile, type BenchRow } from "./table.js";

function get(port: number): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    // A fresh connection per request: a kept-alive socket may be closed by the server's keep-alive
    // timer when the event loop was blocked, which would read as a reset, not as a slow answer.
    const req = request({ host: "127.0.0.1", port, path: "/metrics", agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(performance.now() - started));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Polls /metrics every 10 ms until `work` settles; the answer times, ms. */
async function pollDuring(port: number, work: () => Promise<unknown>): Promise<{ latencies: number[]; ms: number }> {
  const latencies: number[] = [];
  let done = false;
  const poller = (async () => {
    while (!done) {
      latencies.push(await get(port).catch(() => Infinity));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  const started = performance.now();
  await work();
  const ms = performance.now() - started;
  done = true;
  await poller;
  return { latencies, ms };
}

export async function benchResponsiveness(): Promise<BenchRow[]> {
  const registry = new Registry();
  const gauge = new Gauge({
    name: "bench_series",
    help: "series to render",
    labelNames: ["gpu"],
    registers: [registry],
  });
  // About what the analyzer's own /metrics holds (per pool and model), so the answer time is the
  // event loop's, not the rendering's.
  for (let g = 0; g < 200; g++) gauge.set({ gpu: String(g) }, g);
  const server: Server = createServer((_, res) => {
    void registry.metrics().then((body) => res.end(body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  const snapshot: FleetSnapshot = randomFleet({ gpus: 10_000, replicas: 25_000, seed: 1 });
  const config = { disruption: { maxMoves: null } };
  const planner = createPlannerThread();
  try {
    await planner.plan(randomFleet({ gpus: 16, replicas: 8, seed: 1 }), config); // start the thread and load HiGHS outside the measurement
    const idle = await pollDuring(port, () => new Promise((resolve) => setTimeout(resolve, 500)));
    const threaded = await pollDuring(port, () => planner.plan(snapshot, config));
    const inline = await pollDuring(port, async () => planConsolidation(snapshot, config));
    const describe = (r: { latencies: number[]; ms: number }): string =>
      `max ${Math.max(...r.latencies).toFixed(0)} ms, p99 ${percentile(r.latencies, 99).toFixed(0)} ms, p50 ${percentile(r.latencies, 50).toFixed(1)} ms over ${r.latencies.length} requests in ${r.ms.toFixed(0)} ms`;
    const worst = Math.max(...threaded.latencies);
    return [
      { name: "/metrics answer time, nothing planning", value: describe(idle) },
      {
        name: "/metrics answer time while a 10,000-GPU / 25,000-replica plan runs on the planning thread (as the analyzer does)",
        value: describe(threaded),
        target: "every answer ≤ 50 ms",
        isMet: worst <= 50,
      },
      { name: "… while the same plan runs on the event loop (before)", value: describe(inline) },
    ];
  } finally {
    await planner.shutdown();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
