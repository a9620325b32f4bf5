import { errorMessage } from "../../common/errors.js";
import type { AgentComponent, AgentContext, AnyAgentComponent, ComponentName } from "./context.js";

/** The components the lifecycle created, in table order. */
export interface RunningComponents {
  /** Stops every component in reverse table order; a failing stop is logged and the rest still stop. Idempotent. */
  stop(): Promise<void>;
}

/** A created component, bound to its entry's start and stop. */
interface Created {
  readonly name: ComponentName;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The one lifecycle loop of the agent: creates every enabled component of `table` in order (each
 * lands in `context.services` under its name, its collector in `context.scheduled`), defines every
 * component's metrics on both registries, then starts them in order. When a component cannot be
 * created or started, every component created so far is stopped, in reverse order, and the error
 * names the component: `agent: cannot start <name>: <reason>`.
 */
export async function startComponents(
  table: readonly AnyAgentComponent[],
  context: AgentContext,
): Promise<RunningComponents> {
  const created: Created[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const component of [...created].reverse()) {
        try {
          await component.stop();
        } catch (err) {
          context.log.warn({ component: component.name, err: errorMessage(err) }, "component did not stop cleanly");
        }
      }
    })();
    return stopping;
  };
  const fail = async (name: ComponentName, err: unknown): Promise<never> => {
    await stop();
    throw new Error(`agent: cannot start ${name}: ${errorMessage(err)}`, { cause: err });
  };
  const registerMetrics: (() => void)[] = [];
  for (const entry of table) {
    try {
      if (!entry.enabled(context)) continue;
      const component = await create(entry, context, registerMetrics);
      created.push(component);
    } catch (err) {
      return fail(entry.name, err);
    }
  }
  for (const register of registerMetrics) register();
  for (const component of created) {
    try {
      await component.start();
    } catch (err) {
      return fail(component.name, err);
    }
  }
  return { stop };
}

/** Creates one component, records it as a service and its collector and metrics. */
async function create<K extends ComponentName>(
  entry: AgentComponent<K>,
  context: AgentContext,
  registerMetrics: (() => void)[],
): Promise<Created> {
  const instance = await entry.create(context);
  context.services[entry.name] = instance;
  if (entry.schedule) {
    if (context.services.sampler) throw new Error("it is scheduled but placed after the sampler in the table");
    context.scheduled.push(entry.schedule(instance, context));
  }
  if (entry.metrics) {
    registerMetrics.push(() => {
      for (const registry of [context.registries.prometheus, context.registries.openMetrics])
        entry.metrics?.(registry, instance, context);
    });
  }
  return { name: entry.name, start: () => entry.start(instance), stop: () => entry.stop(instance) };
}
