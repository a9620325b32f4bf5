import { writeFile } from "node:fs/promises";
import { redactSecrets } from "../common/auth/redact.js";
import { poolResolver } from "../analyzer/fleet/assemble.js";
import { buildReport } from "../analyzer/report/build-report.js";
import { renderReport, type ReportFormat } from "../analyzer/report/render.js";
import { evaluateOnce } from "../analyzer/service.js";
import { createStore } from "../analyzer/stores/create-store.js";
import type { MetricStore } from "../analyzer/stores/metric-store.js";
import type { AnalyzerConfig, Config } from "../common/config/schema.js";
import { errorMessage } from "../common/errors.js";
import { createLogger } from "../common/log.js";
import { DAY_MS } from "../common/units.js";
import { DEFAULT_SCENARIO } from "./simulate/scenario.js";
import { simulatedHistory } from "./simulate/simulated-history.js";

export type { ReportFormat } from "../analyzer/report/render.js";

/** What `inferwatch report` was asked for, besides the configuration. */
export interface ReportCommandOptions {
  readonly sinceMs: number;
  readonly format: ReportFormat;
  /** File to write; undefined: standard output. */
  readonly out?: string;
}

/** Builds the report from a store: the analyzer's evaluation at the window's end, then the report itself. */
export async function reportFrom(
  store: MetricStore,
  analyzer: AnalyzerConfig,
  config: Config,
  atMs: number,
  sinceMs: number,
  source: string,
): Promise<ReturnType<typeof buildReport>> {
  const current = await evaluateOnce(store, analyzer, config.slo, atMs);
  if (!current.snapshot || !current.recommendations)
    throw new Error("the analyzer's evaluation gave no fleet snapshot");
  return buildReport(store, {
    atMs,
    sinceMs,
    poolOf: poolResolver(analyzer.pools),
    slo: config.slo,
    source,
    computeCeilingRatio: analyzer.recommend.consolidation.computeCeilingRatio,
    utilizationBasis: analyzer.utilizationBasis,
    current: { snapshot: current.snapshot, recommendations: current.recommendations },
  });
}

async function fetchFromAnalyzer(url: string, options: ReportCommandOptions, timeoutMs: number): Promise<string> {
  const target = new URL("/report", url);
  target.searchParams.set("format", options.format);
  target.searchParams.set("since", `${Math.round(options.sinceMs / 1000)}s`);
  const response = await fetch(target, { signal: AbortSignal.timeout(Math.max(timeoutMs, 120_000)) });
  if (!response.ok) throw new Error(`${target.href} answered ${response.status}: ${(await response.text()).trim()}`);
  return response.text();
}

/**
 * `inferwatch report`: the capacity-planning report as HTML (one self-contained file), Markdown or
 * JSON, on standard output or in `--out`. Sources: none (the simulated fleet's fast-forwarded
 * history), `prometheus=<url>` (or any store the analyzer's `--source` names that keeps history),
 * `analyzer=<url>` (a running analyzer builds it from its own store). The agents keep no history:
 * `agents=` is refused with what to do instead. Returns the exit code: 0, 1 when the source fails.
 */
export async function runReport(
  config: Config,
  options: ReportCommandOptions,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const log = createLogger({ level: config.log.level, format: config.log.format });
  const source = config.analyzer.source;
  let body: string;
  try {
    if (source.startsWith("analyzer=")) {
      body = await fetchFromAnalyzer(source.slice("analyzer=".length), options, config.analyzer.queryTimeout);
    } else if (source.startsWith("agents=")) {
      throw new Error(
        "the agents keep no history: run the analyzer on them (inferwatch analyzer --source agents=…) and use --source analyzer=<url>, or read Prometheus",
      );
    } else if (source === "") {
      const started = performance.now();
      const history = simulatedHistory(config, options.sinceMs, Date.now());
      log.warn(
        { days: options.sinceMs / DAY_MS, samples: history.samples, ms: Math.round(performance.now() - started) },
        "no --source: reporting on the SIMULATED fleet's fast-forwarded history",
      );
      const report = await reportFrom(
        history.store,
        history.analyzer,
        config,
        history.endMs,
        options.sinceMs,
        `simulated fleet "${DEFAULT_SCENARIO.name}" (fast-forwarded history; no real data)`,
      );
      body = renderReport(report, options.format);
    } else {
      const setup = await createStore(config.analyzer, log);
      try {
        for (const component of setup.components) await component.start();
        const report = await reportFrom(
          setup.store,
          config.analyzer,
          config,
          Date.now(),
          options.sinceMs,
          redactSecrets(source),
        );
        body = renderReport(report, options.format);
      } finally {
        await Promise.allSettled(setup.components.map((component) => component.shutdown()));
      }
    }
  } catch (err) {
    process.stderr.write(`inferwatch report: ${errorMessage(err)}\n`);
    return 1;
  }
  if (options.out === undefined) {
    out.write(body);
  } else {
    try {
      await writeFile(options.out, body);
    } catch (err) {
      process.stderr.write(`inferwatch report: cannot write ${options.out}: ${errorMessage(err)}\n`);
      return 1;
    }
    log.info({ out: options.out, bytes: Buffer.byteLength(body) }, "report written");
  }
  return 0;
}
