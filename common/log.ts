import { pino, type Logger, type LevelWithSilent } from "pino";
import { redactSecrets } from "./auth/redact.js";

export type { Logger } from "pino";

/** Options for {@link createLogger}. */
export interface LogOptions {
  readonly level: LevelWithSilent;
  /** Where JSON lines go; defaults to standard error so standard output stays for command results. */
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

/**
 * Creates the process logger: JSON lines, one object per event, with secrets redacted: values under
 * token/password/authorization keys, and credentials in any URL of the message or of a logged
 * field (the fatal line that ends the process included).
 * Components take a child logger (`log.child({ component })`), never a module singleton.
 */
export function createLogger(options: LogOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      redact: { paths: ["*.token", "*.password", "*.authorization", "token", "password"], censor: "[redacted]" },
      hooks: {
        logMethod(args, method) {
          Reflect.apply(method, this, Array.from(args, (arg: unknown) => redactLogged(arg, 0)));
        },
      },
    },
    (options.destination ?? process.stderr) as pino.DestinationStream,
  );
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
