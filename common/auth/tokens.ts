/**
 * Bearer tokens with roles, read from a file such as a mounted Kubernetes Secret. One token a line:
 *
 *     # role:name:token
 *     viewer:grafana:9f2c…
 *     operator:alice:4be1…
 *     ingest:vllm-prod:77d0…
 *
 * `name` is who the token stands for (it is what the audit log records); the token is everything
 * after the second colon. Blank lines and `#` comments are skipped. Only SHA-256 digests of the
 * tokens are kept in memory, and a presented token is hashed and compared with every digest using
 * crypto.timingSafeEqual, so neither the comparison nor an early exit tells how much of it matched.
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** What a token allows. `operator` can do everything `viewer` can. */
export const ROLES = ["viewer", "operator", "ingest"] as const;
export type Role = (typeof ROLES)[number];

/** Who presented a valid token. */
export interface Principal {
  readonly name: string;
  readonly role: Role;
}

interface TokenEntry extends Principal {
  readonly digest: Buffer;
}

/** The shortest token accepted: 16 characters (a guessable token is no control). */
export const MIN_TOKEN_LENGTH = 16;

/** Whether a principal holding `held` may do what `needed` allows. */
export function roleAllows(held: Role, needed: Role): boolean {
  return held === needed || (held === "operator" && needed === "viewer");
}

function digest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

/** Parsed token file; problems name the line, never the token. */
export type TokenFileResult =
  { readonly ok: true; readonly tokens: TokenSet } | { readonly ok: false; readonly problems: readonly string[] };

/** Parses a token file's text. Every problem is reported, by line number. */
export function parseTokenFile(text: string, source = "token file"): TokenFileResult {
  const problems: string[] = [];
  const entries: TokenEntry[] = [];
  const seen = new Set<string>();
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const first = line.indexOf(":");
    const second = first < 0 ? -1 : line.indexOf(":", first + 1);
    const where = `${source}:${i + 1}`;
    if (second < 0) {
      problems.push(`${where}: expected role:name:token`);
      continue;
    }
    const role = line.slice(0, first);
    const name = line.slice(first + 1, second);
    const token = line.slice(second + 1);
    // A field as long as a token may be one (columns swapped): it is not quoted.
    if (!(ROLES as readonly string[]).includes(role))
      problems.push(
        `${where}: unknown role ${role.length < MIN_TOKEN_LENGTH ? JSON.stringify(role) : "(not shown: as long as a token)"} (expected ${ROLES.join(", ")})`,
      );
    else if (!/^[A-Za-z0-9._@-]+$/.test(name)) problems.push(`${where}: name must be letters, digits and . _ @ -`);
    else if (token.length < MIN_TOKEN_LENGTH)
      problems.push(`${where}: token shorter than ${MIN_TOKEN_LENGTH} characters`);
    else if (seen.has(token)) problems.push(`${where}: token used twice`);
    else {
      seen.add(token);
      entries.push({ role: role as Role, name, digest: digest(token) });
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  if (entries.length === 0) return { ok: false, problems: [`${source}: no tokens`] };
  return { ok: true, tokens: new TokenSet(entries) };
}

/** A set of tokens; look a presented token up with {@link TokenSet.verify}. */
export class TokenSet {
  constructor(private readonly entries: readonly TokenEntry[]) {}

  /** Number of tokens held. */
  get size(): number {
    return this.entries.length;
  }

  /** The principal of `token`, or undefined. Runs in time independent of which entry (if any) matches. */
  verify(token: string): Principal | undefined {
    const presented = digest(token);
    let found: TokenEntry | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, presented) && found === undefined) found = entry;
    }
    return found ? { name: found.name, role: found.role } : undefined;
  }
}

/** The token of an `Authorization: Bearer <token>` header; undefined when absent or another scheme. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}
