/**
 * Faults under the InfluxDB sink's disk spool, against a real influxd:
 * - disk full: the real agent with its spool on a 64 KiB tmpfs (mounted in a private user and mount
 *   namespace, `unshare -rm`, so no root is needed) while InfluxDB is down. The disk answers ENOSPC;
 *   the spool keeps the newest points by deleting its oldest segments, counts them
 *   (`reason="disk_full"`) and logs ENOSPC by name, the agent keeps sampling and serving, and once
 *   InfluxDB is back the spool drains and stops dropping (issue: hardening, reproduction 10).
 * - SIGTERM during a flush: the sink (test/fixtures/influx-sink-child.ts, the agent's InfluxSink under
 *   a load generator) stopped while a write is in flight that InfluxDB has stored but not yet
 *   acknowledged. It exits 0, leaves no torn record, and after a restart on the same spool every
 *   point is in InfluxDB exactly once (the unacknowledged batch is sent again and overwrites itself).
 * (Outages and SIGKILL are test/agent/exporters/influx-outage.test.ts; the bound is the spool's own test.)
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { METRICS } from "../../common/conventions.js";
import { projectPath } from "../../common/paths.js";
import { parseExposition, valueOf, type Series } from "../fixtures/exposition.js";
import { startInfluxd, type InfluxdServer } from "../fixtures/influxd-server.js";
import { LOAD_MEASUREMENT, type SinkChildSettings } from "../fixtures/influx-sink-child.js";
import { gpu, scenarioFile } from "../fixtures/nvml-scenario.js";
import { waitFor } from "../fixtures/wait.js";
import { buildFakeNvml } from "../setup/build-fake-nvml.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function influxd(): Promise<InfluxdServer> {
  const server = await startInfluxd();
  cleanups.push(() => server.close());
  return server;
}

function track(child: ChildProcess): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
  });
  return exited;
}

/** Whether this machine lets an unprivileged process mount a tmpfs in its own namespaces. */
function canMountPrivateTmpfs(): boolean {
  const probe = spawnSync(
    "unshare",
    [
      "-rm",
      "sh",
      "-c",
      'd=$(mktemp -d) && mount -t tmpfs -o size=16k tmpfs "$d" && umount "$d"; s=$?; rmdir "$d"; exit $s',
    ],
    { encoding: "utf8" },
  );
  return probe.status === 0;
}

describe("the spool's disk full", () => {
  it("keeps the newest points by deleting the oldest segments, names ENOSPC, keeps the agent sampling and serving, and stops dropping once InfluxDB drains it", async () => {
    // Never skipped: a machine that cannot mount a private tmpfs fails here, saying why.
    expect(
      canMountPrivateTmpfs(),
      "this test needs `unshare -rm` and a tmpfs mount in its own namespaces (root, or unprivileged user namespaces)",
    ).toBe(true);
    const [libs, server, spoolDir] = await Promise.all([buildFakeNvml(), influxd(), tempDir("inferwatch-full-spool-")]);
    await server.stop();
    const nvml = await scenarioFile({ gpus: [gpu(0), gpu(1), gpu(2), gpu(3)] });
    const args = [
      projectPath("dist/cli/main.js"),
      "agent",
      "--metrics-addr",
      "127.0.0.1:0",
      "--otlp",
      "false",
      "--pods",
      "false",
      "--host-metrics",
      "false",
      "--nvml-library",
      libs.full,
      "--interval",
      "100ms",
      "--influx-url",
      server.url,
      "--influx-flush-interval",
      "100ms",
      "--influx-spool-dir",
      join(spoolDir, "spool"),
      "--influx-spool-max-bytes",
      "2MiB",
    ];
    // A 512 KiB filesystem over the spool directory, seen only by the agent: full long before the
    // spool's own 2 MiB bound, yet larger than one 256 KiB segment (bound ÷ 8), as a disk that other
    // files filled would be; a disk smaller than one segment fills again whenever the open segment grows.
    // At 100 ms the GPU rounds reach the sink in batches of ten, about 140 KB at once for four GPUs:
    // a disk that cannot hold one batch drops part of every batch however fast InfluxDB drains it.
    const child = spawn(
      "unshare",
      [
        "-rm",
        "sh",
        "-c",
        'mount -t tmpfs -o size=512k tmpfs "$1" && shift && exec "$@"',
        "sh",
        spoolDir,
        process.execPath,
        ...args,
      ],
      {
        env: { PATH: process.env["PATH"] ?? "", NODE_NAME: "full-node", FAKE_NVML_SCENARIO: nvml.path },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    const exited = track(child);
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    let url: string | undefined;
    await waitFor(
      () =>
        (url = /"msg":"listening".*?"address":"([^"]+)"|"address":"([^"]+)".*?"msg":"listening"/
          .exec(stderr)
          ?.slice(1)
          .find(Boolean)) !== undefined,
      15_000,
    );
    const metricsUrl = `http://${url}`;
    let series: Series[] = [];
    const scrape = async (): Promise<void> => {
      series = parseExposition((await (await fetch(`${metricsUrl}/metrics`)).text()).replace(/ # \{.*$/gm, ""));
    };
    const dropped = (reason: string): number => valueOf(series, METRICS.influxPointsDropped.name, { reason }) ?? 0;
    const spooled = (): number => valueOf(series, METRICS.influxPointsSpooled.name) ?? 0;
    const written = (): number => valueOf(series, METRICS.influxPointsWritten.name) ?? 0;

    const pending = (): number => valueOf(series, METRICS.influxSpoolPoints.name) ?? 0;

    // InfluxDB is down: the spool grows until the filesystem is full; then the oldest segments go, whole, and the newest points are still spooled.
    await waitFor(() => dropped("disk_full") > 0, 30_000, scrape);
    const droppedAtFirst = dropped("disk_full");
    const spooledWhenFull = spooled();
    await waitFor(() => dropped("disk_full") > droppedAtFirst && spooled() > spooledWhenFull + 100, 20_000, scrape);
    expect(dropped("spool_error")).toBe(0);
    expect(stderr).toMatch(
      /influx spool: disk full \(ENOSPC\); deleted the oldest \d+ spooled points to keep the newest/,
    );
    expect(stderr).not.toContain("short write");
    // The agent goes on sampling and serving.
    const ageBefore = valueOf(series, METRICS.sampleAge.name, { collector: "gpu" });
    expect(ageBefore).toBeLessThan(2);
    expect(valueOf(series, METRICS.gpuUp.name, { gpu: "3" })).toBe(1);
    expect((await fetch(`${metricsUrl}/healthz`)).status).toBe(200);
    expect(child.exitCode).toBeNull();

    // InfluxDB is back: the backlog drains, the segments go, and points are spooled and written again without loss.
    await server.start();
    await waitFor(() => written() > 0 && pending() < 500, 30_000, scrape);
    const droppedAfterRecovery = dropped("disk_full");
    const writtenAfter = written();
    await waitFor(() => written() > writtenAfter + 100, 30_000, scrape);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await scrape();
    expect(dropped("disk_full")).toBe(droppedAfterRecovery);
    expect(dropped("spool_error")).toBe(0);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  }, 120_000);
});

describe("SIGTERM during a flush", () => {
  const BASE_MS = Date.UTC(2026, 1, 1);
  const TOTAL = 3_000;

  /** Relays HTTP to influxd; each /write reaches influxd at once, and its answer is held back `holdMs` (writesHeld: answers held now). */
  async function slowAckRelay(target: string, holdMs: number): Promise<{ url: string; writesHeld: () => number }> {
    let holding = 0;
    const upstream = new URL(target);
    const relay: Server = createServer((incoming, outgoing) => {
      const isWrite = incoming.url?.startsWith("/write") ?? false;
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: incoming.method,
          path: incoming.url,
          headers: incoming.headers,
        },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on("data", (chunk: Buffer) => chunks.push(chunk));
          answer.on("end", () => {
            if (isWrite) holding++;
            setTimeout(
              () => {
                if (isWrite) holding--;
                if (outgoing.destroyed) return;
                outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
                outgoing.end(Buffer.concat(chunks));
              },
              isWrite ? holdMs : 0,
            );
          });
        },
      );
      forward.on("error", () => outgoing.destroy());
      incoming.pipe(forward);
    });
    await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
    cleanups.push(async () => {
      relay.closeAllConnections();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    });
    return { url: `http://127.0.0.1:${(relay.address() as AddressInfo).port}`, writesHeld: () => holding };
  }

  function startSink(settings: SinkChildSettings): {
    child: ChildProcess;
    exited: Promise<number | null>;
    acked: () => number;
    stats: () => Record<string, number> | undefined;
    isGenerated: () => boolean;
  } {
    const child = spawn(
      process.execPath,
      [projectPath("dist/test/fixtures/influx-sink-child.js"), JSON.stringify(settings)],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let acked = settings.from;
    let stats: Record<string, number> | undefined;
    let isGenerated = false;
    let partial = "";
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        if (line.startsWith("acked ")) acked = Number(line.slice(6));
        else if (line.startsWith("stats ")) stats = JSON.parse(line.slice(6)) as Record<string, number>;
        else if (line === "generated") {
          isGenerated = true;
          stats = undefined;
        }
      }
    });
    child.stderr?.resume();
    return { child, exited: track(child), acked: () => acked, stats: () => stats, isGenerated: () => isGenerated };
  }

  it("exits 0 with a write stored but unacknowledged, and after a restart every point is in InfluxDB once", async () => {
    const server = await influxd();
    const dir = await tempDir("inferwatch-sigterm-spool-");
    // Held past the sink's 2 s write timeout: the batch is in InfluxDB, the sink never hears so.
    const relay = await slowAckRelay(server.url, 3_000);
    const first = startSink({
      url: relay.url,
      spoolDir: dir,
      from: 0,
      count: TOTAL,
      rate: 1_000,
      base: BASE_MS,
      flushInterval: "100ms",
    });
    // A write has reached InfluxDB and waits for its answer: stop the sink now.
    await waitFor(() => relay.writesHeld() > 0 && first.acked() > 500, 20_000);
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    const acked = first.acked();
    const stored = (await server.query(`SELECT count("value") FROM "${LOAD_MEASUREMENT}"`, "inferwatch")).results[0]
      ?.series?.[0]?.values[0]?.[1] as number | undefined;
    expect(stored ?? 0).toBeGreaterThan(0);

    // Restarted on the same spool, straight to InfluxDB: no torn record, the backlog replays, the rest is generated.
    const second = startSink({
      url: server.url,
      spoolDir: dir,
      from: acked,
      count: TOTAL,
      rate: 1_000,
      base: BASE_MS,
      flushInterval: "100ms",
    });
    await waitFor(() => second.stats() !== undefined, 10_000);
    expect(second.stats()?.["corrupt"]).toBe(0);
    await waitFor(() => second.isGenerated() && second.stats()?.["pending"] === 0, 30_000);
    const counted = await server.query(`SELECT count("value") FROM "${LOAD_MEASUREMENT}"`, "inferwatch");
    expect(counted.results[0]?.series?.[0]?.values[0]?.[1]).toBe(TOTAL);
    const rows =
      (await server.query(`SELECT "value" FROM "${LOAD_MEASUREMENT}"`, "inferwatch")).results[0]?.series?.[0]?.values ??
      [];
    const values = new Set(rows.map((row) => row[1] as number));
    expect(values.size).toBe(TOTAL);
    expect(Math.min(...values)).toBe(0);
    expect(Math.max(...values)).toBe(TOTAL - 1);
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
  }, 90_000);
});
