/**
 * common/http-server.ts must answer whatever a client sends without an unhandled rejection (which
 * ends the process): a request target new URL() refuses, and a route whose response cannot be written.
 */
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startHttpServer, text, type RunningServer } from "../../common/http-server.js";
import { createLogger } from "../../common/log.js";
import { PassThrough } from "node:stream";

const log = createLogger({ level: "fatal", destination: new PassThrough() });
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Sends raw bytes and resolves with the status line of the reply. */
function rawStatusLine(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let reply = "";
    const socket = connect(port, "127.0.0.1", () => socket.write(request));
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString("latin1");
      if (reply.includes("\r\n")) {
        socket.destroy();
        resolve(reply.slice(0, reply.indexOf("\r\n")));
      }
    });
    socket.on("error", reject);
    socket.on("close", () => resolve(reply.split("\r\n")[0] ?? ""));
  });
}

describe("startHttpServer with hostile input", () => {
  it("answers 400 to a request target that is not a URL path, and keeps serving", async () => {
    server = await startHttpServer({
      name: "t",
      address: { host: "127.0.0.1", port: 0 },
      routes: { "/ok": () => text(200, "ok\n") },
      log,
    });
    const port = server.address.port;
    expect(await rawStatusLine(port, "GET //[ HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")).toBe(
      "HTTP/1.1 400 Bad Request",
    );
    expect(await rawStatusLine(port, "GET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")).toBe(
      "HTTP/1.1 200 OK",
    );
  });

  it("answers 500 when a route's response cannot be written (a bad header value)", async () => {
    server = await startHttpServer({
      name: "t",
      address: { host: "127.0.0.1", port: 0 },
      log,
      routes: { "/bad": () => ({ ...text(200, "x"), headers: { "x-bad": "a\nb" } }), "/ok": () => text(200, "ok\n") },
    });
    const port = server.address.port;
    expect(await rawStatusLine(port, "GET /bad HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")).toBe(
      "HTTP/1.1 500 Internal Server Error",
    );
    expect(await rawStatusLine(port, "GET /ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")).toBe(
      "HTTP/1.1 200 OK",
    );
  });
});
