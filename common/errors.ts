/** Message of an unknown thrown value, without assuming it is an Error. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** An unknown thrown value as an Error: itself when it is one, else an Error of its text. */
export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Wraps an unknown thrown value into an Error with context and the original as cause. */
export function wrapError(context: string, cause: unknown): Error {
  return new Error(`${context}: ${errorMessage(cause)}`, { cause });
}

/**
 * The message of an error and of each cause under it (`Error.cause`), joined so that a log line or
 * an API answer says what failed and why (`idle history: … ← caused by: … ECONNREFUSED`). A cause
 * whose message the outer message already quotes is not repeated; at most five levels.
 */
export function errorChain(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    const message = errorMessage(current);
    if (!parts.some((part) => part.includes(message))) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(" ← caused by: ");
}
