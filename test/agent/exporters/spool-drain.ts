import type { DiskSpool } from "../../../agent/exporters/spool/disk-spool.js";

/** Reads and commits everything pending, in order, `maxPoints` a batch, returning the payloads as strings. */
export async function drain(spool: DiskSpool, maxPoints = 1_000_000): Promise<string[]> {
  const seen: string[] = [];
  for (;;) {
    const batch = await spool.peek(maxPoints);
    if (batch === null) return seen;
    seen.push(...batch.payloads.map((p) => p.toString()));
    await spool.commit(batch.end);
  }
}
