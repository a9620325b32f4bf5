import type { Logger } from "../common/log.js";

/** Resolves with the signal on the first SIGINT or SIGTERM. */
export function waitForSignal(log: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      log.info({ signal }, "stopping");
      resolve(signal);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
}
