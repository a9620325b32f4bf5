import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger } from "pino";

/** Options for {@link createLogger}. */
export interface LogOptions {
  readonly level: LevelWithSilent;
  /** Where JSON lines go; defaults to standard error so standard output stays for command results. */
  readonly destination?: NodeJS.WritableStream;
}

/**
 * Creates the process logger: JSON lines, one object per event, with secrets redacted.
 * Components take a child logger (`log.child({ component })`), never a module singleton.
 */
export function createLogger(options: LogOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      redact: { paths: ["*.token", "*.password", "*.authorization", "token", "password"], censor: "[redacted]" },
    },
    (options.destination ?? process.stderr) as pino.DestinationStream,
  );
}

/** A logger that drops everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
