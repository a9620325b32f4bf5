/**
 * The sink's shutdown must not wait out the sender's idle wait (agent.influx.flushInterval) or its
 * retry backoff: a SIGTERM would otherwise hold the agent for up to a whole interval.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { InfluxSink } from "../../../agent/exporters/influx-sink.js";
import { influxConfigSchema } from "../../../common/config/schema.js";
import { silentLogger } from "../../../common/log.js";

let dir: string | undefined;
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

it("shuts down with an idle sender and an hour-long flush interval without waiting it out", async () => {
  dir = await mkdtemp(join(tmpdir(), "inferwatch-influx-shutdown-"));
  const config = influxConfigSchema.parse({
    url: "http://127.0.0.1:1",
    spoolDir: join(dir, "spool"),
    flushInterval: "1h",
    timeout: "1s",
  });
  const sink = new InfluxSink({ config, node: "n1", log: silentLogger() });
  await sink.start();
  await sink.shutdown(); // without the fix this waits the whole hour: the test times out
  expect(sink.spoolStats().pendingPoints).toBe(0);
}, 10_000);
