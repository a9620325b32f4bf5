/**
 * What the Prometheus store does for a large or busy store, against a server whose answers the
 * test scripts: retries with backoff on 429/503 (and Retry-After), a cap on queries in flight,
 * answers refused past the size limit and then asked again in shards of a label, the byte budget,
 * Thanos/Mimir partial-response warnings handed to the caller, gzip answers counted on the wire.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { retryAfterMs } from "../../../analyzer/stores/prometheus-client.js";
import { createPrometheusStore } from "../../../analyzer/stores/prometheus-store.js";
import { childShards, shardRegex } from "../../../analyzer/stores/promql.js";
import { QueryBudgetError, QueryUsage } from "../../../analyzer/stores/query-usage.js";

type Reply = (
  request: { body: URLSearchParams; headers: IncomingMessage["headers"] },
  response: ServerResponse,
) => void;

let server: Server;
let url: string;
let reply: Reply;
let seen: URLSearchParams[] = [];
let inFlight = 0;
let mostInFlight = 0;

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = "";
    inFlight++;
    mostInFlight = Math.max(mostInFlight, inFlight);
    response.on("close", () => inFlight--);
    request.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
    request.on("end", () => {
      const params = new URLSearchParams(body);
      seen.push(params);
      reply({ body: params, headers: request.headers }, response);
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
  seen = [];
  mostInFlight = 0;
});

const vector = (rows: { metric: Record<string, string>; value: string }[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    status: "success",
    data: { resultType: "vector", result: rows.map((row) => ({ metric: row.metric, value: [1709251200, row.value] })) },
    ...extra,
  });
const send = (response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) =>
  response.writeHead(status, { "content-type": "application/json", ...headers }).end(body);
const query = { metric: "inferwatch_gpu_utilization_ratio", atMs: 1_709_251_200_000, by: ["uuid"] };

describe("a busy store", () => {
  it("retries a 503 and a 429 with backoff and answers once the server does", async () => {
    let calls = 0;
    reply = (_request, response) => {
      calls++;
      if (calls === 1)
        send(response, 503, JSON.stringify({ status: "error", errorType: "unavailable", error: "too many queries" }));
      else if (calls === 2) send(response, 429, "slow down", { "retry-after": "0" });
      else send(response, 200, vector([{ metric: { uuid: "GPU-1" }, value: "0.5" }]));
    };
    const store = createPrometheusStore({ url, timeoutMs: 2_000, retryBaseMs: 10 });
    const usage = new QueryUsage();
    expect(await store.latest(query, { usage })).toEqual([{ labels: { uuid: "GPU-1" }, value: 0.5 }]);
    expect(calls).toBe(3);
    expect(usage.summary()).toMatchObject({ queries: 1, retries: 2 });
  });

  it("gives up after its retries with the server's last error, and never retries a 400", async () => {
    reply = (_request, response) =>
      send(response, 503, JSON.stringify({ status: "error", errorType: "unavailable", error: "overloaded" }));
    const store = createPrometheusStore({ url, timeoutMs: 2_000, retries: 2, retryBaseMs: 5 });
    await expect(store.latest(query)).rejects.toThrow(/HTTP 503 unavailable: overloaded/);
    expect(seen).toHaveLength(3);
    seen = [];
    reply = (_request, response) =>
      send(response, 400, JSON.stringify({ status: "error", errorType: "bad_data", error: "parse error" }));
    await expect(store.latest(query)).rejects.toThrow(/HTTP 400 bad_data: parse error/);
    expect(seen).toHaveLength(1);
  });

  it("reads Retry-After in seconds and as a date", () => {
    expect(retryAfterMs("3")).toBe(3_000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(retryAfterMs("soon")).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
  });

  it("keeps at most maxConcurrent queries in flight; the rest wait their turn", async () => {
    reply = (_request, response) => setTimeout(() => send(response, 200, vector([])), 40);
    const store = createPrometheusStore({ url, timeoutMs: 5_000, maxConcurrent: 2 });
    await Promise.all(Array.from({ length: 7 }, () => store.latest(query)));
    expect(seen).toHaveLength(7);
    expect(mostInFlight).toBe(2);
  });

  it("sends its timeout to the server, so Prometheus stops working on an abandoned query", async () => {
    reply = (_request, response) => send(response, 200, vector([]));
    await createPrometheusStore({ url, timeoutMs: 7_500 }).latest(query);
    expect(seen[0]?.get("timeout")).toBe("8s");
  });
});

describe("a large store", () => {
  const rows = (count: number, prefix: string) =>
    Array.from({ length: count }, (_, i) => ({ metric: { uuid: `${prefix}${i}` }, value: "1" }));

  it("refuses an answer larger than maxAnswerBytes, saying what to do", async () => {
    reply = (_request, response) => send(response, 200, vector(rows(2_000, "GPU-")));
    const store = createPrometheusStore({ url, timeoutMs: 2_000, maxAnswerBytes: 10_000 });
    await expect(store.latest(query)).rejects.toThrow(
      /larger than 10000 bytes \(maxAnswerBytes\); aggregate it or shard it by a label/,
    );
  });

  it("asks a too-large answer again in shards of the label's last character and joins them; the next evaluation shards at once", async () => {
    // The server answers the unsharded query with 2,000 rows (too large) and each shard with the rows whose uuid ends in it.
    const all = rows(2_000, "GPU-").map((row) => row.metric.uuid);
    reply = ({ body }, response) => {
      const matcher = /uuid=~"((?:[^"\\]|\\.)*)"/.exec(body.get("query") ?? "");
      const regex = matcher ? new RegExp(`^(?:${(matcher[1] as string).replace(/\\\\/g, "\\")})$`) : undefined;
      send(
        response,
        200,
        vector(
          all
            .filter((uuid) => regex === undefined || regex.test(uuid))
            .map((uuid) => ({ metric: { uuid }, value: "1" })),
        ),
      );
    };
    const store = createPrometheusStore({ url, timeoutMs: 5_000, maxAnswerBytes: 40_000 });
    const usage = new QueryUsage();
    const answer = await store.latest(query, { usage, shardBy: "uuid" });
    expect(answer.map((row) => row.labels["uuid"]).sort()).toEqual([...all].sort());
    expect(new Set(answer.map((row) => row.labels["uuid"])).size).toBe(2_000);
    expect(usage.summary().shardedQueries).toBeGreaterThan(0);
    expect(usage.summary().largestAnswerBytes).toBeLessThanOrEqual(40_000);
    seen = [];
    await store.latest(query, { shardBy: "uuid" });
    expect(seen.every((params) => (params.get("query") ?? "").includes('uuid=~"'))).toBe(true);
  });

  it("shards partition every value: each string falls in exactly one shard of a level", () => {
    const values = ["", "a", "GPU-9", "node-0001", "x_Z", "é", "gpu-node-12"];
    for (const value of values) {
      const first = childShards().filter((shard) => new RegExp(`^(?:${shardRegex(shard)})$`, "s").test(value));
      expect(first, value).toHaveLength(1);
      const deeper =
        first[0]?.isExact === true
          ? []
          : childShards(first[0]).filter((shard) => new RegExp(`^(?:${shardRegex(shard)})$`, "s").test(value));
      if (first[0]?.isExact !== true) expect(deeper, value).toHaveLength(1);
    }
  });

  it("stops reading when the evaluation's byte budget is spent", async () => {
    reply = (_request, response) => send(response, 200, vector(rows(500, "GPU-")));
    const store = createPrometheusStore({ url, timeoutMs: 2_000 });
    const usage = new QueryUsage(5_000);
    await expect(store.latest(query, { usage })).rejects.toBeInstanceOf(QueryBudgetError);
  });

  it("counts gzip answers on the wire and decoded, and hands partial-response warnings to the caller", async () => {
    const body = vector(rows(300, "GPU-"), {
      warnings: ["partial response: store gateway 10.0.0.7:10901 did not answer"],
    });
    reply = ({ headers }, response) => {
      expect(headers["accept-encoding"]).toMatch(/gzip/);
      response.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" }).end(gzipSync(body));
    };
    const store = createPrometheusStore({ url, timeoutMs: 2_000 });
    const usage = new QueryUsage();
    expect(await store.latest(query, { usage })).toHaveLength(300);
    const summary = usage.summary();
    expect(summary.bytes).toBe(Buffer.byteLength(body));
    expect(summary.wireBytes).toBeLessThan(summary.bytes / 3);
    expect(summary.warnings).toEqual([
      {
        query: "max by (uuid) (inferwatch_gpu_utilization_ratio)",
        warning: "partial response: store gateway 10.0.0.7:10901 did not answer",
      },
    ]);
    expect(summary.warningCount).toBe(1);
  });
});
