import { Registry } from "prom-client";
import type { Component } from "../common/component.js";
import type { AnalyzerConfig } from "../common/config/schema.js";
import { errorMessage } from "../common/errors.js";
import { json, startHttpServer, text, type RouteHandler, type RunningServer } from "../common/http-server.js";
import type { Logger } from "../common/log.js";
import type { FillErrorHandler } from "../common/metric-factory.js";
import { httpGuard } from "../common/auth/http-guard.js";
import { redactSecrets } from "../common/auth/redact.js";
import { Refusals, registerRefusalMetric } from "../common/auth/refusals.js";
import { plainSecurity, type Security } from "../common/auth/security.js";
import { RecommendationActions } from "./api/recommendation-actions.js";
import { registerAnalyzerMetrics } from "./api/analyzer-metrics.js";
import { assembleFleetSnapshot, poolResolver } from "./fleet/assemble.js";
import { evaluateFleet, type FleetEvaluation } from "./fleet/evaluate.js";
import type { FleetSnapshot, ModelSloState } from "./fleet/snapshot.js";
import { evaluateSlos, type SloEvaluation } from "./slo/evaluate.js";
import { gpuUtilizationObjective, type SloConfig } from "./slo/spec.js";
import type { MetricStore } from "./stores/metric-store.js";
import { createPlannerThread, type ConsolidationPlanner } from "./recommend/consolidation/index.js";
import { idleHistoryFrom, recommend, recommendWith, type Recommendations } from "./recommend/recommendations.js";
import { reportRoute } from "./report/report-route.js";
import { consoleRoutes } from "./console/console-routes.js";

/** What the analyzer last computed. Answers stay served when an evaluation fails; `error` says so. */
export interface AnalyzerState {
  readonly slos: SloEvaluation | undefined;
  readonly recommendations: Recommendations | undefined;
  readonly fleet: FleetEvaluation | undefined;
  readonly snapshot: FleetSnapshot | undefined;
  readonly evaluatedAtMs: number | undefined;
  readonly lastDurationMs: number | undefined;
  /** The last evaluation's failure; the answers are then from `evaluatedAtMs` and marked stale. */
  readonly error: string | undefined;
}

/** A running analyzer. */
export interface Analyzer {
  readonly address: { readonly host: string; readonly port: number };
  state(): AnalyzerState;
  /** Runs one evaluation now (tests and the CLI use it); the loop keeps its own schedule. */
  evaluate(): Promise<AnalyzerState>;
  shutdown(): Promise<void>;
}

/**
 * Evaluates once: SLOs, then the fleet snapshot with each model's SLO state, then fleet figures.
 * With `planner` the consolidation plan is made there (the analyzer's planning thread; up to its
 * time budget), and `onFigures` receives everything but the recommendations before the plan starts,
 * so SLOs and fleet figures need not wait for it; without a planner the plan is made here, by the
 * heuristic alone.
 */
export async function evaluateOnce(
  store: MetricStore,
  config: AnalyzerConfig,
  slo: SloConfig,
  atMs: number,
  planner?: ConsolidationPlanner,
  onFigures?: (figures: Omit<AnalyzerState, "error" | "lastDurationMs" | "recommendations">) => void,
): Promise<Omit<AnalyzerState, "error" | "lastDurationMs">> {
  const slos = await evaluateSlos(store, slo, atMs);
  const sloState: Record<string, ModelSloState> = {};
  for (const status of slos.slos) {
    for (const model of status.models) {
      const previous = sloState[model];
      // The lowest budget left among the model's SLOs; an SLO without data keeps what another measured.
      const remaining = status.budget.state === "measured"
        ? Math.min(status.budget.remaining, previous?.errorBudgetRemainingRatio ?? Infinity)
        : previous?.errorBudgetRemainingRatio;
      sloState[model] = {
        isBurningPage: (previous?.isBurningPage ?? false) || status.burn.severity === "page",
        isBurningTicket: (previous?.isBurningTicket ?? false) || status.burn.severity === "ticket",
        ...(remaining === undefined ? {} : { errorBudgetRemainingRatio: remaining }),
      };
    }
  }
  const snapshot = await assembleFleetSnapshot(store, atMs, poolResolver(config.pools), sloState, config.utilizationBasis);
  const fleet = await evaluateFleet(store, snapshot, {
    atMs, targetRatio: gpuUtilizationObjective(slo, "default").minRatio, prices: config.gpuHourPrices, basis: config.utilizationBasis,
  });
  const history = await idleHistoryFrom(store, atMs);
  onFigures?.({ slos, fleet, snapshot, evaluatedAtMs: atMs });
  const recommendations = planner === undefined ? recommend(snapshot, history, config.recommend, atMs) : await recommendWith(planner, snapshot, history, config.recommend, atMs);
  return { slos, fleet, snapshot, recommendations, evaluatedAtMs: atMs };
}

/**
 * Starts the analyzer on a store: an evaluation loop at `config.interval` (its own errors caught:
 * a store that is down leaves the last answers served, marked stale), and the HTTP API
 * (/api/v1/slos, /api/v1/fleet, /api/v1/fragmentation, /api/v1/snapshot, /api/v1/recommendations),
 * the live console at / (analyzer/console),
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
  options: { readonly components?: readonly Component[]; readonly now?: () => number; readonly security?: Security } = {},
): Promise<Analyzer> {
  const now = options.now ?? Date.now;
  let state: AnalyzerState = { slos: undefined, recommendations: undefined, fleet: undefined, snapshot: undefined, evaluatedAtMs: undefined, lastDurationMs: undefined, error: undefined };
  let running: Promise<AnalyzerState> | undefined;
  // Consolidation plans run on their own thread, so the API and /metrics answer while one computes.
  const planner = createPlannerThread();
  const evaluate = (): Promise<AnalyzerState> => {
    running ??= (async () => {
      const started = performance.now();
      try {
        // SLOs and fleet figures are served as soon as they are known; the plan follows.
        const result = await evaluateOnce(store, config, slo, now(), planner, (figures) => (state = { ...state, ...figures, error: undefined }));
        state = { ...result, lastDurationMs: performance.now() - started, error: undefined };
      } catch (err) {
        const message = errorMessage(err);
        if (state.error !== message) log.warn({ err: message }, "evaluation failed; serving the last answers, marked stale");
        state = { ...state, lastDurationMs: performance.now() - started, error: message };
      }
      return state;
    })().finally(() => {
      running = undefined;
    });
    return running;
  };

  const registry = new Registry();
  const onError: FillErrorHandler = (metric, err) => log.error({ metric, err: errorMessage(err) }, "metric fill failed");
  registerAnalyzerMetrics(registry, () => state, onError);
  const refusals = new Refusals(log.child({ component: "analyzer-http" }));
  registerRefusalMetric(registry, refusals, onError);
  // Reads need a viewer token, acknowledging or dismissing an operator token (when tokens are on).
  const security = options.security ?? plainSecurity(log);
  const tls = security.tlsFor("analyzer");
  const actions = new RecommendationActions(() => state.recommendations, security.audit, now);
  const stale = () => ({ evaluatedAt: state.evaluatedAtMs === undefined ? null : new Date(state.evaluatedAtMs).toISOString(), stale: state.error !== undefined, error: state.error ?? null });
  const routes: Record<string, RouteHandler> = {
    "/api/v1/slos": () => json(200, { ...stale(), slos: state.slos?.slos ?? [] }),
    "/api/v1/fleet": () => json(200, { ...stale(), fleet: state.fleet ? { utilization: state.fleet.utilization, poolHours: state.fleet.poolHours, targetRatio: state.fleet.targetRatio, basis: state.fleet.basis, efficiency: state.fleet.efficiency } : null }),
    "/api/v1/fragmentation": () => json(200, { ...stale(), fragmentation: state.fleet?.fragmentation ?? null }),
    "/api/v1/snapshot": () => json(200, state.snapshot ?? null),
    "/api/v1/recommendations": () => json(200, { ...stale(), recommendations: state.recommendations ?? null, actions: actions.list() }),
    "/metrics": async () => ({ status: 200, contentType: registry.contentType, body: await registry.metrics() }),
    "/report": reportRoute({ store, slo, poolOf: poolResolver(config.pools), state: () => state, computeCeilingRatio: config.recommend.consolidation.computeCeilingRatio, source: `analyzer (${store.kind} store, ${redactSecrets(config.source)})` }),
    "/healthz": () => text(200, "ok\n"),
    "/readyz": () => (state.evaluatedAtMs === undefined ? text(503, "no evaluation yet\n") : text(200, "ready\n")),
    ...consoleRoutes({ store, poolOf: poolResolver(config.pools), state: () => state, refreshMs: config.interval }),
  };

  for (const component of options.components ?? []) await component.start();
  let server: RunningServer;
  try {
    server = await startHttpServer({ name: "analyzer", address: config.listen, routes, log, tls, postRoutes: actions.routes(), refusals,
      guard: httpGuard({ auth: security.auth, clientCert: tls?.clientCert ?? "none", publicPaths: new Set(["/healthz", "/readyz"]), refusals: { counter: refusals, listener: "analyzer" },
        onRefused: (request, path, outcome, principal) => actions.auditRefusal(request, path, outcome, principal) }) });
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
