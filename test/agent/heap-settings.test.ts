/**
 * The agent's young generation stays at its starting size (agent/heap-settings.ts): a Node
 * process that allocates short-lived objects at a steady rate, with and without the setting made
 * at start-up, and V8's own report of its new space afterwards. Run as separate processes (the
 * flag is process-wide) from the build in dist/ (npm test compiles first). The other setting,
 * `--optimize-for-size`, changes how far V8 lets the old generation grow over minutes; a short
 * process shows no difference, so the RSS benchmark (`BENCH_ONLY=rss`) is where it is measured.
 * `agent.heap: v8` sets V8's defaults back after the small settings were made at start-up, as the
 * agent does when its configuration file asks for them.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { earlyAgentHeapMode } from "../../agent/heap-settings.js";
import { loadConfig } from "../../common/config/load.js";
import { projectPath } from "../../common/paths.js";
import { MIB } from "../../common/units.js";

const run = promisify(execFile);

/**
 * New space size, bytes, after allocating ~200 MB of small objects that die young, in a process that
 * applied the given heap modes in order before it (none: V8's defaults untouched).
 */
async function newSpaceAfterChurn(modes: readonly ("small" | "v8")[]): Promise<number> {
  const module = pathToFileURL(projectPath("dist/agent/heap-settings.js")).href;
  const script = `
    const v8 = await import("node:v8");
    const { applyAgentHeapSettings } = await import(${JSON.stringify(module)});
    for (const mode of ${JSON.stringify(modes)}) applyAgentHeapSettings(mode);
    let keep = [];
    for (let r = 0; r < 200; r++) {
      const batch = [];
      for (let i = 0; i < 20000; i++) batch.push({ i, s: "span-" + i });
      keep.push(batch);
      if (keep.length > 5) keep.shift();
    }
    const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
    console.log(space.space_size);`;
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script]);
  return Number(stdout.trim());
}

describe("applyAgentHeapSettings", () => {
  it("keeps new space at its starting size under churn, where V8's default grows it several-fold, and v8 sets the default back", async () => {
    const [grown, small, restored] = await Promise.all([
      newSpaceAfterChurn([]),
      newSpaceAfterChurn(["small"]),
      newSpaceAfterChurn(["small", "v8"]),
    ]);
    expect(small).toBeLessThanOrEqual(4 * MIB);
    expect(grown).toBeGreaterThanOrEqual(4 * small);
    expect(restored).toBeGreaterThanOrEqual(4 * small);
  });
});

describe("the heap mode", () => {
  it("is read from --heap and INFERWATCH_HEAP before the configuration loads, the flag winning", () => {
    expect(earlyAgentHeapMode([], {})).toBe("small");
    expect(earlyAgentHeapMode(["--heap", "v8"], {})).toBe("v8");
    expect(earlyAgentHeapMode(["--interval", "1s", "--heap=v8"], {})).toBe("v8");
    expect(earlyAgentHeapMode([], { INFERWATCH_HEAP: "v8" })).toBe("v8");
    expect(earlyAgentHeapMode(["--heap", "small"], { INFERWATCH_HEAP: "v8" })).toBe("small");
    // A value the configuration refuses starts small; loading the configuration then reports it.
    expect(earlyAgentHeapMode(["--heap", "large"], {})).toBe("small");
  });

  it("is agent.heap in the configuration, small by default, and a value other than small or v8 is refused", () => {
    const fromFile = loadConfig({ flags: { config: "c.yaml" }, env: {}, readFile: () => "agent:\n  heap: v8\n" });
    expect(fromFile.ok && fromFile.config.agent.heap).toBe("v8");
    const byDefault = loadConfig({ flags: {}, env: {} });
    expect(byDefault.ok && byDefault.config.agent.heap).toBe("small");
    const refused = loadConfig({ flags: {}, env: { INFERWATCH_HEAP: "large" } });
    expect(refused.ok).toBe(false);
    expect(refused.ok ? [] : refused.problems).toEqual([expect.stringMatching(/^agent\.heap: .*INFERWATCH_HEAP/)]);
  });
});
