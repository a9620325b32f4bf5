import { readFile } from "node:fs/promises";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import { FileWatcher } from "../tls/file-watcher.js";
import type { AuthConfig } from "./auth-config.js";
import { bearerToken, parseTokenFile, roleAllows, type Principal, type Role, type TokenSet } from "./tokens.js";

/** The answer to one request's credentials. */
export type AuthDecision =
  | { readonly kind: "allowed"; readonly principal: Principal }
  /** No token, another scheme, or an unknown token: 401 / UNAUTHENTICATED. */
  | { readonly kind: "unauthenticated" }
  /** A valid token whose role does not allow this: 403 / PERMISSION_DENIED. */
  | { readonly kind: "forbidden"; readonly principal: Principal };

async function readTokens(path: string): Promise<TokenSet> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new Error(`auth: cannot read token file ${path}: ${errorMessage(err)}`, { cause: err });
  }
  const parsed = parseTokenFile(text, path);
  if (!parsed.ok) throw new Error(`auth: invalid token file:\n  - ${parsed.problems.join("\n  - ")}`);
  return parsed.tokens;
}

/**
 * Bearer-token checks against the configured token file, re-read when it changes (a token file that
 * no longer parses is logged and the previous tokens stay in force). Tokens never reach a log.
 */
export class TokenAuth {
  private watcher: FileWatcher;

  private constructor(private readonly path: string, private tokens: TokenSet, reloadIntervalMs: number, private readonly log: Logger) {
    this.watcher = new FileWatcher([path], reloadIntervalMs, async () => {
      this.tokens = await readTokens(path);
      this.log.info({ file: path, tokens: this.tokens.size }, "token file reloaded");
    }, log);
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

  /** The token file's path (for logs; never its contents). */
  get file(): string {
    return this.path;
  }
}
