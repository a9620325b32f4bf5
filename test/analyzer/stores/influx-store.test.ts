/**
 * The InfluxDB store's own cases against a real influxd (the shared answers are in the store
 * contract test): label matching and escaping, the sink's layout with a measurement prefix and a
 * retention policy, errors that name the query but never the credentials, and the documented
 * downsampling statements, run as documented.
 */
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createInfluxStore,
  parseInfluxSource,
  quoteString,
  renderWhere,
} from "../../../analyzer/stores/influx-store.js";
import { createStore } from "../../../analyzer/stores/create-store.js";
import { MemoryStore } from "../../../analyzer/stores/memory-store.js";
import { configSchema } from "../../../common/config/schema.js";
import { silentLogger } from "../../../common/log.js";
import { projectPath } from "../../../common/paths.js";
import { startInfluxd, type FixturePoint, type InfluxdServer } from "../../fixtures/influxd-server.js";

const MIN = 60_000;
/** Three days back on a whole hour: inside every retention policy docs/influxdb-and-report.md creates. */
const T0 = Math.floor(Date.now() / (60 * MIN)) * 60 * MIN - 72 * 60 * MIN;
let influxd: InfluxdServer;

/** A counter sampled each minute for an hour: +10 a minute, reset to 0 at minute 30. */
function counter(measurement: string, tags: Record<string, string>): FixturePoint[] {
  let value = 0;
  return Array.from({ length: 61 }, (_, m) => {
    value = m === 30 ? 0 : value + (m === 0 ? 0 : 10);
    return { measurement, tags, value, timestampMs: T0 + m * MIN };
  });
}

const TRICKY = `it's "odd" \\ model`;

beforeAll(async () => {
  influxd = await startInfluxd();
  await influxd.write("inferwatch", [
    ...counter("inferwatch_test_requests_total", { model: "a", node: "n1" }),
    ...counter("inferwatch_test_requests_total", { model: "a", node: "n2" }),
    ...counter("inferwatch_test_requests_total", { model: TRICKY, node: "n1" }),
    ...counter("inferwatch_test_requests_total", { model: "b" }),
  ]);
}, 60_000);

afterAll(async () => {
  await influxd?.close();
});

function feedMemory(points: readonly FixturePoint[]): MemoryStore {
  const memory = new MemoryStore();
  for (const p of [...points].sort((a, b) => a.timestampMs - b.timestampMs))
    memory.ingest(p.measurement, p.tags, p.value, p.timestampMs);
  return memory;
}

describe("InfluxQL rendering", () => {
  it.each([
    ["plain", "a", "'a'"],
    ["a quote", "it's", "'it\\'s'"],
    ["a backslash", "a\\b", "'a\\\\b'"],
  ])("escapes a tag value with %s", (_name, value, literal) => {
    expect(quoteString(value)).toBe(literal);
  });

  it("bounds time in whole milliseconds, inclusive at both ends by default", () => {
    expect(renderWhere(1000.4, 2000.6, { model: "x" })).toBe(`time >= 1001ms AND time <= 2000ms AND "model" = 'x'`);
    expect(renderWhere(1000, 2000, {}, true)).toBe("time > 1000ms AND time <= 2000ms");
  });

  it("reads database, retention policy, prefix and credentials from the source URL", () => {
    expect(parseInfluxSource("http://u:p%40ss@db.example:8086/influx/?db=metrics&rp=rp_5m&prefix=x_")).toEqual({
      base: "http://db.example:8086/influx",
      database: "metrics",
      retentionPolicy: "rp_5m",
      prefix: "x_",
      username: "u",
      password: "p@ss",
    });
    expect(parseInfluxSource("http://db:8086")).toEqual({
      base: "http://db:8086",
      database: "inferwatch",
      retentionPolicy: "",
      prefix: "",
    });
    expect(() => parseInfluxSource("ftp://x")).toThrow(/http\(s\)/);
    expect(() => parseInfluxSource("http://secret:pw@")).toThrow(/not a URL/);
    expect(() => parseInfluxSource("http://secret:pw@")).not.toThrow(/secret|pw/);
  });
});

describe("the analyzer's source setting", () => {
  it("influx=<url> selects the InfluxDB store, which reads the database and policy the URL names", async () => {
    const config = configSchema.parse({ analyzer: { source: `influx=${influxd.url}?db=inferwatch&rp=autogen` } });
    const setup = await createStore(config.analyzer, silentLogger());
    expect(setup.store.kind).toBe("influx");
    expect(setup.components).toEqual([]);
    expect(
      await setup.store.latest({
        metric: "inferwatch_test_requests_total",
        atMs: T0 + 60 * MIN,
        match: { model: "b" },
      }),
    ).toEqual([{ labels: { model: "b" }, value: 300 }]);
  });

  it("an unknown kind is refused by the configuration", () => {
    expect(configSchema.safeParse({ analyzer: { source: "influxdb=http://x" } }).success).toBe(false);
  });
});

describe("the InfluxDB store on a real influxd", () => {
  it("gives the memory store's answers for increase (with a counter reset), latest and range, per label and summed", async () => {
    const store = createInfluxStore({ url: `${influxd.url}?db=inferwatch`, timeoutMs: 10_000 });
    const memory = feedMemory([
      ...counter("inferwatch_test_requests_total", { model: "a", node: "n1" }),
      ...counter("inferwatch_test_requests_total", { model: "a", node: "n2" }),
      ...counter("inferwatch_test_requests_total", { model: TRICKY, node: "n1" }),
      ...counter("inferwatch_test_requests_total", { model: "b" }),
    ]);
    for (const atMs of [T0 + 20 * MIN, T0 + 45 * MIN, T0 + 60 * MIN + 30_000]) {
      for (const by of [["model"], [], ["model", "node"]]) {
        const query = { metric: "inferwatch_test_requests_total", windowMs: 20 * MIN, atMs, by };
        expect(await store.increase(query), `${atMs} by ${by.join(",")}`).toEqual(await memory.increase(query));
      }
    }
    // Across the reset at minute 30, counted as Prometheus counts it: 9 × 10 up to minute 29, the
    // reset to 0 counts as 0, then 10 × 10 by minute 40.
    expect(
      await store.increase({
        metric: "inferwatch_test_requests_total",
        windowMs: 20 * MIN,
        atMs: T0 + 40 * MIN,
        by: [],
        match: { model: "a", node: "n1" },
      }),
    ).toEqual([{ labels: {}, value: 190 }]);
    const latest = { metric: "inferwatch_test_requests_total", atMs: T0 + 62 * MIN, match: { model: TRICKY } };
    expect(await store.latest(latest)).toEqual([{ labels: { model: TRICKY, node: "n1" }, value: 300 }]);
    expect(await store.latest(latest)).toEqual(await memory.latest(latest));
    const range = {
      metric: "inferwatch_test_requests_total",
      startMs: T0 - 5 * MIN,
      endMs: T0 + 70 * MIN,
      stepMs: 2.5 * MIN,
    };
    expect(await store.range(range)).toEqual(await memory.range(range));
    expect(store.queryCount).toBe(9 + 1 + 2 + 1);
  });

  it("an empty match value selects the series without that label, as in PromQL", async () => {
    const store = createInfluxStore({ url: `${influxd.url}?db=inferwatch`, timeoutMs: 10_000 });
    const rows = await store.latest({
      metric: "inferwatch_test_requests_total",
      atMs: T0 + 60 * MIN,
      match: { node: "" },
    });
    expect(rows).toEqual([{ labels: { model: "b" }, value: 300 }]);
  });

  it("reads a measurement prefix and a retention policy named in the source", async () => {
    await influxd.query(`CREATE DATABASE "other"`);
    await influxd.query(`CREATE RETENTION POLICY "rp_long" ON "other" DURATION 0s REPLICATION 1`);
    const body = `x_inferwatch_test_requests_total,model=z value=5 ${T0}\nx_inferwatch_test_requests_total,model=z value=9 ${T0 + MIN}`;
    const response = await fetch(`${influxd.url}/write?db=other&rp=rp_long&precision=ms`, { method: "POST", body });
    expect(response.status).toBe(204);
    const store = createInfluxStore({ url: `${influxd.url}?db=other&rp=rp_long&prefix=x_`, timeoutMs: 10_000 });
    expect(await store.latest({ metric: "inferwatch_test_requests_total", atMs: T0 + MIN })).toEqual([
      { labels: { model: "z" }, value: 9 },
    ]);
    // The default retention policy of "other" holds nothing.
    const defaultRp = createInfluxStore({ url: `${influxd.url}?db=other&prefix=x_`, timeoutMs: 10_000 });
    expect(await defaultRp.latest({ metric: "inferwatch_test_requests_total", atMs: T0 + MIN })).toEqual([]);
  });

  it("an unknown metric or database is no data, not an error; an unreachable server is an error naming the query without the credentials", async () => {
    const store = createInfluxStore({ url: `${influxd.url}?db=inferwatch`, timeoutMs: 10_000 });
    expect(await store.increase({ metric: "nope_total", windowMs: MIN, atMs: T0, by: [] })).toEqual([]);
    const down = createInfluxStore({ url: "http://admin:hunter2@127.0.0.1:1/?db=x", timeoutMs: 2_000 });
    const failure = await down.latest({ metric: "inferwatch_test_requests_total", atMs: T0 }).then(
      () => null,
      (err: unknown) => err as Error,
    );
    expect(failure?.message).toMatch(
      /influx http:\/\/127\.0\.0\.1:1 .*SELECT last\("value"\) FROM "inferwatch_test_requests_total"/,
    );
    expect(failure?.message).not.toMatch(/hunter2|admin/);
  });

  it("the documented downsampling statements (docs/influxdb-and-report.md) run as documented, and the 5-minute policy answers like the raw data at 5-minute points", async () => {
    const readme = await readFile(projectPath("docs/influxdb-and-report.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Long history in InfluxDB"));
    const sql = /```sql\n([\s\S]*?)```/.exec(section)?.[1];
    expect(sql, "the section holds an sql block").toBeDefined();
    const statements = (sql ?? "")
      .split(/;\s*\n/)
      .map((s) => s.replace(/^--.*$/gm, "").trim())
      .filter((s) => s !== "");
    expect(statements.some((s) => s.startsWith("CREATE CONTINUOUS QUERY"))).toBe(true);
    for (const statement of statements) await influxd.query(statement, "inferwatch");
    // Run the 5-minute CQ's body once by hand over the written hour (a CQ only covers recent intervals).
    const cq = statements.find((s) => s.includes(`"cq_5m_counters"`)) ?? "";
    const body = /BEGIN\s+([\s\S]*)\s+END/.exec(cq)?.[1] ?? "";
    // The CQ reads the default policy (raw_30d from now on); the points above were written to autogen before it.
    await influxd.query(
      body
        .replace("FROM /", `FROM "autogen"./`)
        .replace(/GROUP BY/, `WHERE time >= ${T0}ms AND time < ${T0 + 65 * MIN}ms GROUP BY`),
      "inferwatch",
    );
    // The docs make raw_30d the default policy; the points above were written to autogen before it.
    const raw = createInfluxStore({ url: `${influxd.url}?db=inferwatch&rp=autogen`, timeoutMs: 10_000 });
    const fiveMinute = createInfluxStore({ url: `${influxd.url}?db=inferwatch&rp=rp_5m`, timeoutMs: 10_000 });
    // last() per 5-minute bucket is stamped at the bucket's start: the 5-minute series at t holds the raw value at t + 4 min.
    const at = T0 + 24 * MIN;
    const downsampled = await fiveMinute.latest({
      metric: "inferwatch_test_requests_total",
      atMs: T0 + 20 * MIN,
      match: { model: "a", node: "n1" },
    });
    expect(downsampled).toEqual(
      await raw.latest({ metric: "inferwatch_test_requests_total", atMs: at, match: { model: "a", node: "n1" } }),
    );
    expect(downsampled[0]?.value).toBe(240);
  });
});
