import { z } from "zod";
import { durationMs } from "../config/duration.js";

/**
 * Bearer-token authentication. Set `tokenFile` and every listener that checks tokens (the analyzer
 * API, the OTLP receivers) requires one; empty, none does. See tokens.ts for the file's format.
 */
export const authConfigSchema = z.strictObject({
  /** File of `role:name:token` lines (a mounted Secret); re-read when it changes. Empty: no tokens required. */
  tokenFile: z.string().default(""),
  /** JSON-lines file the analyzer appends operator actions to (who, what, when). Empty: standard error's log only. */
  auditLog: z.string().default(""),
  /** How often the token file is checked for a change. */
  reloadInterval: durationMs("10s", { min: "50ms", max: "1h" }),
});

export type AuthConfig = z.infer<typeof authConfigSchema>;
