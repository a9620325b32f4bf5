import { startAgent, type Agent } from "../agent/agent.js";
import { applyAgentHeapSettings } from "../agent/heap-settings.js";
import type { Config } from "../common/config/schema.js";
import { errorMessage } from "../common/errors.js";
import { createLogger, type Logger } from "../common/log.js";
import { loadSecurity, openListenerWarnings, type ListenerExposure, type Security } from "../common/auth/security.js";
import { waitForSignal } from "./signals.js";

/** Runs the agent until SIGINT or SIGTERM; resolves with the process exit code. */
export async function runAgent(config: Config): Promise<number> {
  // Again, now from the whole configuration: a file's `agent.heap` is known only here.
  applyAgentHeapSettings(config.agent.heap);
  const log = createLogger({ level: config.log.level, format: config.log.format });
  let agent: Agent;
  let security: Security | undefined;
  try {
    security = await loadSecurity(config, log);
    agent = await startAgent(config.agent, log, { security });
    const { metricsAddr, otlp } = config.agent;
    const exposed: ListenerExposure[] = [{ name: "metrics", host: metricsAddr.host, takesTokens: false }];
    if (otlp.enabled)
      exposed.push(
        { name: "otlp-http", host: otlp.httpAddr.host, takesTokens: true },
        { name: "otlp-grpc", host: otlp.grpcAddr.host, takesTokens: true },
      );
    for (const warning of openListenerWarnings(exposed, config)) log.warn(warning);
  } catch (err) {
    security?.stop();
    log.fatal({ err: errorMessage(err) }, "agent failed to start");
    return 1;
  }
  const signal = await waitForSignal(log);
  try {
    await agent.shutdown();
    security.stop();
  } catch (err) {
    log.error({ err: errorMessage(err) }, "shutdown failed");
    return 1;
  }
  if (agent.hasStuckNvmlCall()) terminateNow(signal, log);
  return 0;
}

/**
 * A thread blocked inside a hung NVML call keeps Node's normal exit waiting until the call returns
 * (worker threads are joined at exit). Everything else is already shut down, so the process ends
 * the Unix way: the signal is raised again with its default action.
 */
export function terminateNow(signal: NodeJS.Signals, log: Logger): void {
  log.warn({ signal }, "an NVML call is still hung in the driver; ending the process by signal");
  log.flush();
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
}
