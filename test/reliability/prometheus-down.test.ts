/**
 * Prometheus down under the analyzer: a real Prometheus behind a TCP relay the test
 * controls. While it is stopped, the analyzer keeps serving the answers of its last successful
 * evaluation, marked stale with the error and their time, and says so on /metrics; when a
 * Prometheus answers again the next evaluation clears the mark. (The same contract against a store
 * double is in test/analyzer/service.test.ts.)
 */
import { connect, createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, expect, it } from "vitest";
import { startAnalyzer, type Analyzer } from "../../analyzer/service.js";
import { DEFAULT_SLO_CONFIG } from "../../common/slo/spec.js";
import { createPrometheusStore } from "../../analyzer/stores/prometheus-store.js";
import { analyzerConfigSchema } from "../../common/config/schema.js";
import { silentLogger } from "../../common/log.js";
import { METRICS } from "../../common/conventions.js";
import { parseExposition, valueOf } from "../fixtures/exposition.js";
import { startPrometheus, type PrometheusServer } from "../fixtures/prometheus-server.js";

/** Relays every connection to whatever Prometheus is current; with none, the connection is cut. */
class Relay {
  target: PrometheusServer | undefined;
  private readonly sockets = new Set<Socket>();
  readonly server: Server = createServer((client) => {
    this.sockets.add(client);
    client.on("close", () => this.sockets.delete(client));
    client.on("error", () => undefined);
    if (!this.target) {
      client.destroy();
      return;
    }
    const url = new URL(this.target.url);
    const upstream = connect(Number(url.port), url.hostname);
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
    client.pipe(upstream).pipe(client);
  });

  /** Cuts the connections open now (keep-alive ones to a stopped Prometheus). */
  cut(): void {
    for (const socket of this.sockets) socket.destroy();
  }
}

const relay = new Relay();
let analyzer: Analyzer | undefined;

afterAll(async () => {
  await analyzer?.shutdown();
  await relay.target?.stop();
  relay.cut();
  await new Promise<void>((resolve) => relay.server.close(() => resolve()));
});

interface SlosBody {
  stale: boolean;
  error: string | null;
  evaluatedAt: string | null;
  slos: unknown[];
}

it("serves the last answers marked stale while Prometheus is down, and fresh ones once it is back", async () => {
  relay.target = await startPrometheus();
  await new Promise<void>((resolve) => relay.server.listen(0, "127.0.0.1", resolve));
  const relayUrl = `http://127.0.0.1:${(relay.server.address() as AddressInfo).port}`;
  const config = analyzerConfigSchema.parse({
    listen: "127.0.0.1:0",
    source: `prometheus=${relayUrl}`,
    interval: "1h",
  });
  let nowMs = Date.now();
  analyzer = await startAnalyzer(
    config,
    DEFAULT_SLO_CONFIG,
    createPrometheusStore({ url: relayUrl, timeoutMs: 2_000 }),
    silentLogger(),
    { now: () => nowMs },
  );
  const url = `http://127.0.0.1:${analyzer.address.port}`;
  const slos = async (): Promise<SlosBody> => (await (await fetch(`${url}/api/v1/slos`)).json()) as SlosBody;
  const stale = async (): Promise<number | undefined> =>
    valueOf(parseExposition(await (await fetch(`${url}/metrics`)).text()), METRICS.analyzerStale.name);

  await analyzer.evaluate();
  const fresh = await slos();
  expect(fresh).toMatchObject({ stale: false, error: null, evaluatedAt: new Date(nowMs).toISOString() });
  expect(fresh.slos.length).toBeGreaterThan(0);
  expect(await stale()).toBe(0);

  // Prometheus goes away.
  const first = relay.target;
  relay.target = undefined;
  await first.stop();
  relay.cut();
  const lastGoodMs = nowMs;
  nowMs += 60_000;
  await analyzer.evaluate();
  const during = await slos();
  expect(during.stale).toBe(true);
  expect(during.error).toEqual(expect.any(String));
  expect(during.evaluatedAt).toBe(new Date(lastGoodMs).toISOString());
  expect(during.slos).toEqual(fresh.slos);
  expect(await stale()).toBe(1);
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
  expect((await fetch(`${url}/readyz`)).status).toBe(200);

  // A Prometheus answers again.
  relay.target = await startPrometheus();
  nowMs += 60_000;
  await analyzer.evaluate();
  const after = await slos();
  expect(after).toMatchObject({ stale: false, error: null, evaluatedAt: new Date(nowMs).toISOString() });
  expect(await stale()).toBe(0);
}, 120_000);
