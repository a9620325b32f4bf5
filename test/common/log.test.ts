import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, isPrettyLog, prettyMessage, type LogFormat } from "../../common/log.js";

/** A stream that collects what is written, optionally claiming to be a terminal. */
function sink(isTTY = false): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  if (isTTY) Object.assign(stream, { isTTY: true });
  const chunks: string[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")));
  return { stream, text: () => chunks.join("") };
}

describe("log format", () => {
  it.each<[LogFormat, boolean, boolean]>([
    ["auto", true, true],
    ["auto", false, false],
    ["pretty", false, true],
    ["json", true, false],
  ])("format %s on a terminal=%s writes readable lines: %s", (format, isTTY, expected) => {
    expect(isPrettyLog(format, sink(isTTY).stream)).toBe(expected);
  });

  it("writes one JSON object per event when not on a terminal (what log shippers read)", () => {
    const out = sink();
    const log = createLogger({ level: "info", destination: out.stream });
    log.child({ component: "otlp" }).info({ server: "otlp-http", address: "127.0.0.1:4318" }, "listening");
    const lines = out.text().trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({
      level: 30,
      component: "otlp",
      server: "otlp-http",
      address: "127.0.0.1:4318",
      msg: "listening",
    });
  });

  it("writes one readable line per event on a terminal: time, level, [node component], message, fields", () => {
    const out = sink(true);
    const log = createLogger({ level: "info", destination: out.stream });
    log
      .child({ node: "gpu-0" })
      .child({ component: "otlp" })
      .warn({ server: "otlp-http", address: "127.0.0.1:4318", refused: 3 }, "listening");
    log.debug("not at this level");
    /* eslint-disable no-control-regex -- strips the ANSI colour codes (ESC [ … m) pino-pretty writes */
    const lines = out
      .text()
      .replace(/\x1b\[[0-9;]*m/g, "")
      .trim()
      .split("\n");
    /* eslint-enable no-control-regex */
    expect(lines).toEqual([
      expect.stringMatching(
        /^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: \[gpu-0 otlp\] listening server=otlp-http address=127\.0\.0\.1:4318 refused=3$/,
      ),
    ]);
  });

  it("keeps secrets out of readable lines too", () => {
    const out = sink(true);
    createLogger({ level: "info", format: "pretty", destination: out.stream }).info(
      { token: "s3cret", forward: { password: "hunter2" } },
      "configured",
    );
    expect(out.text()).not.toMatch(/s3cret|hunter2/);
    expect(out.text()).toContain("[redacted]");
  });

  it("quotes field values that are not bare words and writes objects as JSON", () => {
    expect(
      prettyMessage({
        msg: "evaluation failed",
        err: "connect ECONNREFUSED 127.0.0.1:9090",
        pools: ["a", "b"],
        pid: 1,
        time: 2,
        level: 30,
      }),
    ).toBe('evaluation failed err="connect ECONNREFUSED 127.0.0.1:9090" pools=["a","b"]');
  });
});
