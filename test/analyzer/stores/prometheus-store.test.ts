import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createPrometheusStore,
  renderDuration,
  renderIncreaseQuery,
  renderTime,
} from "../../../analyzer/stores/prometheus-store.js";
import { escapeLabelValue } from "../../../common/promql.js";
import {
  createBlocksFromOpenMetrics,
  startPrometheus,
  type PrometheusServer,
} from "../../fixtures/prometheus-server.js";

describe("query rendering", () => {
  it.each([
    [
      { metric: "m_bucket", windowMs: 3_600_000, by: ["model", "le"] },
      "sum by (model, le) (increase(m_bucket[3600s]))",
    ],
    [
      { metric: "m_count", windowMs: 300_000, by: [], match: { model: "a" } },
      'sum(increase(m_count{model="a"}[300s]))',
    ],
    [
      { metric: "m_total", windowMs: 1_500, by: ["x"], match: { a: 'q"b\\c\nd', le: "+Inf" } },
      'sum by (x) (increase(m_total{a="q\\"b\\\\c\\nd", le="+Inf"}[1500ms]))',
    ],
  ])("renders %o as %s", (query, expected) => {
    expect(renderIncreaseQuery(query)).toBe(expected);
  });

  it.each([
    ["a metric name with a brace", () => renderIncreaseQuery({ metric: "m{x}", windowMs: 1000, by: [] })],
    [
      "a label name with a dash",
      () => renderIncreaseQuery({ metric: "m", windowMs: 1000, by: [], match: { "a-b": "1" } }),
    ],
    ["a by label with a space", () => renderIncreaseQuery({ metric: "m", windowMs: 1000, by: ["a b"] })],
    ["a fractional window", () => renderDuration(1.5)],
    ["an empty window", () => renderDuration(0)],
  ])("refuses %s rather than send it", (_what, render) => {
    expect(render).toThrow(/prometheus store/);
  });

  it("writes times as seconds with milliseconds, and escapes label values for PromQL strings", () => {
    expect(renderTime(1_709_251_200_007)).toBe("1709251200.007");
    expect(renderTime(1_709_251_200_000)).toBe("1709251200.000");
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  });
});

describe("against a recorded-response server", () => {
  let server: Server;
  let url: string;
  let requests: { method: string; path: string; headers: IncomingMessage["headers"]; body: URLSearchParams }[];
  let reply: (response: ServerResponse) => void;

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = "";
      request.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      request.on("end", () => {
        requests.push({
          method: request.method ?? "",
          path: request.url ?? "",
          headers: request.headers,
          body: new URLSearchParams(body),
        });
        reply(response);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  afterEach(() => {
    requests = [];
  });
  requests = [];

  const json = (status: number, body: unknown) => (response: ServerResponse) =>
    response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  const query = {
    metric: "inferwatch_llm_request_duration_seconds_count",
    windowMs: 3_600_000,
    atMs: 1_709_251_200_000,
    by: ["model"],
  };

  it("POSTs a form-encoded instant query with time=, under the URL's path prefix, credentials as a header", async () => {
    reply = json(200, {
      status: "success",
      data: {
        resultType: "vector",
        result: [
          { metric: { model: "a" }, value: [1709251200, "12.5"] },
          { metric: { model: "b" }, value: [1709251200, "+Inf"] },
        ],
      },
    });
    const store = createPrometheusStore({
      url: url.replace("http://", "http://reader:s3cret@") + "/prometheus/",
      timeoutMs: 2_000,
      headers: { "X-Scope-OrgID": "tenant-1" },
    });
    expect(await store.increase(query)).toEqual([
      { labels: { model: "a" }, value: 12.5 },
      { labels: { model: "b" }, value: Infinity },
    ]);
    const [request] = requests;
    expect(request?.method).toBe("POST");
    expect(request?.path).toBe("/prometheus/api/v1/query");
    expect(request?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(request?.headers["authorization"]).toBe(`Basic ${Buffer.from("reader:s3cret").toString("base64")}`);
    expect(request?.headers["x-scope-orgid"]).toBe("tenant-1");
    expect(Object.fromEntries(request?.body ?? [])).toEqual({
      query: "sum by (model) (increase(inferwatch_llm_request_duration_seconds_count[3600s]))",
      time: "1709251200.000",
      timeout: "2s",
    });
    expect(store.queryCount).toBe(1);
  });

  it("asks query_range with start, end and step, and reads the matrix", async () => {
    reply = json(200, {
      status: "success",
      data: {
        resultType: "matrix",
        result: [
          {
            metric: { __name__: "g", gpu: "0" },
            values: [
              [1709251200, "0.5"],
              [1709251260.5, "NaN"],
            ],
          },
        ],
      },
    });
    const store = createPrometheusStore({ url, timeoutMs: 2_000 });
    const rows = await store.range({
      metric: "g",
      startMs: 1_709_251_200_000,
      endMs: 1_709_251_260_500,
      stepMs: 60_500,
    });
    expect(rows[0]?.labels).toEqual({ gpu: "0" });
    expect(rows[0]?.samples[0]).toEqual({ atMs: 1_709_251_200_000, value: 0.5 });
    expect(rows[0]?.samples[1]?.atMs).toBe(1_709_251_260_500);
    expect(rows[0]?.samples[1]?.value).toBeNaN();
    expect(requests[0]?.path).toBe("/api/v1/query_range");
    expect(Object.fromEntries(requests[0]?.body ?? [])).toEqual({
      query: "g",
      start: "1709251200.000",
      end: "1709251260.500",
      step: "60.5",
      timeout: "2s",
    });
  });

  it.each<[string, (response: ServerResponse) => void, RegExp]>([
    [
      "an HTTP 500 with Prometheus's error body",
      json(500, {
        status: "error",
        errorType: "internal",
        error: "query processing would load too many samples into memory",
      }),
      /HTTP 500 internal: query processing would load too many samples/,
    ],
    [
      "an HTTP 422 execution error",
      json(422, { status: "error", errorType: "execution", error: "many-to-many matching not allowed" }),
      /HTTP 422 execution: many-to-many/,
    ],
    [
      "a body that is not JSON",
      (r) => r.writeHead(200, { "content-type": "text/html" }).end("<html>login</html>"),
      /HTTP 200, not a JSON answer: <html>login/,
    ],
    ["a 502 from a proxy", (r) => r.writeHead(502).end("Bad Gateway"), /HTTP 502, not a JSON answer: Bad Gateway/],
    [
      "a matrix where a vector is due",
      json(200, { status: "success", data: { resultType: "matrix", result: [] } }),
      /unexpected answer/,
    ],
    [
      "a value that is not a number",
      json(200, { status: "success", data: { resultType: "vector", result: [{ metric: {}, value: [1, "many"] }] } }),
      /unexpected answer.*not a sample value/,
    ],
    ["a redirect", (r) => r.writeHead(301, { location: "/elsewhere" }).end(), /HTTP 301 redirect to \/elsewhere/],
  ])("fails clearly on %s, naming the query and never the credentials", async (_what, respond, message) => {
    reply = respond;
    const store = createPrometheusStore({ url: url.replace("http://", "http://reader:s3cret@"), timeoutMs: 2_000 });
    const error = await store.increase(query).then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(error?.message).toMatch(message);
    expect(error?.message).toContain("increase(inferwatch_llm_request_duration_seconds_count[3600s])");
    expect(error?.message).not.toMatch(/s3cret|reader/);
  });

  it("gives up after its timeout with a message saying so", async () => {
    reply = () => {};
    const store = createPrometheusStore({ url, timeoutMs: 200 });
    const started = Date.now();
    await expect(store.latest({ metric: "up", atMs: 0 })).rejects.toThrow(/query up: no answer within 200 ms/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("reports a refused connection with the URL", async () => {
    const store = createPrometheusStore({ url: "http://127.0.0.1:1", timeoutMs: 2_000 });
    await expect(store.latest({ metric: "up", atMs: 0 })).rejects.toThrow(
      /prometheus http:\/\/127\.0\.0\.1:1\/api\/v1\/query: query up/,
    );
  });
});

describe("against a real Prometheus", () => {
  const T = 1_709_251_200;
  const TRICKY = 'quote" back\\slash\nnewline {brace}, comma';
  let prometheus: PrometheusServer;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "inferwatch-promstore-"));
    const escaped = TRICKY.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
    const lines = ["# TYPE req counter"];
    for (let i = 0; i <= 12; i++) {
      lines.push(`req_total{model="${escaped}",pod="p1"} ${i * 3} ${T + i * 60}`);
      lines.push(`req_total{model="plain",pod="p2"} ${i * 2} ${T + i * 60}`);
    }
    lines.push("# EOF", "");
    await createBlocksFromOpenMetrics(lines.join("\n"), dataDir);
    prometheus = await startPrometheus({ dataDir });
  }, 60_000);
  afterAll(async () => {
    await prometheus?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("matches a label value holding quotes, backslashes and a newline exactly", async () => {
    const store = createPrometheusStore({ url: prometheus.url, timeoutMs: 5_000 });
    expect(await store.latest({ metric: "req_total", atMs: (T + 720) * 1000, match: { model: TRICKY } })).toEqual([
      { labels: { model: TRICKY, pod: "p1" }, value: 36 },
    ]);
    expect(
      await store.increase({
        metric: "req_total",
        windowMs: 600_000,
        atMs: (T + 720) * 1000,
        by: ["model"],
        match: { model: TRICKY },
      }),
    ).toEqual([{ labels: { model: TRICKY }, value: 30 }]);
  });

  it("sums by the kept labels and answers a range query step by step", async () => {
    const store = createPrometheusStore({ url: prometheus.url, timeoutMs: 5_000 });
    expect(await store.increase({ metric: "req_total", windowMs: 720_000, atMs: (T + 720) * 1000, by: [] })).toEqual([
      { labels: {}, value: 60 },
    ]);
    const rows = await store.range({
      metric: "req_total",
      startMs: T * 1000,
      endMs: (T + 120) * 1000,
      stepMs: 60_000,
      match: { model: "plain" },
    });
    expect(rows).toEqual([
      {
        labels: { model: "plain", pod: "p2" },
        samples: [0, 1, 2].map((i) => ({ atMs: (T + i * 60) * 1000, value: i * 2 })),
      },
    ]);
    expect(store.queryCount).toBe(2);
  });

  it("takes a 400-day window written in seconds, as Prometheus 2.x parses durations", async () => {
    const store = createPrometheusStore({ url: prometheus.url, timeoutMs: 5_000 });
    expect(
      await store.increase({ metric: "req_total", windowMs: 400 * 86_400_000, atMs: (T + 720) * 1000, by: [] }),
    ).toEqual([{ labels: {}, value: 60 }]);
  });

  it("passes Prometheus's own error through with the query", async () => {
    const store = createPrometheusStore({ url: prometheus.url, timeoutMs: 5_000 });
    await expect(
      store.increase({ metric: "req_total", windowMs: 400 * 365 * 86_400_000, atMs: T * 1000, by: [] }),
    ).rejects.toThrow(/query sum\(increase\(req_total\[12614400000s\]\)\): HTTP 400 bad_data: .*duration out of range/);
  });
});
