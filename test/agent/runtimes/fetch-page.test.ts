/**
 * streamPage's bytes-in-flight budget (agent.runtimes.maxInflightBytes), against a real HTTP server
 * on loopback: pages read at once hold no more than the budget between them, every byte taken is
 * given back whether the read succeeds or fails, and a read that cannot get room before its timeout
 * fails with an error naming the budget.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  createPageAgents,
  streamPage,
  type PageAgents,
  type PageSink,
} from "../../../agent/collectors/runtimes/fetch-page.js";
import { ReadTurns } from "../../../agent/collectors/runtimes/read-turns.js";
import { createAdmission } from "../../../agent/receivers/admission.js";

const servers: Server[] = [];
const pools: PageAgents[] = [];

afterEach(async () => {
  pools.splice(0).forEach((pool) => pool.destroy());
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

/** Serves `body` in writes of 16 KiB without a Content-Length; returns its URL. */
async function serving(body: Buffer): Promise<URL> {
  const server = createServer((_, response) => {
    response.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
    response.on("error", () => undefined);
    for (let at = 0; at < body.length; at += 16 * 1024) response.write(body.subarray(at, at + 16 * 1024));
    response.end();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
}

/** A sink that counts the bytes it is given. */
function counting(): PageSink & { readonly bytes: number } {
  let bytes = 0;
  return {
    write: (chunk) => (bytes += chunk.length),
    end: () => undefined,
    heldBytes: 0,
    get bytes() {
      return bytes;
    },
  };
}

function pool(): PageAgents {
  const agents = createPageAgents();
  pools.push(agents);
  return agents;
}

describe("streamPage's read budget", () => {
  it("reads four 2 MiB pages at once within a 1 MiB budget, every byte given back", async () => {
    const page = Buffer.alloc(2 * 2 ** 20, "vllm:num_requests_running 1\n");
    const url = await serving(page);
    const budget = createAdmission(2 ** 20);
    const turns = new ReadTurns();
    const sinks = [counting(), counting(), counting(), counting()];
    await Promise.all(
      sinks.map((sink) =>
        streamPage(url, { timeoutMs: 20_000, maxBytes: 16 * 2 ** 20, agents: pool(), budget, turns }, sink),
      ),
    );
    expect(sinks.map((sink) => sink.bytes)).toEqual([page.length, page.length, page.length, page.length]);
    expect(budget.counters.peakInflightBytes).toBeLessThanOrEqual(2 ** 20);
    expect(budget.counters.peakInflightBytes).toBeGreaterThan(0);
    expect(budget.counters.inflightBytes).toBe(0);
  });

  it("gives every byte back when a page passes the limit mid-stream", async () => {
    const url = await serving(Buffer.alloc(3 * 2 ** 20, "x 1\n"));
    const budget = createAdmission(2 ** 20);
    await expect(
      streamPage(url, { timeoutMs: 20_000, maxBytes: 2 ** 20, agents: pool(), budget }, counting()),
    ).rejects.toThrow(`page larger than ${2 ** 20} bytes`);
    expect(budget.counters.inflightBytes).toBe(0);
  });

  it("fails a read that gets no room before its timeout, naming the budget", async () => {
    const url = await serving(Buffer.alloc(256 * 1024, "x 1\n"));
    const budget = createAdmission(2 ** 20);
    expect(budget.tryAcquire(2 ** 20)).toBe(true); // another read holds the whole budget
    await expect(
      streamPage(url, { timeoutMs: 300, maxBytes: 2 ** 20, agents: pool(), budget }, counting()),
    ).rejects.toThrow(/runtime read budget .* not granted within the timeout/);
    budget.release(2 ** 20);
    expect(budget.counters.inflightBytes).toBe(0);
  });
});
