/**
 * One redaction of credentials in URLs, by where the user information really ends (issue:
 * hardening, reproduction 9): passwords holding `@`, `/`, `:` or `%` leaked partly or fully in
 * `config dump`, `/report` and the logs (the fatal line included), and InfluxDB's `?u=…&p=…` was
 * not redacted at all.
 */
import { execFile } from "node:child_process";
import { PassThrough } from "node:stream";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { REDACTED, redactSecrets } from "../../../common/auth/redact.js";
import { createLogger } from "../../../common/log.js";
import { projectPath } from "../../../common/paths.js";

const run = promisify(execFile);

/** Passwords an operator writes unencoded, and the pieces of each that must not survive. */
const PASSWORDS: readonly (readonly [string, readonly string[]])[] = [
  ["p@ss", ["p@ss", "ss@"]],
  ["pa/ss", ["pa/ss", "ss@"]],
  ["pa:ss", ["pa:ss"]],
  ["p%40ss", ["p%40ss", "40ss"]],
  ["p%ss", ["p%ss"]],
  ["a@b/c:d%e", ["a@b", "b/c", "c:d", "d%e"]],
  ["12/34", ["12/34", "34@"]],
];

describe("redactSecrets", () => {
  it.each(PASSWORDS)("hides the password %s of a URL and keeps its host, port and path", (password, pieces) => {
    const text = `prometheus=https://svc:${password}@prometheus.monitoring:9090/api`;
    const redacted = redactSecrets(text);
    expect(redacted).toBe(`prometheus=https://${REDACTED}@prometheus.monitoring:9090/api`);
    for (const piece of pieces) expect(redacted).not.toContain(piece);
  });

  it.each(PASSWORDS)("hides the password %s inside a sentence, a quoted string and a list of URLs", (password) => {
    const sentence = `pull of "http://u:${password}@a:9464/metrics" failed; next http://b:9464,http://v:${password}@c:9464 ok`;
    expect(redactSecrets(sentence)).toBe(
      `pull of "http://${REDACTED}@a:9464/metrics" failed; next http://b:9464,http://${REDACTED}@c:9464 ok`,
    );
  });

  it.each([
    [
      "InfluxDB's u and p",
      "influx=http://influxdb:8086/?db=fleet&u=admin&p=s3cret",
      `influx=http://influxdb:8086/?db=fleet&u=${REDACTED}&p=${REDACTED}`,
    ],
    [
      "a token parameter",
      "https://tempo:4318/v1/traces?token=abc&x=1",
      `https://tempo:4318/v1/traces?token=${REDACTED}&x=1`,
    ],
    ["a password parameter holding @", "http://h/?password=p@ss&db=x", `http://h/?password=${REDACTED}&db=x`],
    ["a query without a URL", "db=fleet&u=admin&p=s3cret", `db=fleet&u=${REDACTED}&p=${REDACTED}`],
  ])("hides %s", (_name, text, expected) => {
    expect(redactSecrets(text)).toBe(expected);
  });

  it.each([
    "http://prometheus:9090/api/v1/query",
    "agents=http://10.0.0.1:9464,http://10.0.0.2:9464",
    "listening on 0.0.0.0:9464",
    "query sum by (model, le) (increase(x[5m]))",
  ])("leaves %s as it is", (text) => {
    expect(redactSecrets(text)).toBe(text);
  });
});

describe("the logger", () => {
  it("redacts URL credentials in the message and in every field, nested ones included", () => {
    let out = "";
    const sink = new PassThrough();
    sink.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
    const log = createLogger({ level: "info", destination: sink });
    log.fatal(
      { err: "fetch http://svc:pa/ss@prom:9090 failed", nested: { targets: ["http://u:p@ss@a:1"] } },
      "analyzer failed on influx=http://h:8086/?u=admin&p=s3cret",
    );
    log.warn("plain http://svc:p%40ss@host/x");
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        for (const secret of ["pa/ss", "p@ss", "s3cret", "p%40ss", "admin"]) expect(out).not.toContain(secret);
        const [fatal, warn] = out
          .trim()
          .split("\n")
          .map((line) => JSON.parse(line) as Record<string, unknown>);
        expect(fatal).toMatchObject({
          err: `fetch http://${REDACTED}@prom:9090 failed`,
          nested: { targets: [`http://${REDACTED}@a:1`] },
          msg: `analyzer failed on influx=http://h:8086/?u=${REDACTED}&p=${REDACTED}`,
        });
        expect(warn?.["msg"]).toBe(`plain http://${REDACTED}@host/x`);
        resolve();
      }),
    );
  });
});

describe("inferwatch", () => {
  it("config dump shows no piece of passwords holding @, /, : and %", async () => {
    const { stdout } = await run(
      process.execPath,
      [
        projectPath("dist/cli/main.js"),
        "config",
        "dump",
        "--source",
        "prometheus=https://svc:a@b/c:d%e@prometheus:9090",
        "--forward-endpoint",
        "https://u:12/34@tempo:4318/v1/traces",
      ],
      { env: { PATH: process.env["PATH"] ?? "" } },
    );
    for (const piece of ["a@b", "b/c", "c:d", "d%e", "12/34"]) expect(stdout).not.toContain(piece);
    const dumped = JSON.parse(stdout) as { analyzer: { source: string }; agent: { forward: { endpoint: string } } };
    expect(dumped.analyzer.source).toBe(`prometheus=https://${REDACTED}@prometheus:9090`);
    expect(dumped.agent.forward.endpoint).toBe(`https://${REDACTED}@tempo:4318/v1/traces`);
  });

  it("logs no piece of a password in a source URL, the store's failures included", async () => {
    const failure = await run(
      process.execPath,
      [
        projectPath("dist/cli/main.js"),
        "analyzer",
        "--listen",
        "127.0.0.1:0",
        "--source",
        "influx=http://svc:p@ss/w:rd@127.0.0.1:1/?db=x&u=admin&p=s3cret",
        "--eval-interval",
        "1h",
      ],
      {
        env: { PATH: process.env["PATH"] ?? "" },
        timeout: 8_000,
        killSignal: "SIGTERM",
      },
    ).catch((err: { stderr: string }) => err);
    const stderr = "stderr" in failure ? failure.stderr : "";
    expect(stderr).toContain("evaluation part failed");
    expect(stderr).toContain(REDACTED);
    for (const piece of ["p@ss", "ss/w", "w:rd", "s3cret", "admin"]) expect(stderr).not.toContain(piece);
  });
});
