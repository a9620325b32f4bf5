/** A raw HTTP/1.1 client for the receiver suites: one request per connection, the whole response kept. */
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface RawRequest {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: Readonly<Record<string, string | number>>;
  /** Sent as one write, or as one write per item (with chunked encoding unless a Content-Length is set). */
  readonly body?: Uint8Array | string | readonly (Uint8Array | string)[];
}

/** Sends one request to `port` on loopback and resolves with the response. */
export function rawRequest(port: number, options: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      {
        host: "127.0.0.1",
        port,
        method: options.method ?? "POST",
        path: options.path ?? "/v1/traces",
        headers: { ...options.headers },
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }),
        );
        response.on("error", reject);
      },
    );
    request.on("error", reject);
    const body = options.body;
    if (Array.isArray(body)) {
      for (const part of body as readonly (Uint8Array | string)[]) request.write(part);
      request.end();
    } else {
      request.end(body as Uint8Array | string | undefined);
    }
  });
}
