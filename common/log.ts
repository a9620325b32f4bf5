import { pino, type Logger, type LevelWithSilent } from "pino";
import { createRequire } from "node:module";
import type { PinoPretty as PinoPrettyFactory } from "pino-pretty";
import { redactSecrets } from "./auth/redact.js";

export type { Logger } from "pino";

/** How log events are written: `json` (one object a line), `pretty` (one readable line), `auto` (pretty on a terminal). */
export type LogFormat = "auto" | "pretty" | "json";

/** Options for {@link createLogger}. */
export interface LogOptions {
  readonly level: LevelWithSilent;
  /** Default `auto`: readable lines when the destination is a terminal, JSON lines otherwise. */
  readonly format?: LogFormat;
  /** Where events go; defaults to standard error so standard output stays for command results. */
  readonly destination?: NodeJS.WritableStream;
}

/** How deep into a logged object strings are looked at for credentials. */
const REDACT_DEPTH = 4;

/** A logged value with URL credentials and credential query parameters redacted (common/auth/redact.ts); other values as they are. */
function redactLogged(value: unknown, depth: number): unknown {
  if (typeof value === "string") return redactSecrets(value);
  if (depth >= REDACT_DEPTH || typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map((item: unknown) => redactLogged(item, depth + 1));
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactLogged(item, depth + 1)]));
}

/** Fields every event carries that a person reading the terminal does not need, or that lead the line instead. */
const PRETTY_HIDDEN = new Set(["level", "time", "pid", "hostname", "msg", "node", "component"]);

/** Whether events to `destination` are written for people: `pretty`, or `auto` on a terminal. */
export function isPrettyLog(format: LogFormat, destination: NodeJS.WritableStream = process.stderr): boolean {
  if (format !== "auto") return format === "pretty";
  return "isTTY" in destination && destination.isTTY === true;
}

/** A field's value as it reads on a line: bare words stay bare, anything else is JSON. */
function fieldText(value: unknown): string {
  if (typeof value === "string") return /^[\w.:/@+-]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

/**
 * The message part of a readable line: `[node component] message key=value …`, with the fields
 * that say what happened and none of the process bookkeeping.
 */
export function prettyMessage(event: Readonly<Record<string, unknown>>): string {
  const scope = [event["node"], event["component"]].filter(
    (part): part is string => typeof part === "string" && part !== "",
  );
  const fields = Object.entries(event)
    .filter(([key, value]) => !PRETTY_HIDDEN.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${fieldText(value)}`);
  const message = typeof event["msg"] === "string" ? event["msg"] : "";
  return [scope.length > 0 ? `[${scope.join(" ")}]` : "", message, ...fields].filter((part) => part !== "").join(" ");
}

/**
 * Creates the process logger, secrets redacted: values under token/password/authorization keys,
 * and credentials in any URL of the message or of a logged field (the fatal line that ends the
 * process included; common/auth/redact.ts). JSON lines (pino's own format: one object per
 * event, for log shippers) unless the format says readable lines, which pino-pretty writes
 * synchronously: time, level, `[node component]`, the message and its fields on one line.
 * Components take a child logger (`log.child({ component })`), never a module singleton.
 */
export function createLogger(options: LogOptions): Logger {
  const destination = options.destination ?? process.stderr;
  const settings = {
    level: options.level,
    base: { pid: process.pid },
    redact: { paths: ["*.token", "*.password", "*.authorization", "token", "password"], censor: "[redacted]" },
    hooks: {
      logMethod(this: Logger, args: Parameters<Logger["info"]>, method: Logger["info"]): void {
        Reflect.apply(
          method,
          this,
          Array.from(args, (arg: unknown) => redactLogged(arg, 0)),
        );
      },
    },
  };
  if (!isPrettyLog(options.format ?? "auto", destination)) return pino(settings, destination as pino.DestinationStream);
  const colorize = "isTTY" in destination && destination.isTTY && process.env["NO_COLOR"] === undefined;
  const pretty = loadPinoPretty()({
    destination,
    sync: true,
    colorize,
    translateTime: "SYS:HH:MM:ss.l",
    hideObject: true,
    ignore: "pid,hostname",
    messageFormat: (event) => prettyMessage(event),
  });
  return pino(settings, pretty);
}

/**
 * pino-pretty, loaded on first use: an agent in a DaemonSet writes JSON lines (its standard error is
 * not a terminal) and never needs it, and its 30 modules cost about 1 MiB of heap on every GPU node.
 * It is CommonJS, so `require` keeps createLogger synchronous.
 */
function loadPinoPretty(): typeof PinoPrettyFactory {
  const loaded = createRequire(import.meta.url)("pino-pretty") as { PinoPretty: typeof PinoPrettyFactory };
  return loaded.PinoPretty;
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
