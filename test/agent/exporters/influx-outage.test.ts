/**
 * The InfluxDB sink through real outages of a real influxd (the Debian package), with the sink in
 * its own process (test/fixtures/influx-sink-child.ts, the agent's InfluxSink under a load
 * generator) so that it can be killed with SIGKILL:
 * - influxd down for 60 s while 1,000 points a second arrive, then back: every point is in InfluxDB
 *   exactly once (a count query, and every point's value and tag read back);
 * - the sink killed with SIGKILL during an outage and started again on the same spool: still every
 *   point, none twice — what it had acknowledged before the kill is replayed from the spool.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { projectPath } from "../../../common/paths.js";
import { startInfluxd, type InfluxdServer } from "../../fixtures/influxd-server.js";
import { LOAD_MEASUREMENT, type SinkChildSettings } from "../../fixtures/influx-sink-child.js";
import { waitFor } from "../../fixtures/wait.js";

const BASE_MS = Date.UTC(2026, 0, 1);
const RATE = 1_000;

interface ChildStats {
  readonly written: number;
  readonly spooled: number;
  readonly writeErrors: number;
  readonly pending: number;
  readonly dropped: number;
  readonly corrupt: number;
}

interface SinkChild {
  readonly child: ChildProcess;
  /** Every point below this one is durable in the spool. */
  acked(): number;
  stats(): ChildStats | undefined;
  isGenerated(): boolean;
  output(): string;
  readonly exited: Promise<number | null>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function startChild(settings: SinkChildSettings): SinkChild {
  const child = spawn(
    process.execPath,
    [projectPath("dist/test/fixtures/influx-sink-child.js"), JSON.stringify(settings)],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let acked = settings.from;
  let stats: ChildStats | undefined;
  let isGenerated = false;
  let output = "";
  let partial = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (line.startsWith("acked ")) acked = Number(line.slice(6));
      else if (line.startsWith("stats ")) stats = JSON.parse(line.slice(6)) as ChildStats;
      else if (line === "generated") {
        isGenerated = true;
        // Stats printed before the last write may predate it: wait for the next ones.
        stats = undefined;
      }
    }
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
  });
  return {
    child,
    acked: () => acked,
    stats: () => stats,
    isGenerated: () => isGenerated,
    output: () => output,
    exited,
  };
}

async function influxd(): Promise<InfluxdServer> {
  const server = await startInfluxd();
  cleanups.push(() => server.close());
  return server;
}

async function spoolDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "inferwatch-influx-spool-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The count query, and every stored point checked against the generator's definition. */
async function expectEveryPointOnce(server: InfluxdServer, total: number): Promise<void> {
  const counted = await server.query(`SELECT count("value") FROM "${LOAD_MEASUREMENT}"`, "inferwatch");
  expect(counted.results[0]?.series?.[0]?.values[0]?.[1]).toBe(total);
  const rows =
    (await server.query(`SELECT "value", "stream" FROM "${LOAD_MEASUREMENT}"`, "inferwatch")).results[0]?.series?.[0]
      ?.values ?? [];
  expect(rows).toHaveLength(total);
  const seen = new Set<number>();
  for (const [time, value, stream] of rows as [number, number, string][]) {
    expect(value, `the point at ${time} keeps the timestamp it was built with`).toBe(time - BASE_MS);
    expect(stream).toBe(`s${value % 10}`);
    seen.add(value);
  }
  expect(seen.size).toBe(total);
  expect(Math.min(...seen)).toBe(0);
  expect(Math.max(...seen)).toBe(total - 1);
}

/** Waits until the child generated everything and its spool is drained into InfluxDB (stats printed after the last write). */
async function drained(sink: SinkChild, timeoutMs: number): Promise<void> {
  await waitFor(() => sink.isGenerated() && sink.stats()?.pending === 0, timeoutMs).catch((err: unknown) => {
    throw new Error(`the sink did not drain: ${JSON.stringify(sink.stats())}\n${sink.output()}`, { cause: err });
  });
}

describe("InfluxDB sink outages against a real influxd", () => {
  it("influxd down for 60 s at 1,000 points/s, then back: every point is in InfluxDB exactly once", async () => {
    const server = await influxd();
    const total = 68 * RATE;
    const sink = startChild({
      url: server.url,
      spoolDir: await spoolDir(),
      from: 0,
      count: total,
      rate: RATE,
      base: BASE_MS,
    });
    await waitFor(() => (sink.stats()?.written ?? 0) >= 2 * RATE, 15_000);
    await server.stop();
    // Stats lines come every 250 ms: read the count once a line printed after the stop has arrived.
    await sleep(1_000);
    const writtenAtOutage = sink.stats()?.written ?? 0;
    await sleep(59_000);
    const during = sink.stats();
    // Nothing reached InfluxDB while it was down; the points waited in the spool, none dropped.
    expect(during?.written).toBe(writtenAtOutage);
    expect(during?.writeErrors).toBeGreaterThan(5);
    expect(during?.pending).toBeGreaterThan(55 * RATE);
    expect(during?.dropped).toBe(0);
    await server.start();
    await drained(sink, 60_000);
    expect(sink.acked()).toBe(total);
    // A batch whose answer the outage cut off is sent again: written may count it twice, InfluxDB holds it once.
    expect(sink.stats()?.written).toBeGreaterThanOrEqual(total);
    await expectEveryPointOnce(server, total);
    sink.child.kill("SIGTERM");
    expect(await sink.exited).toBe(0);
  }, 180_000);

  it("the sink killed with SIGKILL during an outage and started again: still every point, none twice", async () => {
    const server = await influxd();
    const dir = await spoolDir();
    const total = 15 * RATE;
    const first = startChild({ url: server.url, spoolDir: dir, from: 0, count: total, rate: RATE, base: BASE_MS });
    await waitFor(() => (first.stats()?.written ?? 0) >= RATE, 15_000);
    await server.stop();
    await sleep(5_000);
    first.child.kill("SIGKILL");
    await first.exited;
    // Every point below `acked` was acknowledged by the spool; only those sent before the outage are in InfluxDB.
    const acked = first.acked();
    const sentBefore = first.stats()?.written ?? 0;
    expect(acked - sentBefore).toBeGreaterThan(3 * RATE);
    // The restarted sink replays the spool and goes on generating from the first point not acknowledged
    // (a point whose write the kill interrupted is generated again, with the same timestamp).
    const second = startChild({ url: server.url, spoolDir: dir, from: acked, count: total, rate: RATE, base: BASE_MS });
    await waitFor(() => second.stats() !== undefined, 10_000);
    expect(second.stats()?.pending).toBeGreaterThanOrEqual(acked - sentBefore);
    await sleep(3_000);
    await server.start();
    await drained(second, 60_000);
    await expectEveryPointOnce(server, total);
  }, 120_000);
});
