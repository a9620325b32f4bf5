import * as http from "node:http";
import * as https from "node:https";

/** Connection pools of one scraper; destroy() closes their idle keep-alive sockets. */
export interface PageAgents {
  readonly http: http.Agent;
  readonly https: https.Agent;
  destroy(): void;
}

/** Keep-alive pools of one socket each: one scrape at a time per pool (see PagePools for one pool per target). */
export function createPageAgents(): PageAgents {
  const agents = { http: new http.Agent({ keepAlive: true, maxSockets: 1 }), https: new https.Agent({ keepAlive: true, maxSockets: 1 }) };
  return { ...agents, destroy: () => { agents.http.destroy(); agents.https.destroy(); } };
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
}

/**
 * GETs a /metrics page and returns its body. Rejects on a non-200 status, a body over `maxBytes`,
 * or when the whole exchange (connect, headers and body) takes longer than `timeoutMs`; the
 * request is destroyed then, so a hung target holds nothing past its deadline.
 */
export function fetchPage(url: URL, options: FetchOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const isHttps = url.protocol === "https:";
    const transport = isHttps ? https : http;
    let isSettled = false;
    /** Settles once and tears the exchange down; later events (more chunks, the abort) are ignored. */
    const fail = (err: Error): void => {
      if (isSettled) return;
      isSettled = true;
      reject(err);
      request.destroy();
    };
    const request = transport.request(url, {
      method: "GET",
      headers: options.headers ?? { Accept: ACCEPT },
      agent: isHttps ? options.agents.https : options.agents.http,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
    }, (response) => {
      if (response.statusCode !== 200) return fail(new Error(`HTTP ${response.statusCode ?? "?"}`));
      const chunks: Buffer[] = [];
      let size = 0;
      response.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) fail(new Error(`page larger than ${options.maxBytes} bytes`));
        else if (!isSettled) chunks.push(chunk);
      });
      response.on("error", (err) => fail(err));
      response.on("end", () => {
        if (isSettled) return;
        isSettled = true;
        resolve(Buffer.concat(chunks).toString("utf8"));
      });
    });
    const deadline = setTimeout(() => fail(new Error(`no complete answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    request.on("close", () => {
      clearTimeout(deadline);
      fail(new Error("connection closed before the page ended"));
    });
    request.on("error", (err) => fail(err));
    request.end();
  });
}
