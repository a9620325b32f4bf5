import { Registry } from "prom-client";
import type { Component } from "../common/component.js";
import type { AnalyzerConfig } from "../common/config/schema.js";
import { errorChain } from "../common/errors.js";
import {
  startHttpServer,
  text,
  type RouteHandler,
  type RouteResponse,
  type RunningServer,
} from "../common/http-server.js";
import { silentLogger, type Logger } from "../common/log.js";
import type { FillErrorHandler } from "../common/metric-factory.js";
import { httpGuard } from "../common/auth/http-guard.js";
import { redactSecrets } from "../common/auth/redact.js";
import { Refusals, registerRefusalMetric } from "../common/auth/refusals.js";
import { plainSecurity, type Security } from "../common/auth/security.js";
import { AnswerCache, freshnessOf } from "./api/answers.js";
import { RecommendationActions } from "./api/recommendation-actions.js";
import { registerAnalyzerMetrics } from "./api/analyzer-metrics.js";
import { Evaluator } from "./evaluation/evaluator.js";
import { poolResolver } from "./fleet/assemble.js";
import type { SloConfig } from "../common/slo/spec.js";
import type { MetricStore } from "./stores/metric-store.js";
import { createPlannerThread } from "./recommend/consolidation/index.js";
import { reportRoute } from "./report/report-route.js";
import { consoleRoutes } from "./console/console-routes.js";
import type { AnalyzerState } from "./analyzer-state.js";

export type { AnalyzerState } from "./analyzer-state.js";

/** A running analyzer. */
export interface Analyzer {
  readonly address: { readonly host: string; readonly port: number };
  state(): AnalyzerState;
  /** Runs one evaluation now (tests and the CLI use it); the loop keeps its own schedule. */
  evaluate(): Promise<AnalyzerState>;
  shutdown(): Promise<void>;
}

/** The state an evaluator's parts hold now. */
function stateOf(evaluator: Evaluator, lastDurationMs: number | undefined): AnalyzerState {
  const parts = evaluator.parts();
  const served = parts
    .filter((part) => ["slos", "snapshot", "fleet", "recommendations"].includes(part.name) && part.atMs !== null)
    .map((part) => part.atMs as number);
  const failed = parts.filter((part) => part.isStale);
  return {
    slos: evaluator.slos.current,
    recommendations: evaluator.recommendations.current,
    fleet: evaluator.fleet.current,
    snapshot: evaluator.currentSnapshot(),
    evaluatedAtMs: served.length === 0 ? undefined : Math.min(...served),
    lastDurationMs,
    error: failed.length === 0 ? undefined : failed.map((part) => `${part.name}: ${part.error ?? "failed"}`).join("; "),
    parts,
    usage: evaluator.usage(),
  };
}

/**
 * Evaluates once, every part fresh: SLOs, the fleet snapshot with each model's SLO state, fleet
 * figures and recommendations. Throws the first part's failure (the report and the CLI need all).
 */
export async function evaluateOnce(
  store: MetricStore,
  config: AnalyzerConfig,
  slo: SloConfig,
  atMs: number,
): Promise<Omit<AnalyzerState, "error" | "lastDurationMs" | "parts" | "usage">> {
  const evaluator = new Evaluator({ store, config, slo, log: silentLogger() });
  await evaluator.evaluate(atMs);
  const failed = evaluator.parts().find((part) => part.isStale);
  if (failed !== undefined) throw new Error(`evaluation: ${failed.name}: ${failed.error ?? "failed"}`);
  const { slos, fleet, snapshot, recommendations } = stateOf(evaluator, undefined);
  return { slos, fleet, snapshot, recommendations, evaluatedAtMs: atMs };
}

/** A JSON body already serialised. */
function jsonBytes(body: Buffer): RouteResponse {
  return { status: 200, contentType: "application/json; charset=utf-8", body };
}

function isoOrNull(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

/**
 * Starts the analyzer on a store: an evaluation loop at `config.interval` in parts that fail alone
 * (evaluation/evaluator.ts: a store that is down, or one slow query, leaves the last answers of the
 * parts it touches served, marked stale), and the HTTP API
 * (/api/v1/slos, /api/v1/fleet, /api/v1/fragmentation, /api/v1/snapshot, /api/v1/recommendations, /api/v1/status),
 * /metrics, /healthz, /readyz, and POST /api/v1/recommendations/acknowledge and /dismiss. With
 * `security`: TLS on the listener, viewer tokens for reads and operator tokens for actions (the probes
 * stay open), actions in the audit log.
 * `components` (e.g. the agent puller feeding an embedded store) are started first and stopped last.
 */
export async function startAnalyzer(
  config: AnalyzerConfig,
  slo: SloConfig,
  store: MetricStore,
  log: Logger,
  options: {
    readonly components?: readonly Component[];
    readonly now?: () => number;
    readonly security?: Security;
  } = {},
): Promise<Analyzer> {
  const now = options.now ?? Date.now;
  // Consolidation plans run on their own thread, so the API and /metrics answer while one computes.
  const planner = createPlannerThread({ recycle: true });
  // SLOs and fleet figures are served as soon as an evaluation has them; the plan (up to its time
  // budget on the planning thread) follows.
  const evaluator = new Evaluator({
    store,
    config,
    slo,
    log,
    planner,
    onFigures: async () => {
      state = stateOf(evaluator, state.lastDurationMs);
      await prepareAnswers(state);
    },
  });
  let state: AnalyzerState = stateOf(evaluator, undefined);
  let running: Promise<AnalyzerState> | undefined;
  const evaluate = (): Promise<AnalyzerState> => {
    running ??= (async () => {
      try {
        const outcome = await evaluator.evaluate(now());
        state = stateOf(evaluator, outcome.durationMs);
        await prepareAnswers(state);
      } catch (err) {
        // The evaluator keeps part failures to itself; anything reaching here is a defect, logged with its causes.
        log.error({ err: errorChain(err) }, "evaluation failed");
      }
      return state;
    })().finally(() => {
      running = undefined;
    });
    return running;
  };

  const registry = new Registry();
  const onError: FillErrorHandler = (metric, err) => log.error({ metric, err: errorChain(err) }, "metric fill failed");
  registerAnalyzerMetrics(registry, () => state, onError);
  const refusals = new Refusals(log.child({ component: "analyzer-http" }));
  registerRefusalMetric(registry, refusals, onError);
  // Reads need a viewer token, acknowledging or dismissing an operator token (when tokens are on).
  const security = options.security ?? plainSecurity(log);
  const tls = security.tlsFor("analyzer");
  const actions = new RecommendationActions(() => state.recommendations, security.audit, now);
  // Bodies are built once per evaluation (the state object changes only then), ahead of the
  // requests and in slices (answers.ts), and served as bytes.
  const answers = new AnswerCache();
  const bodies: Record<string, (s: AnalyzerState) => unknown> = {
    slos: (s) => ({
      ...freshnessOf(s.parts, ["slos", "sloLongWindows"]),
      longWindowsAt: isoOrNull(s.slos?.longWindowsAtMs),
      sources: s.slos?.sources ?? {},
      slos: s.slos?.slos ?? [],
    }),
    fleet: (s) => ({
      ...freshnessOf(s.parts, ["fleet", "fleetDay", "snapshot"]),
      dayAt: isoOrNull(s.fleet?.dayAtMs),
      fleet: s.fleet
        ? {
            utilization: s.fleet.utilization,
            poolHours: s.fleet.poolHours,
            targetRatio: s.fleet.targetRatio,
            basis: s.fleet.basis,
            efficiency: s.fleet.efficiency,
          }
        : null,
    }),
    fragmentation: (s) => ({
      ...freshnessOf(s.parts, ["fleet", "snapshot"]),
      fragmentation: s.fleet?.fragmentation ?? null,
    }),
    snapshot: (s) => s.snapshot ?? null,
    // The plan is serialised once per evaluation; the operators' actions, which change between evaluations, are added per request.
    recommendations: (s) => ({
      ...freshnessOf(s.parts, ["recommendations", "snapshot", "idleHistory"]),
      recommendations: s.recommendations ?? null,
    }),
    status: (s) => ({
      evaluatedAt: isoOrNull(s.evaluatedAtMs),
      lastDurationMs: s.lastDurationMs ?? null,
      stale: s.error !== undefined,
      error: s.error ?? null,
      usage: s.usage ?? null,
      parts: s.parts,
    }),
  };
  const cached =
    (key: string): RouteHandler =>
    () =>
      jsonBytes(answers.get(key, state, () => bodies[key]?.(state)));
  const prepareAnswers = (s: AnalyzerState): Promise<void> =>
    answers.prepare(s, Object.fromEntries(Object.entries(bodies).map(([key, build]) => [key, () => build(s)])));
  const routes: Record<string, RouteHandler> = {
    "/api/v1/slos": cached("slos"),
    "/api/v1/fleet": cached("fleet"),
    "/api/v1/fragmentation": cached("fragmentation"),
    "/api/v1/snapshot": cached("snapshot"),
    "/api/v1/recommendations": () => {
      const plan = answers.get("recommendations", state, () => bodies["recommendations"]?.(state));
      return jsonBytes(
        Buffer.concat([
          plan.subarray(0, plan.length - 1),
          Buffer.from(`,"actions":${JSON.stringify(actions.list())}}`),
        ]),
      );
    },
    "/api/v1/status": cached("status"),
    "/metrics": async () => ({ status: 200, contentType: registry.contentType, body: await registry.metrics() }),
    "/report": reportRoute({
      store,
      slo,
      poolOf: poolResolver(config.pools),
      state: () => state,
      computeCeilingRatio: config.recommend.consolidation.computeCeilingRatio,
      source: `analyzer (${store.kind} store, ${redactSecrets(config.source)})`,
    }),
    "/healthz": () => text(200, "ok\n"),
    // Ready once any answer is served: a part that cannot be computed (a slow idle history) never holds the rest back.
    "/readyz": () =>
      state.slos === undefined && state.snapshot === undefined
        ? text(503, "no evaluation yet\n")
        : text(200, "ready\n"),
    ...consoleRoutes({
      store,
      poolOf: poolResolver(config.pools),
      state: () => state,
      refreshMs: config.interval,
      basis: config.utilizationBasis,
    }),
  };

  for (const component of options.components ?? []) await component.start();
  let server: RunningServer;
  try {
    server = await startHttpServer({
      name: "analyzer",
      address: config.listen,
      routes,
      log,
      tls,
      postRoutes: actions.routes(),
      refusals,
      guard: httpGuard({
        auth: security.auth,
        clientCert: tls?.clientCert ?? "none",
        publicPaths: new Set(["/healthz", "/readyz"]),
        refusals: { counter: refusals, listener: "analyzer" },
        onRefused: (request, path, outcome, principal) => actions.auditRefusal(request, path, outcome, principal),
      }),
    });
  } catch (err) {
    await Promise.allSettled((options.components ?? []).map((c) => c.shutdown()));
    throw new Error("analyzer: cannot listen", { cause: err });
  }
  let timer: NodeJS.Timeout | undefined;
  const loop = () => {
    void evaluate().finally(() => {
      if (timer !== undefined) timer = setTimeout(loop, config.interval).unref();
    });
  };
  timer = setTimeout(loop, 0).unref();
  let stopping: Promise<void> | undefined;
  return {
    address: { host: server.address.address, port: server.address.port },
    state: () => state,
    evaluate,
    shutdown() {
      stopping ??= (async () => {
        clearTimeout(timer);
        timer = undefined;
        await running;
        await server.close();
        await planner.shutdown();
        await Promise.allSettled((options.components ?? []).map((c) => c.shutdown()));
      })();
      return stopping;
    },
  };
}
