/**
 * The InfluxDB sink in-process against a real influxd (or none): a batch InfluxDB refuses for good
 * is dropped and counted without blocking the ones after it; past the spool bound the oldest points
 * go and are counted; the sink's metrics; credentials errors that never show the secret.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import type { InfluxPoint } from "../../../agent/exporters/influx-points.js";
import { InfluxSink, readCredentials } from "../../../agent/exporters/influx-sink.js";
import { influxConfigSchema } from "../../../common/config/schema.js";
import { METRICS } from "../../../common/conventions.js";
import { silentLogger } from "../../../common/log.js";
import { parseExposition, valueOf } from "../../fixtures/exposition.js";
import { startInfluxd, type InfluxdServer } from "../../fixtures/influxd-server.js";
import { waitFor } from "../../fixtures/wait.js";

const T0 = Date.UTC(2026, 0, 1);
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "inferwatch-influx-sink-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function sinkFor(url: string, settings: Record<string, unknown> = {}): Promise<InfluxSink> {
  const config = influxConfigSchema.parse({
    url,
    spoolDir: join(await tempDir(), "spool"),
    flushInterval: "100ms",
    timeout: "2s",
    ...settings,
  });
  const sink = new InfluxSink({ config, node: "n1", log: silentLogger() });
  cleanups.push(() => sink.shutdown());
  return sink;
}

const points = (measurement: string, from: number, count: number): InfluxPoint[] =>
  Array.from({ length: count }, (_, i) => ({
    measurement,
    tags: { gpu: String((from + i) % 4) },
    value: from + i,
    timestampMs: T0 + from + i,
  }));

describe("InfluxDB sink", () => {
  it("drops and counts a batch InfluxDB refuses for good (a field type conflict) and goes on with the next", async () => {
    const influxd: InfluxdServer = await startInfluxd();
    cleanups.push(() => influxd.close());
    await influxd.query(`CREATE DATABASE "inferwatch"`);
    // `value` is an integer field in this measurement: the sink's float points conflict with it.
    expect(
      (
        await fetch(`${influxd.url}/write?db=inferwatch&precision=ms`, {
          method: "POST",
          body: `conflict,gpu=0 value=1i ${T0 - 1}`,
        })
      ).status,
    ).toBe(204);
    const sink = await sinkFor(influxd.url, { batchSize: 10 });
    await sink.start();
    await sink.write(points("conflict", 0, 10));
    await sink.write(points("good", 0, 25));
    await waitFor(() => sink.spoolStats().pendingPoints === 0, 15_000);
    expect(sink.counts.dropped.rejected).toBe(10);
    expect(sink.counts.written).toBe(25);
    const counted = await influxd.query(`SELECT count("value") FROM "good"`, "inferwatch");
    expect(counted.results[0]?.series?.[0]?.values[0]?.[1]).toBe(25);
  }, 60_000);

  it("while InfluxDB is unreachable, keeps the newest points within the spool bound and counts the oldest it drops", async () => {
    const sink = await sinkFor("http://127.0.0.1:1", { spoolMaxBytes: "16KiB", batchSize: 50 });
    await sink.start();
    for (let from = 0; from < 2_000; from += 50) await sink.write(points("m", from, 50));
    await waitFor(() => sink.counts.writeErrors > 0, 5_000);
    const stats = sink.spoolStats();
    expect(stats.bytes).toBeLessThanOrEqual(16 * 1024);
    expect(stats.droppedPoints).toBeGreaterThan(0);
    expect(stats.pendingPoints + stats.droppedPoints).toBe(2_000);
    expect(sink.counts.spooled).toBe(2_000);
    expect(sink.counts.written).toBe(0);
    const registry = new Registry();
    sink.registerMetrics(registry, (metric, err) => {
      throw new Error(`${metric}: ${String(err)}`);
    });
    const series = parseExposition(await registry.metrics());
    expect(valueOf(series, METRICS.influxPointsDropped.name, { node: "n1", reason: "spool_full" })).toBe(
      stats.droppedPoints,
    );
    expect(valueOf(series, METRICS.influxSpoolPoints.name)).toBe(stats.pendingPoints);
    expect(valueOf(series, METRICS.influxSpoolBytes.name)).toBe(stats.bytes);
    expect(valueOf(series, METRICS.influxPointsSpooled.name)).toBe(2_000);
    expect(valueOf(series, METRICS.influxWriteErrors.name)).toBeGreaterThan(0);
  });

  it("shutdown is safe before start and twice", async () => {
    const sink = await sinkFor("http://127.0.0.1:1");
    await sink.shutdown();
    await sink.start();
    await sink.shutdown();
    await sink.shutdown();
    expect(sink.spoolStats().pendingPoints).toBe(0);
  });

  it.each([
    ["a missing file", null, /cannot read the credentials file .*ENOENT/],
    ["a line without a colon", "justapassword\n", /must hold username:password/],
  ])("a credentials file with %s is a clear error that never shows its content", async (_name, content, message) => {
    const path = join(await tempDir(), "credentials");
    if (content !== null) await writeFile(path, content);
    const failure = await readCredentials(path).then(
      () => null,
      (err: unknown) => err as Error,
    );
    expect(failure?.message).toMatch(message);
    expect(failure?.message).not.toContain("justapassword");
  });

  it("reads username and password, the password keeping any colons", async () => {
    const path = join(await tempDir(), "credentials");
    await writeFile(path, "writer:pa:ss\nignored\n");
    expect(await readCredentials(path)).toEqual({ username: "writer", password: "pa:ss" });
  });

  it("the configuration refuses a URL carrying credentials", () => {
    expect(influxConfigSchema.safeParse({ url: "http://u:p@influx:8086" }).success).toBe(false);
    expect(influxConfigSchema.safeParse({ url: "influx:8086" }).success).toBe(false);
    expect(influxConfigSchema.parse({}).url).toBe("");
  });
});
