/**
 * The HTTP side of the Prometheus store: POSTs form-encoded queries to `/api/v1/query` and
 * `/api/v1/query_range`, with what a large store needs from its clients
 * (https://prometheus.io/docs/prometheus/latest/querying/api/):
 *
 * - a cap on queries in flight (Prometheus runs at most `--query.max-concurrency` = 20 at once and
 *   queues the rest; the analyzer is one client among Grafana, rules and others), the rest waiting here;
 * - a per-query timeout, sent to the server too (`timeout=`) so that it stops working on an answer
 *   nobody waits for;
 * - retries with exponential backoff and jitter on 429 and 502/503/504 (Mimir, Cortex and Thanos
 *   answer 429 for tenant limits and 503 when overloaded), honouring `Retry-After`;
 * - answers read as a stream and refused past `maxAnswerBytes` (decoded) — the process never holds
 *   an answer larger than that — and counted against the caller's byte budget as they arrive;
 * - gzip asked for and decompressed as a stream; the server's `warnings` (Thanos and Mimir partial
 *   responses) handed to the caller's usage.
 *
 * Credentials in the URL become a Basic authorization header; extra headers (a bearer token, Mimir's
 * `X-Scope-OrgID`) pass through. Neither ever appears in an error message.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import { Gate } from "./gate.js";
import type { QueryContext } from "./metric-store.js";
import { toError } from "../../common/errors.js";
import { MIB } from "../../common/units.js";

/** Options of the Prometheus client. */
export interface PrometheusClientOptions {
  /** Base URL of the API, without `/api/v1`: `http://prometheus:9090`, `http://mimir/prometheus`. */
  readonly url: string;
  /** Per-request limit, milliseconds (also sent as `timeout=`). */
  readonly timeoutMs: number;
  /** Extra request headers (authorization, tenant); never logged. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Queries in flight at most; the rest wait. Default 6. */
  readonly maxConcurrent?: number;
  /** Largest decoded answer read, bytes; a larger one fails with AnswerTooLargeError. Default 32 MiB. */
  readonly maxAnswerBytes?: number;
  /** Retries of a 429/502/503/504 or a connection reset. Default 3. */
  readonly retries?: number;
  /** First backoff, milliseconds; doubles per retry, with jitter. Default 250. */
  readonly retryBaseMs?: number;
  /** Longest backoff (and longest Retry-After honoured), milliseconds. Default 10 s. */
  readonly retryMaxMs?: number;
}

/** An answer larger than the configured limit; the store may then ask in shards. */
export class AnswerTooLargeError extends Error {
  override readonly name = "AnswerTooLargeError";
}

/** A successful answer: its `data` (not yet validated) and the server's warnings. */
export interface PrometheusAnswer {
  readonly data: unknown;
  readonly warnings: readonly string[];
  readonly bytes: number;
}

export const DEFAULT_MAX_CONCURRENT = 6;
export const DEFAULT_MAX_ANSWER_BYTES = 32 * MIB;
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
const RETRYABLE_CODES = new Set(["ECONNRESET", "EPIPE"]);

/** The API URL without credentials, and the Basic authorization they become. */
function splitCredentials(url: string): { base: URL; prefix: string; authorization: string | undefined } {
  const base = new URL(url);
  let authorization: string | undefined;
  if (base.username !== "" || base.password !== "") {
    authorization = `Basic ${Buffer.from(`${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`).toString("base64")}`;
    base.username = "";
    base.password = "";
  }
  return { base, prefix: base.pathname.replace(/\/+$/, ""), authorization };
}

/** Milliseconds a `Retry-After` header asks for (seconds or an HTTP date); undefined when absent or unreadable. */
export function retryAfterMs(header: string | undefined, nowMs = Date.now()): number | undefined {
  if (header === undefined || header.trim() === "") return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

interface RawResponse {
  readonly status: number;
  readonly headers: IncomingMessage["headers"];
  readonly text: string;
}

/** An error that a retry may cure, with the wait the server asked for. */
class RetryableError extends Error {
  constructor(
    message: string,
    readonly waitMs: number | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (signal?.removeEventListener("abort", onAbort), resolve()), ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The Prometheus HTTP client; see the module comment. */
export class PrometheusClient {
  /** The API's base URL without credentials, for messages. */
  readonly where: string;
  private readonly base: URL;
  /** The URL's path without trailing slashes (`/prometheus`, or empty). */
  private readonly prefix: string;
  private readonly headers: Record<string, string>;
  private readonly gate: Gate;
  private readonly agent: HttpAgent;
  private readonly maxAnswerBytes: number;
  private readonly retries: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private queries = 0;

  constructor(private readonly options: PrometheusClientOptions) {
    const { base, prefix, authorization } = splitCredentials(options.url);
    if (base.protocol !== "http:" && base.protocol !== "https:")
      throw new Error(`prometheus store: expected an http(s) URL, got ${base.protocol}`);
    this.base = base;
    this.prefix = prefix;
    this.where = `${base.origin}${prefix}`;
    this.headers = {
      ...options.headers,
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
      "accept-encoding": "gzip, deflate, br",
    };
    if (authorization !== undefined) this.headers["authorization"] = authorization;
    const maxConcurrent = options.maxConcurrent ?? DEFAULT_MAX_CONCURRENT;
    this.gate = new Gate(maxConcurrent);
    this.agent =
      base.protocol === "https:"
        ? new HttpsAgent({ keepAlive: true, maxSockets: maxConcurrent })
        : new HttpAgent({ keepAlive: true, maxSockets: maxConcurrent });
    this.maxAnswerBytes = options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
    this.retries = options.retries ?? 3;
    this.retryBaseMs = options.retryBaseMs ?? 250;
    this.retryMaxMs = options.retryMaxMs ?? 10_000;
  }

  /** Queries sent (a retry is the same query). */
  get queryCount(): number {
    return this.queries;
  }

  /**
   * Sends one query and returns its `data` and warnings. Errors name the URL (without credentials)
   * and the query, and say what went wrong: the server's own error text, the HTTP status, a timeout,
   * a refused connection, an answer over the size limit (AnswerTooLargeError) or the byte budget.
   */
  async query(
    endpoint: "query" | "query_range",
    params: Readonly<Record<string, string>>,
    context: QueryContext = {},
  ): Promise<PrometheusAnswer> {
    this.queries++;
    context.usage?.countQuery();
    const where = `${this.where}/api/v1/${endpoint}`;
    const label = `prometheus ${where}: query ${params["query"] ?? ""}`;
    const body = new URLSearchParams({
      ...params,
      timeout: `${Math.max(1, Math.ceil(this.options.timeoutMs / 1000))}s`,
    }).toString();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(endpoint, body, label, context);
      } catch (err) {
        if (!(err instanceof RetryableError) || attempt >= this.retries || context.signal?.aborted === true) {
          throw err instanceof RetryableError ? new Error(err.message, { cause: err.cause }) : err;
        }
        context.usage?.countRetry();
        const backoff = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** attempt) * (0.5 + Math.random() / 2);
        await sleep(Math.min(this.retryMaxMs, err.waitMs ?? backoff), context.signal);
      }
    }
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  private async attempt(
    endpoint: string,
    body: string,
    label: string,
    context: QueryContext,
  ): Promise<PrometheusAnswer> {
    await this.gate.enter(context.signal);
    let response: RawResponse;
    try {
      response = await this.send(endpoint, body, label, context);
    } finally {
      this.gate.leave();
    }
    const { status } = response;
    if (status >= 300 && status < 400)
      throw new Error(
        `${label}: HTTP ${status} redirect to ${response.headers["location"] ?? "?"}; give the final URL`,
      );
    let parsed: unknown;
    try {
      parsed = JSON.parse(response.text);
    } catch (err) {
      const message = `${label}: HTTP ${status}, not a JSON answer: ${response.text.slice(0, 200)}`;
      if (RETRYABLE_STATUS.has(status))
        throw new RetryableError(message, retryAfterMs(headerText(response.headers["retry-after"])), { cause: err });
      throw new Error(message, { cause: err });
    }
    const envelope = typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
    if (envelope["status"] === "error") {
      const message = `${label}: HTTP ${status} ${typeof envelope["errorType"] === "string" ? envelope["errorType"] : "error"}: ${typeof envelope["error"] === "string" ? envelope["error"] : "(no message)"}`;
      if (RETRYABLE_STATUS.has(status))
        throw new RetryableError(message, retryAfterMs(headerText(response.headers["retry-after"])));
      throw new Error(message);
    }
    if (status < 200 || status >= 300) {
      const message = `${label}: HTTP ${status}: ${response.text.slice(0, 200)}`;
      if (RETRYABLE_STATUS.has(status))
        throw new RetryableError(message, retryAfterMs(headerText(response.headers["retry-after"])));
      throw new Error(message);
    }
    if (envelope["status"] !== "success" || !("data" in envelope))
      throw new Error(`${label}: unexpected answer: no "status": "success" with "data"`);
    const warnings = Array.isArray(envelope["warnings"])
      ? envelope["warnings"].filter((w): w is string => typeof w === "string")
      : [];
    for (const warning of warnings) context.usage?.warn({ query: label.slice(label.indexOf(": query ") + 8), warning });
    const bytes = Buffer.byteLength(response.text);
    context.usage?.noteAnswer(bytes);
    return { data: envelope["data"], warnings, bytes };
  }

  /** One HTTP exchange; the body is read as a stream, decompressed, and cut off past the limits. */
  private send(endpoint: string, body: string, label: string, context: QueryContext): Promise<RawResponse> {
    const url = new URL(`${this.prefix}/api/v1/${endpoint}`, this.base.origin);
    const requestFn = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<RawResponse>((resolve, reject) => {
      let isSettled = false;
      const fail = (err: Error): void => {
        if (isSettled) return;
        isSettled = true;
        clearTimeout(timer);
        context.signal?.removeEventListener("abort", onAbort);
        request.destroy();
        reject(err);
      };
      const request = requestFn(
        url,
        {
          method: "POST",
          agent: this.agent,
          headers: { ...this.headers, "content-length": String(Buffer.byteLength(body)) },
        },
        (response) => {
          const chunks: Buffer[] = [];
          let decoded = 0;
          const encoding = (response.headers["content-encoding"] ?? "").toLowerCase();
          const decoder =
            encoding === "gzip"
              ? createGunzip()
              : encoding === "deflate"
                ? createInflate()
                : encoding === "br"
                  ? createBrotliDecompress()
                  : undefined;
          const onWire = (chunk: Buffer): void => {
            try {
              context.usage?.chargeBytes(decoder === undefined ? chunk.length : 0, chunk.length);
            } catch (err) {
              fail(toError(err));
            }
          };
          const onDecoded = (chunk: Buffer): void => {
            decoded += chunk.length;
            if (decoded > this.maxAnswerBytes) {
              fail(
                new AnswerTooLargeError(
                  `${label}: the answer is larger than ${this.maxAnswerBytes} bytes (maxAnswerBytes); aggregate it or shard it by a label`,
                ),
              );
              return;
            }
            if (decoder !== undefined) {
              try {
                context.usage?.chargeBytes(chunk.length, 0);
              } catch (err) {
                fail(toError(err));
                return;
              }
            }
            chunks.push(chunk);
          };
          const done = (): void => {
            if (isSettled) return;
            isSettled = true;
            clearTimeout(timer);
            context.signal?.removeEventListener("abort", onAbort);
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              text: Buffer.concat(chunks).toString("utf8"),
            });
          };
          response.on("data", onWire);
          response.on("error", (err) => fail(new Error(`${label}: ${err.message}`, { cause: err })));
          if (decoder === undefined) {
            response.on("data", onDecoded);
            response.on("end", done);
          } else {
            decoder.on("data", onDecoded);
            decoder.on("end", done);
            decoder.on("error", (err) =>
              fail(new Error(`${label}: undecodable ${encoding} answer: ${err.message}`, { cause: err })),
            );
            response.pipe(decoder);
          }
        },
      );
      request.on("error", (err: NodeJS.ErrnoException) => {
        const message = `${label}: ${err.message}`;
        fail(
          err.code !== undefined && RETRYABLE_CODES.has(err.code)
            ? new RetryableError(message, undefined, { cause: err })
            : new Error(message, { cause: err }),
        );
      });
      const timer = setTimeout(
        () => fail(new Error(`${label}: no answer within ${this.options.timeoutMs} ms`)),
        this.options.timeoutMs,
      );
      const onAbort = (): void => {
        const reason: unknown = context.signal?.reason;
        fail(new Error(`${label}: ${reason instanceof Error ? reason.message : "aborted"}`, { cause: reason }));
      };
      if (context.signal?.aborted === true) onAbort();
      else context.signal?.addEventListener("abort", onAbort, { once: true });
      request.end(body);
    });
  }
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
