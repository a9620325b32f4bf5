import { startAnalyzer } from "../analyzer/service.js";
import { createStore } from "../analyzer/stores/create-store.js";
import type { Config } from "../common/config/schema.js";
import { errorMessage } from "../common/errors.js";
import { createLogger } from "../common/log.js";
import { loadSecurity, openListenerWarnings } from "../common/auth/security.js";
import { waitForSignal } from "./signals.js";

/** `inferwatch analyzer`: the analyzer service on the configured source, until SIGINT or SIGTERM. */
export async function runAnalyzer(config: Config): Promise<number> {
  const log = createLogger({ level: config.log.level, format: config.log.format });
  if (config.analyzer.source === "" || config.analyzer.source.startsWith("analyzer=")) {
    log.fatal("the analyzer needs --source prometheus=<url> or --source agents=<url>,<url>");
    return 2;
  }
  try {
    const security = await loadSecurity(config, log);
    for (const warning of openListenerWarnings(
      [{ name: "analyzer", host: config.analyzer.listen.host, takesTokens: true }],
      config,
    ))
      log.warn(warning);
    const setup = await createStore(config.analyzer, log);
    const analyzer = await startAnalyzer(config.analyzer, config.slo, setup.store, log, {
      components: setup.components,
      security,
    }).catch((err: unknown) => {
      security.stop();
      throw err;
    });
    await waitForSignal(log);
    await analyzer.shutdown();
    await security.audit.flush();
    security.stop();
    return 0;
  } catch (err) {
    log.fatal({ err: errorMessage(err) }, "analyzer failed");
    return 1;
  }
}
