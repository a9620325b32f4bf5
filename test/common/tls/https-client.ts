/** A one-shot HTTP(S) client for the security suites: a new connection per request, so a rotated certificate is seen. */
import { readFileSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { TLSSocket } from "node:tls";
import type { CertFiles } from "./certs.js";

export interface Reply {
  readonly status: number;
  readonly body: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** SHA-256 fingerprint of the server's certificate (HTTPS only). */
  readonly peerFingerprint: string | undefined;
}

export interface CallOptions {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
  /** CA file trusted for the server's certificate; HTTPS when given. */
  readonly ca?: string;
  /** Client certificate presented (mTLS). */
  readonly client?: CertFiles;
}

/** Calls 127.0.0.1:`port` once; rejects on a connection or handshake failure. */
export function call(port: number, path: string, options: CallOptions = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const common = {
      host: "127.0.0.1",
      port,
      path,
      method: options.method ?? "GET",
      headers: options.headers ?? {},
      agent: false as const,
    };
    const onResponse = (response: IncomingMessage) => {
      const socket = response.socket;
      const peer = socket instanceof TLSSocket ? socket.getPeerCertificate().fingerprint256 : undefined;
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () =>
        resolve({
          status: response.statusCode ?? 0,
          body: Buffer.concat(chunks).toString("utf8"),
          headers: response.headers,
          peerFingerprint: peer,
        }),
      );
      response.on("error", reject);
    };
    const req =
      options.ca === undefined
        ? httpRequest(common, onResponse)
        : httpsRequest(
            {
              ...common,
              ca: readFileSync(options.ca),
              ...(options.client
                ? { cert: readFileSync(options.client.cert), key: readFileSync(options.client.key) }
                : {}),
            },
            onResponse,
          );
    req.setTimeout(5_000, () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end(options.body);
  });
}
