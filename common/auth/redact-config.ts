/**
 * Redaction of a configuration before it is shown (`inferwatch config dump`) or logged. Secrets
 * are kept out of the configuration by design (tokens, passwords and keys live in files named by
 * `*File` settings), so what can still carry one is a value under a secret-sounding key, replaced
 * whole, or a URL with credentials in it, redacted by common/auth/redact.ts (the one redaction of
 * URLs, which logs and reports use too). File paths are shown, since a path is not a secret.
 */
import { REDACTED, redactSecrets } from "./redact.js";

export { REDACTED } from "./redact.js";

/** Keys whose string values are secrets (a `...File` / `...Path` key holds a path and is shown). */
const SECRET_KEY =
  /(password|passwd|secret|token|apikey|api_key|authorization|credential|privatekey|private_key|bearer|cookie)/i;
const PATH_KEY = /(file|path|dir)$/i;

/** A deep copy of `value` with secrets replaced by `[redacted]`; the input is not changed. */
export function redactConfig(value: unknown, key = ""): unknown {
  if (typeof value === "string") {
    if (value !== "" && SECRET_KEY.test(key) && !PATH_KEY.test(key)) return REDACTED;
    return redactSecrets(value);
  }
  if (Array.isArray(value)) return value.map((item) => redactConfig(item, key));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactConfig(v, k)]));
  }
  return value;
}
