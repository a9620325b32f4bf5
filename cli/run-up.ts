import { startAgent, type Agent } from "../agent/agent.js";
import { loadNvmlLibrary } from "../agent/nvml/nvml-library.js";
import { SimulatedNvmlClient, SimulatedPodAttributor } from "./simulate/simulated-nvml-client.js";
import { startAnalyzer, type Analyzer } from "../analyzer/service.js";
import { createStore } from "../analyzer/stores/create-store.js";
import { MemoryStore } from "../analyzer/stores/memory-store.js";
import type { Component } from "../common/component.js";
import { parseListenAddress } from "../common/config/listen-address.js";
import type { Config } from "../common/config/schema.js";
import { errorMessage } from "../common/errors.js";
import { createLogger, isPrettyLog, type Logger } from "../common/log.js";
import { packageVersion } from "../common/paths.js";
import { loadSecurity, withoutTls, type Security } from "../common/auth/security.js";
import { compileFleet } from "./simulate/fleet-model.js";
import { DEFAULT_SCENARIO, scenarioTierRules } from "./simulate/scenario.js";
import { writeHistory } from "./simulate/history.js";
import { storeSink } from "./simulate/store-sink.js";
import { SimulatedRuntimePages } from "./simulate/runtime-pages.js";
import { SpanTraffic } from "./simulate/span-traffic.js";
import { terminateNow } from "./run-agent.js";
import { bannerEvent, bannerLines, type UpFacts } from "./up-banner.js";
import { waitForSignal } from "./signals.js";

/**
 * History written before the live fleet starts: six hours at one-minute steps fills every page
 * window at once and keeps start-up within seconds on a laptop (a month is what `inferwatch report`
 * fast-forwards). Longer windows and the 30-day budget fill as the fleet runs.
 */
const HISTORY_DAYS = 0.25;
const HISTORY_STEP_MS = 60_000;

const LOOPBACK_ANY_PORT = parseListenAddress("127.0.0.1:0") as { host: string; port: number };

/** Whether the configured NVML library can be loaded on this machine (it is unloaded again). */
function hasNvml(library: string): boolean {
  try {
    loadNvmlLibrary(library).unload();
    return true;
  } catch {
    return false;
  }
}

function shown(address: { host: string; port: number }): string {
  return `${address.host === "0.0.0.0" || address.host === "::" ? "127.0.0.1" : address.host}:${address.port}`;
}

/**
 * `inferwatch up` (what `npm start` runs): everything on one machine. With an NVIDIA driver, one
 * agent on the real GPUs; without one, a simulated fleet — one real agent per simulated node, each
 * with a simulated NVML client, receiving simulated vLLM spans over OTLP/HTTP and scraping its
 * replicas' simulated vLLM /metrics — said loudly in the log and labelled `source="simulated"`.
 * Then the analyzer (API, console at /, report) on the embedded store pulling the agents, with six
 * hours of simulated history written first so every page window has data at once. It ends with a
 * banner naming what runs and where to look, the console's URL last (cli/up-banner.ts).
 */
export async function runUp(config: Config): Promise<number> {
  const log = createLogger({ level: config.log.level, format: config.log.format });
  const agents: Agent[] = [];
  const extra: Component[] = [];
  let analyzer: Analyzer | undefined;
  let security: Security | undefined;
  try {
    security = await loadSecurity(config, log);
    const isReal = hasNvml(config.agent.nvml.library);
    const memory = new MemoryStore();
    let fleetFacts: UpFacts["fleet"];
    let pools = config.analyzer.pools;
    if (isReal) {
      // The agent's /metrics stays plain: the embedded analyzer pulls it (docs/deployment-and-security.md).
      agents.push(await startAgent(config.agent, log, { security: withoutTls(security, ["metrics"]) }));
      fleetFacts = { kind: "real", library: config.agent.nvml.library };
    } else {
      const nowMs = Date.now();
      const scenario = DEFAULT_SCENARIO;
      const fleet = compileFleet(scenario, { originMs: nowMs });
      log.warn(
        {
          library: config.agent.nvml.library,
          scenario: scenario.name,
          nodes: fleet.nodes.length,
          gpus: fleet.gpus.length,
        },
        'NO NVML LIBRARY ON THIS MACHINE: running a SIMULATED fleet (every GPU series is labelled source="simulated")',
      );
      const started = performance.now();
      const history = writeHistory(
        scenario,
        { endMs: nowMs, originMs: nowMs, days: HISTORY_DAYS, stepMs: HISTORY_STEP_MS, spans: config.agent.spans },
        storeSink(memory),
      );
      log.info(
        { hours: HISTORY_DAYS * 24, samples: history.samples, ms: Math.round(performance.now() - started) },
        "wrote simulated history into the analyzer's store",
      );
      const runtimePages = new SimulatedRuntimePages({ fleet, log: log.child({ component: "simulated-runtimes" }) });
      await runtimePages.start();
      extra.push(runtimePages);
      for (const [i, node] of fleet.nodes.entries()) {
        const agentConfig = {
          ...config.agent,
          nodeName: node.name,
          metricsAddr: i === 0 ? config.agent.metricsAddr : LOOPBACK_ANY_PORT,
          otlp: { ...config.agent.otlp, httpAddr: LOOPBACK_ANY_PORT, grpcAddr: LOOPBACK_ANY_PORT },
          host: { ...config.agent.host, enabled: config.agent.host.enabled && i === 0 },
          pods: { ...config.agent.pods, enabled: false },
          spans: { ...config.agent.spans, tiers: scenarioTierRules(scenario) },
          runtimes: {
            ...config.agent.runtimes,
            targets: [...config.agent.runtimes.targets, ...runtimePages.targetsFor(node.name)],
          },
        };
        agents.push(
          await startAgent(agentConfig, log.child({ node: node.name }), {
            nvml: new SimulatedNvmlClient({ fleet, node: node.name }),
            podAttributor: new SimulatedPodAttributor(fleet, node.name),
          }),
        );
      }
      extra.push(
        new SpanTraffic({
          fleet,
          log: log.child({ component: "simulated-traffic" }),
          targets: agents.map((agent, i) => ({
            node: fleet.nodes[i]?.name ?? "",
            url: `http://${agent.otlpAddresses.http ?? ""}/v1/traces`,
          })),
        }),
      );
      pools = fleet.nodes.map((node) => ({
        name: node.pool,
        nodes: `^${node.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`,
      }));
      fleetFacts = { kind: "simulated", scenario: scenario.name, nodes: fleet.nodes.length, gpus: fleet.gpus.length };
    }
    const source = `agents=${agents.map((agent) => `http://${shown(agent.metricsAddress)}`).join(",")}`;
    const analyzerConfig = { ...config.analyzer, source, pools };
    const setup = await createStore(analyzerConfig, log, memory);
    for (const component of extra) await component.start();
    analyzer = await startAnalyzer(analyzerConfig, config.slo, setup.store, log.child({ component: "analyzer" }), {
      components: setup.components,
      security,
    });
    const api = `${security.tlsFor("analyzer") ? "https" : "http"}://${shown(analyzer.address)}`;
    const facts: UpFacts = {
      version: packageVersion(),
      fleet: fleetFacts,
      analyzer: api,
      hasTokens: security.auth !== undefined,
      agentMetrics: agents.map((agent) => `http://${shown(agent.metricsAddress)}/metrics`),
      otlp: agents[0]?.otlpAddresses ?? {},
    };
    announce(facts, log, isPrettyLog(config.log.format));
    const signal = await waitForSignal(log);
    await stopAll(analyzer, extra, agents, log);
    await security.audit.flush();
    security.stop();
    if (agents.some((agent) => agent.hasStuckNvmlCall())) terminateNow(signal, log);
    return 0;
  } catch (err) {
    log.fatal({ err: errorMessage(err) }, "inferwatch up failed");
    await stopAll(analyzer, extra, agents, log);
    security?.stop();
    return 1;
  }
}

/** The banner: a block of text for a person at a terminal, one event for a log shipper. */
function announce(facts: UpFacts, log: Logger, isPretty: boolean): void {
  if (isPretty) {
    process.stderr.write(`\n${bannerLines(facts).join("\n")}\n\n`);
    return;
  }
  const event = bannerEvent(facts);
  log.info(event.fields, event.message);
}

async function stopAll(
  analyzer: Analyzer | undefined,
  extra: readonly Component[],
  agents: readonly Agent[],
  log: Logger,
): Promise<void> {
  await Promise.allSettled(extra.map((component) => component.shutdown()));
  await Promise.allSettled([analyzer?.shutdown()]);
  await Promise.allSettled(agents.map((agent) => agent.shutdown()));
  log.info("stopped");
}
