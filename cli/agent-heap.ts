/**
 * Imported first by main.ts, so that it runs before any other module is loaded: the agent's heap
 * settings have to be in place before start-up allocates (V8 grows the young generation while the
 * modules load, and a grown young generation is not given back; see agent/heap-settings.ts).
 * Only the agent command takes them; the analyzer and the others keep V8's defaults.
 */
import { applyAgentHeapSettings, earlyAgentHeapMode } from "../agent/heap-settings.js";

if (process.argv[2] === "agent") applyAgentHeapSettings(earlyAgentHeapMode(process.argv.slice(3), process.env));
