import { z } from "zod";

/** A listen address `host:port` split into its parts. IPv6 hosts are written in brackets. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port`, `[::1]:port` or `:port` (all interfaces). */
export function parseListenAddress(text: string): ListenAddress | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65_535) return undefined;
  const host = match[1] ?? (match[2] === undefined || match[2] === "" ? "0.0.0.0" : match[2]);
  return { host, port };
}

/** Schema for a listen address string; port 0 asks the OS for a free port. */
export function listenAddress(defaultValue: string) {
  return z
    .string()
    .default(defaultValue)
    .transform((value, ctx) => {
      const parsed = parseListenAddress(value);
      if (!parsed) {
        ctx.addIssue({
          code: "custom",
          message: `expected host:port (e.g. 0.0.0.0:9464 or [::1]:9464), got ${JSON.stringify(value)}`,
        });
        return z.NEVER;
      }
      return parsed;
    });
}
