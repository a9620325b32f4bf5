import type { Component } from "../../common/component.js";
import type { AnalyzerConfig } from "../../common/config/schema.js";
import { errorChain } from "../../common/errors.js";
import type { Logger } from "../../common/log.js";
import { AgentPuller } from "./agent-puller.js";
import { MemoryStore } from "./memory-store.js";
import type { MetricStore } from "./metric-store.js";
import { createInfluxStore } from "./influx-store.js";
import { createPrometheusStore } from "./prometheus-store.js";

/** A store and the components that keep it fed (started before use, stopped after). */
export interface StoreSetup {
  readonly store: MetricStore;
  readonly components: readonly Component[];
  /** The embedded store, when the source is the agents (the simulator writes history into it). */
  readonly memory?: MemoryStore;
}

/**
 * Builds the store the `source` setting names: `prometheus=<url>` reads the Prometheus HTTP API;
 * `influx=<url>?db=<database>&rp=<policy>` reads InfluxDB 1.x (influx-store.ts);
 * `agents=<url>,<url>` pulls the agents into the embedded store, loaded from and saved to
 * `statePath` when one is set (a corrupt file is logged and the store starts empty).
 */
export async function createStore(config: AnalyzerConfig, log: Logger, memory?: MemoryStore): Promise<StoreSetup> {
  const [kind, value] = splitSource(config.source);
  if (kind === "prometheus") {
    const store = createPrometheusStore({
      url: value,
      timeoutMs: config.queryTimeout,
      maxConcurrent: config.queryConcurrency,
      retries: config.queryRetries,
      maxAnswerBytes: config.maxAnswerBytes,
    });
    return {
      store,
      components: [{ name: "prometheus-store", start: async () => {}, shutdown: async () => store.close() }],
    };
  }
  if (kind === "influx")
    return { store: createInfluxStore({ url: value, timeoutMs: config.queryTimeout }), components: [] };
  let store = memory;
  const components: Component[] = [];
  if (!store && config.statePath !== "") {
    const loaded = await MemoryStore.load(config.statePath);
    if (loaded.state === "corrupt")
      log.warn(
        { path: config.statePath, err: errorChain(loaded.error) },
        "analyzer state unreadable; starting with an empty history",
      );
    store = loaded.store;
  }
  store ??= new MemoryStore();
  const targets = value
    .split(",")
    .map((target) => target.trim())
    .filter((target) => target !== "");
  components.push(
    new AgentPuller({ targets, store, intervalMs: config.pullInterval, log: log.child({ component: "agent-puller" }) }),
  );
  if (config.statePath !== "") {
    const persisted = store;
    let persister: ReturnType<MemoryStore["startPersisting"]> | undefined;
    components.push({
      name: "store-persistence",
      async start() {
        persister ??= persisted.startPersisting(config.statePath, 60_000, (err) =>
          log.warn({ err: errorChain(err) }, "saving analyzer state failed"),
        );
      },
      async shutdown() {
        await persister?.stop({ flush: true });
        persister = undefined;
      },
    });
  }
  return { store, components, memory: store };
}

/** `kind=value` of the source setting; an empty source means no store. */
export function splitSource(source: string): [kind: "prometheus" | "influx" | "agents", value: string] {
  const at = source.indexOf("=");
  const kind = source.slice(0, at);
  if (at < 0 || (kind !== "prometheus" && kind !== "influx" && kind !== "agents"))
    throw new Error(
      `analyzer: --source must be prometheus=<url>, influx=<url> or agents=<url>,<url>, got ${JSON.stringify(source)}`,
    );
  return [kind, source.slice(at + 1)];
}
