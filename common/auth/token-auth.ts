import { readFile } from "node:fs/promises";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import { FileWatcher } from "../tls/file-watcher.js";
import type { AuthConfig } from "./auth-config.js";
import { bearerToken, parseTokenFile, roleAllows, TokenSet, type Principal, type Role } from "./tokens.js";

/** The token set after the file lost its tokens: nothing verifies. */
const NO_TOKENS = new TokenSet([]);

/** The answer to one request's credentials. */
export type AuthDecision =
  | { readonly kind: "allowed"; readonly principal: Principal }
  /** No token, another scheme, or an unknown token: 401 / UNAUTHENTICATED. */
  | { readonly kind: "unauthenticated" }
  /** A valid token whose role does not allow this: 403 / PERMISSION_DENIED. */
  | { readonly kind: "forbidden"; readonly principal: Principal };

/** What reading the token file gave: tokens, or why none. */
type TokenFileRead =
  | { readonly kind: "tokens"; readonly tokens: TokenSet }
  /** The file cannot be read (deleted, unmounted, unreadable) or holds no token line. */
  | { readonly kind: "none"; readonly reason: string }
  /** The file holds lines that do not parse. */
  | { readonly kind: "invalid"; readonly message: string };

async function readTokenFile(path: string): Promise<TokenFileRead> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    return { kind: "none", reason: `cannot read token file ${path}: ${errorMessage(err)}` };
  }
  const parsed = parseTokenFile(text, path);
  if (parsed.ok) return { kind: "tokens", tokens: parsed.tokens };
  if (parsed.problems.length === 1 && parsed.problems[0] === `${path}: no tokens`)
    return { kind: "none", reason: `token file ${path} holds no tokens` };
  return { kind: "invalid", message: `auth: invalid token file:\n  - ${parsed.problems.join("\n  - ")}` };
}

async function readTokens(path: string): Promise<TokenSet> {
  const read = await readTokenFile(path);
  if (read.kind === "tokens") return read.tokens;
  throw new Error(read.kind === "none" ? `auth: ${read.reason}` : read.message);
}

/**
 * Bearer-token checks against the configured token file, re-read when it changes. Tokens never
 * reach a log. After a successful load:
 * - a file emptied of tokens, deleted or unreadable revokes every token (fail closed: every request
 *   that needs one is refused until the file holds tokens again), logged as an error;
 * - a file that holds lines which do not parse (a half-written edit) is logged and the previous
 *   tokens stay in force until it parses.
 * Tokens are off only when no token file is configured.
 */
export class TokenAuth {
  private watcher: FileWatcher;

  private constructor(
    private readonly path: string,
    private tokens: TokenSet,
    reloadIntervalMs: number,
    private readonly log: Logger,
  ) {
    this.watcher = new FileWatcher(
      [path],
      reloadIntervalMs,
      async () => {
        const read = await readTokenFile(path);
        switch (read.kind) {
          case "tokens":
            this.tokens = read.tokens;
            this.log.info({ file: path, tokens: this.tokens.size }, "token file reloaded");
            return;
          case "none":
            this.tokens = NO_TOKENS;
            this.log.error(
              { file: path, reason: read.reason },
              "no valid tokens: every request that needs a token is refused until the token file holds tokens again",
            );
            return;
          case "invalid":
            throw new Error(read.message);
        }
      },
      log,
    );
  }

  /** Reads the token file and starts watching it; undefined when no token file is configured. */
  static async load(config: AuthConfig, log: Logger): Promise<TokenAuth | undefined> {
    if (config.tokenFile === "") return undefined;
    const auth = new TokenAuth(config.tokenFile, await readTokens(config.tokenFile), config.reloadInterval, log);
    await auth.watcher.start();
    log.info({ file: config.tokenFile, tokens: auth.tokens.size }, "bearer tokens required");
    return auth;
  }

  /** Decides on an `Authorization` header value for an action that needs `role`. */
  check(authorization: string | undefined, role: Role): AuthDecision {
    const token = bearerToken(authorization);
    const principal = token === undefined ? undefined : this.tokens.verify(token);
    if (!principal) return { kind: "unauthenticated" };
    return roleAllows(principal.role, role) ? { kind: "allowed", principal } : { kind: "forbidden", principal };
  }

  /** Checks the file now (the poll does this every reloadInterval). */
  checkNow(): Promise<void> {
    return this.watcher.poll();
  }

  /** Stops watching the file; idempotent. */
  stop(): void {
    this.watcher.stop();
  }

  /** Tokens in force now (0 after the file lost them). */
  get size(): number {
    return this.tokens.size;
  }

  /** The token file's path (for logs; never its contents). */
  get file(): string {
    return this.path;
  }
}
