/**
 * The one redaction of credentials in text, used wherever a URL the operator gave may be shown: the
 * configuration dump, every log line (common/log.ts), the fatal line that ends the process, and
 * the reports' `source`. It finds each URL in the text by its scheme (`http://`, `https://`, …) and
 * replaces, keeping the rest as written:
 *
 * - the user information: everything between `://` and the last `@` before the query. Passwords are
 *   often written unencoded, and the WHATWG URL parser then disagrees with the operator about where
 *   the host starts (`http://u:pa/ss@host` parses as host `u`, port `pa`); taking the last `@` hides
 *   the whole of `u:p@ss`, `u:pa/ss`, `u:pa:ss` and `u:p%40ss` alike. When the text after the
 *   scheme is no URL at all and holds an `@` only past a `?`, that `@` is taken too.
 * - the values of query parameters that carry credentials: InfluxDB 1.x's `u` and `p`
 *   (https://docs.influxdata.com/influxdb/v1/administration/authentication_and_authorization/),
 *   `password`, `token`, `access_token`, `api_key`, `secret`, `signature` and their kin.
 *
 * A URL ends at whitespace, a quote, `<`, `>` or a backtick, or at a comma followed by another URL
 * (`agents=http://a,http://b`). Over-redaction is preferred to a leak: a `@` in a URL's path hides
 * the part before it.
 */

export const REDACTED = "[redacted]";

/** Query parameters whose values are credentials. */
const SECRET_PARAM =
  /([?&;](?:u|p|user|username|pwd|passwd|password|token|access_token|refresh_token|id_token|private_token|api[_-]?key|apikey|key|secret|client_secret|auth|authorization|signature|sig|x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&#\s"'`<>,;]*/gi;
/** Where a URL starts: its scheme. */
const SCHEME = /[a-z][a-z0-9+.-]*:\/\//gi;
/** Characters that end a URL in running text. */
const URL_END = /[\s"'`<>]/;

/** Where the URL starting at `start` (its scheme) ends in `text`. */
function urlEnd(text: string, start: number): number {
  for (let i = start; i < text.length; i++) {
    const c = text[i] as string;
    if (URL_END.test(c)) return i;
    if (c === "," && /^[a-z][a-z0-9+.-]*:\/\//i.test(text.slice(i + 1, i + 40))) return i;
  }
  return text.length;
}

function isUrl(text: string): boolean {
  try {
    new URL(text);
    return true;
  } catch {
    return false;
  }
}

/** One URL (scheme included) with its user information replaced. */
function redactUserInfo(url: string): string {
  const afterScheme = url.indexOf("://") + 3;
  const rest = url.slice(afterScheme);
  const query = rest.indexOf("?");
  let at = (query < 0 ? rest : rest.slice(0, query)).lastIndexOf("@");
  if (at < 0 && query >= 0 && !isUrl(url)) at = rest.lastIndexOf("@");
  return at < 0 ? url : `${url.slice(0, afterScheme)}${REDACTED}${rest.slice(at)}`;
}

/** `text` with the credentials of every URL in it and every credential query parameter replaced by `[redacted]`. */
export function redactSecrets(text: string): string {
  if (!text.includes("://") && !text.includes("=")) return text;
  let out = "";
  let last = 0;
  SCHEME.lastIndex = 0;
  for (let match = SCHEME.exec(text); match !== null; match = SCHEME.exec(text)) {
    const end = urlEnd(text, match.index + match[0].length);
    out += text.slice(last, match.index) + redactUserInfo(text.slice(match.index, end));
    last = end;
    SCHEME.lastIndex = end;
  }
  out += text.slice(last);
  return out.replace(SECRET_PARAM, `$1${REDACTED}`);
}
