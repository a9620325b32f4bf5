/**
 * What floods cost the agent (issue: hardening): the real agent process with ingest tokens, each
 * flood of the abuse suite (test/reliability/abuse.test.ts) run against a fresh agent so its peak
 * RSS is its own, with /healthz probed every 20 ms beside an idle control server. The issue's
 * reproduction 1 is the first row: 64 gzip messages of ~20 KiB on the wire, each inflating to
 * 20 MiB, with a wrong token (before the fix: RSS 94 → 1,645 MiB in the run, 1,777 MiB peak
 * in this suite's first run).
 *
 * Run: `BENCH_ONLY=abuse npm run bench`.
 */
import { gzipSync } from "node:zlib";
import { grpcGzipFlood, gzipBomb, httpFlood, jsonDepthBomb, type Outcomes } from "../reliability/abuse-floods.js";
import {
  DAEMONSET_MEMORY_LIMIT_MIB,
  INGEST_TOKEN,
  loadPerCore,
  probeHealth,
  rssOf,
  startControlServer,
  startSecuredAgent,
  WRONG_TOKEN,
} from "../reliability/abuse-harness.js";
import type { BenchRow } from "./table.js";
import { MIB } from "../../common/units.js";

/** One flood against its own agent: `run` gets the agent's OTLP addresses. */
interface Flood {
  readonly name: string;
  readonly run: (addresses: { readonly grpc: string; readonly http: string }) => Promise<Outcomes>;
}

const FLOODS: readonly Flood[] = [
  {
    name: "OTLP/gRPC: 64 gzip bombs (20 MiB inflated), wrong token",
    run: (a) =>
      grpcGzipFlood({
        address: a.grpc,
        message: gzipBomb(20 * MIB - 1024),
        connections: 8,
        streamsPerConnection: 8,
        token: WRONG_TOKEN,
      }),
  },
  {
    name: "OTLP/gRPC: 64 gzip bombs (4 MiB inflated), valid token",
    run: (a) =>
      grpcGzipFlood({
        address: a.grpc,
        message: gzipBomb(4 * MIB - 1024),
        connections: 8,
        streamsPerConnection: 8,
        token: INGEST_TOKEN,
      }),
  },
  {
    name: "OTLP/HTTP: 256 gzip bombs (20 MiB inflated), wrong token",
    run: (a) =>
      httpFlood({
        address: a.http,
        body: gzipBomb(20 * MIB - 1024),
        requests: 256,
        concurrency: 32,
        contentType: "application/x-protobuf",
        gzipped: true,
        token: WRONG_TOKEN,
      }),
  },
  {
    name: "OTLP/HTTP JSON: 8 nesting bombs of 2 MB, valid token",
    run: (a) =>
      httpFlood({
        address: a.http,
        body: jsonDepthBomb(1_000_000),
        requests: 8,
        concurrency: 8,
        contentType: "application/json",
        token: INGEST_TOKEN,
      }),
  },
  {
    name: "OTLP/HTTP JSON: 1 nesting bomb of 20 MB, valid token",
    run: (a) =>
      httpFlood({
        address: a.http,
        body: jsonDepthBomb(10_000_000),
        requests: 1,
        concurrency: 1,
        contentType: "application/json",
        token: INGEST_TOKEN,
      }),
  },
  {
    name: "OTLP/HTTP JSON: 32 gzip nesting bombs (20 MB inflated), valid token",
    run: (a) =>
      httpFlood({
        address: a.http,
        body: gzipSync(jsonDepthBomb(10_000_000), { level: 9 }),
        requests: 32,
        concurrency: 16,
        contentType: "application/json",
        gzipped: true,
        token: INGEST_TOKEN,
      }),
  },
];

/** Rows for `npm run bench`: per flood, what it ended in, the agent's RSS before and at its peak, and the slowest /healthz beside the control's. */
export async function benchAbuse(): Promise<BenchRow[]> {
  const control = await startControlServer();
  const rows: BenchRow[] = [];
  try {
    for (const flood of FLOODS) {
      const agent = await startSecuredAgent();
      try {
        const before = await rssOf(agent.pid);
        const probe = probeHealth([agent.agent.url, control.url]);
        const outcomes = await flood.run({ grpc: agent.agent.otlpGrpc ?? "", http: agent.agent.otlpHttp ?? "" });
        await new Promise((resolve) => setTimeout(resolve, 300));
        const [agentProbe, controlProbe] = await probe.stop();
        const after = await rssOf(agent.pid);
        rows.push({
          name: `${flood.name}: ${JSON.stringify(outcomes)}`,
          value: `RSS ${before.nowMiB.toFixed(0)} → peak ${after.peakMiB.toFixed(0)} MiB; /healthz max ${agentProbe?.maxMs.toFixed(0)} ms (control ${controlProbe?.maxMs.toFixed(0)} ms)`,
          target: `peak < ${DAEMONSET_MEMORY_LIMIT_MIB} MiB`,
          isMet: after.peakMiB < DAEMONSET_MEMORY_LIMIT_MIB,
        });
      } finally {
        await agent.stop();
      }
    }
  } finally {
    await control.stop();
  }
  rows.push({ name: "load per core (1-minute average) at the end", value: loadPerCore().toFixed(1) });
  return rows;
}
