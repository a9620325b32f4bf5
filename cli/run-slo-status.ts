import { evaluateSlos, type SloStatus } from "../analyzer/slo/evaluate.js";
import { createPrometheusStore } from "../analyzer/stores/prometheus-store.js";
import type { Config } from "../common/config/schema.js";
import { errorMessage } from "../common/errors.js";
import { formatSloTable } from "./format-slo-table.js";

/** Where `slo status` reads when no source is given: the analyzer `inferwatch up` runs. */
export const DEFAULT_STATUS_SOURCE = "analyzer=http://127.0.0.1:9465";

/**
 * `inferwatch slo status`: evaluates every SLO once against Prometheus, or asks a running analyzer
 * (`analyzer=<url>`), and prints a table or JSON. Returns the exit code: 0, or 1 when the source
 * cannot answer.
 */
export async function runSloStatus(
  config: Config,
  format: "table" | "json",
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const source = config.analyzer.source === "" ? DEFAULT_STATUS_SOURCE : config.analyzer.source;
  const at = source.indexOf("=");
  const kind = source.slice(0, at);
  const url = source.slice(at + 1);
  let slos: readonly SloStatus[];
  let atMs = Date.now();
  try {
    if (kind === "prometheus") {
      const evaluation = await evaluateSlos(
        createPrometheusStore({ url, timeoutMs: config.analyzer.queryTimeout }),
        config.slo,
        atMs,
      );
      slos = evaluation.slos;
    } else if (kind === "analyzer") {
      const response = await fetch(new URL("/api/v1/slos", url), {
        signal: AbortSignal.timeout(config.analyzer.queryTimeout),
      });
      if (!response.ok) throw new Error(`${url} answered ${response.status}`);
      const body = (await response.json()) as { slos: SloStatus[]; evaluatedAt: string | null };
      slos = body.slos;
      if (body.evaluatedAt) atMs = Date.parse(body.evaluatedAt);
    } else {
      throw new Error(
        "slo status reads prometheus=<url> or analyzer=<url>; the agents hold no history: run the analyzer on them (inferwatch analyzer --source agents=…) and ask it",
      );
    }
  } catch (err) {
    process.stderr.write(`inferwatch slo status: ${errorMessage(err)}\n`);
    return 1;
  }
  out.write(
    format === "json"
      ? `${JSON.stringify({ evaluatedAt: new Date(atMs).toISOString(), slos }, null, 2)}\n`
      : formatSloTable(slos, atMs),
  );
  return 0;
}
