import * as http from "node:http";
import * as https from "node:https";
import type { Admission, AdmissionWait } from "../../receivers/admission.js";
import { ReadTurns } from "./read-turns.js";
import { toError } from "../../../common/errors.js";

/** Connection pools of one scraper; destroy() closes their idle keep-alive sockets. */
export interface PageAgents {
  readonly http: http.Agent;
  readonly https: https.Agent;
  destroy(): void;
}

/** Keep-alive pools of one socket each: one scrape at a time per pool (see PagePools for one pool per target). */
export function createPageAgents(): PageAgents {
  const agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 1 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 1 }),
  };
  return {
    ...agents,
    destroy: () => {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

/** The exposition formats asked for: the Prometheus text format first (what every runtime writes). */
const ACCEPT = "text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.5,*/*;q=0.1";

/** How to fetch one page. */
export interface FetchOptions {
  readonly timeoutMs: number;
  readonly maxBytes: number;
  readonly agents: PageAgents;
  /** Request headers; the default asks for the Prometheus text format. */
  readonly headers?: Readonly<Record<string, string>>;
  /** PEM CA bundle trusted for https (the Kubernetes API's). */
  readonly ca?: string;
  /**
   * Bytes received and not yet consumed, shared by every read at once: a read waits (first come,
   * first served, until its deadline) for its next chunk's bytes before consuming it, and holds
   * what its sink keeps between chunks (a partial line). Waiting stops reading its socket, so the
   * runtime's side of the connection waits too.
   */
  readonly budget?: Admission;
  /** The turns of the event loop this read shares with the others (one per scraper); its own when absent. */
  readonly turns?: ReadTurns;
}

/** Where a page's body goes as it arrives. write() and end() may throw: the read fails with that error. */
export interface PageSink {
  write(chunk: Uint8Array): void;
  end(): void;
  /** Bytes the sink holds between writes, charged to the read budget until the next write. */
  readonly heldBytes: number;
}

/** Bytes handed to the sink at once; the time slice is checked between pieces. */
const PIECE_BYTES = 4 * 1024;
/** Longest the sink runs before the read waits for its next turn of the event loop. */
const SLICE_MS = 2;

/**
 * GETs a /metrics page and hands its body to `sink` as it arrives, in pieces, waiting for a turn of
 * the event loop (shared with the other reads: ReadTurns) after every chunk and whenever the sink
 * has run for SLICE_MS, so neither one large page nor many at once block the agent for long. Rejects on a non-200 status, a body (or a Content-Length) over
 * `maxBytes`, an error thrown by the sink, or when the whole exchange (connect, headers, body and
 * the sink's work) takes longer than `timeoutMs`; the request is destroyed then, so a hung target
 * holds nothing past its deadline.
 */
export function streamPage(url: URL, options: FetchOptions, sink: PageSink): Promise<void> {
  return new Promise((resolve, reject) => {
    const isHttps = url.protocol === "https:";
    const transport = isHttps ? https : http;
    const startedAt = performance.now();
    let isSettled = false;
    let response: http.IncomingMessage | undefined;
    /** The read's wait for room in the budget, while it waits: the deadline names it and cancels it. */
    let budgetWait: AdmissionWait | undefined;
    /** Settles once and tears the exchange down; later events (more chunks, the abort) are ignored. */
    const settle = (err?: Error): void => {
      if (isSettled) return;
      isSettled = true;
      clearTimeout(deadline);
      if (err === undefined) resolve();
      else {
        budgetWait?.cancel();
        reject(err);
        request.destroy();
      }
    };
    const tooLarge = (): Error => new Error(`page larger than ${options.maxBytes} bytes`);
    const request = transport.request(
      url,
      {
        method: "GET",
        headers: options.headers ?? { Accept: ACCEPT },
        agent: isHttps ? options.agents.https : options.agents.http,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
      },
      (answer) => {
        response = answer;
        if (answer.statusCode !== 200) return settle(new Error(`HTTP ${answer.statusCode ?? "?"}`));
        if (Number(answer.headers["content-length"]) > options.maxBytes) return settle(tooLarge());
        consume(answer).then(
          () => settle(),
          (err: unknown) => settle(toError(err)),
        );
      },
    );

    const turns = options.turns ?? new ReadTurns();
    const consume = async (body: http.IncomingMessage): Promise<void> => {
      let size = 0;
      let held = 0;
      let sliceStartedAt = performance.now();
      try {
        for await (const chunk of body) {
          if (isSettled) return;
          if (!(chunk instanceof Uint8Array)) throw new Error("the response body is not bytes");
          size += chunk.length;
          if (size > options.maxBytes) throw tooLarge();
          if (options.budget !== undefined) {
            const waitMs = options.timeoutMs - (performance.now() - startedAt);
            budgetWait = options.budget.waitToAcquire(chunk.length, waitMs);
            const isGranted = await budgetWait.granted;
            budgetWait = undefined;
            if (!isGranted) throw budgetRefused(options.budget);
            if (isSettled) {
              options.budget.release(chunk.length);
              return;
            }
            held += chunk.length;
          }
          for (let at = 0; at < chunk.length && !isSettled; at += PIECE_BYTES) {
            sink.write(chunk.subarray(at, at + PIECE_BYTES));
            if (performance.now() - sliceStartedAt >= SLICE_MS) {
              await turns.next();
              sliceStartedAt = performance.now();
            }
          }
          if (options.budget !== undefined) {
            const keep = Math.min(held, sink.heldBytes);
            options.budget.release(held - keep);
            held = keep;
          }
          await turns.next();
          sliceStartedAt = performance.now();
        }
        if (!isSettled) sink.end();
      } finally {
        if (held > 0) options.budget?.release(held);
      }
    };

    const deadline = setTimeout(() => {
      // The read may be waiting for room in the budget rather than for the runtime: say which.
      settle(
        budgetWait !== undefined && options.budget !== undefined
          ? budgetRefused(options.budget)
          : new Error(`no complete answer within ${options.timeoutMs} ms`),
      );
    }, options.timeoutMs);
    request.on("close", () => {
      // A response received whole may still be in the sink's hands (it reads between turns of the event loop).
      if (response?.complete !== true) settle(new Error("connection closed before the page ended"));
    });
    request.on("error", (err) => settle(err));
    request.end();
  });
}

/** The error of a read that got no room in the bytes-in-flight budget before its timeout. */
function budgetRefused(budget: Admission): Error {
  return new Error(
    `runtime read budget (${budget.counters.maxInflightBytes} bytes in flight across scrapes, --runtime-max-inflight) not granted within the timeout`,
  );
}

/**
 * GETs a /metrics page (or any small document: the pod list) and returns its body as text, read
 * through {@link streamPage}; the same limits and errors.
 */
export async function fetchPage(url: URL, options: FetchOptions): Promise<string> {
  const chunks: Buffer[] = [];
  await streamPage(url, options, {
    write: (chunk) => chunks.push(Buffer.from(chunk)),
    end: () => undefined,
    heldBytes: 0,
  });
  return Buffer.concat(chunks).toString("utf8");
}
