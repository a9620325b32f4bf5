/**
 * Redaction of a configuration before it is shown (`inferwatch config dump`) or logged. Secrets
 * are kept out of the configuration by design (tokens, passwords and keys live in files named by
 * `*File` settings), so what can still carry one is a value under a secret-sounding key or a URL
 * with credentials in it (`https://user:pass@host`, `?token=`). Both are replaced by
 * `[redacted]`; file paths are shown, since a path is not a secret.
 */

export const REDACTED = "[redacted]";

/** Keys whose string values are secrets (a `...File` / `...Path` key holds a path and is shown). */
const SECRET_KEY = /(password|passwd|secret|token|apikey|api_key|authorization|credential|privatekey|private_key|bearer|cookie)/i;
const PATH_KEY = /(file|path|dir)$/i;
/** `scheme://user:password@`: the user information of a URL (RFC 3986 §3.2.1). */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/?#@\s]+@/gi;
/** Query parameters that carry secrets in URLs. */
const SECRET_PARAM = /([?&](?:token|access_token|api[_-]?key|key|password|secret|auth|signature|sig)=)[^&#\s,]*/gi;

/** The text with URL credentials and secret query parameters replaced, everything else as written. */
function redactString(value: string): string {
  return value.replace(USERINFO, `$1${REDACTED}@`).replace(SECRET_PARAM, `$1${REDACTED}`);
}

/** A deep copy of `value` with secrets replaced by `[redacted]`; the input is not changed. */
export function redactConfig(value: unknown, key = ""): unknown {
  if (typeof value === "string") {
    if (value !== "" && SECRET_KEY.test(key) && !PATH_KEY.test(key)) return REDACTED;
    return redactString(value);
  }
  if (Array.isArray(value)) return value.map((item) => redactConfig(item, key));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactConfig(v, k)]));
  }
  return value;
}
