/**
 * The agent's young generation stays at its starting size (agent/heap-settings.ts): a Node
 * process that allocates short-lived objects at a steady rate, with and without the setting made
 * at start-up, and V8's own report of its new space afterwards. Run as separate processes (the
 * flag is process-wide) from the build in dist/ (npm test compiles first). The other setting,
 * `--optimize-for-size`, changes how far V8 lets the old generation grow over minutes; a short
 * process shows no difference, so the RSS benchmark (`BENCH_ONLY=rss`) is where it is measured.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { projectPath } from "../../common/paths.js";

const run = promisify(execFile);
const MIB = 1024 * 1024;

/** New space size, bytes, after allocating ~200 MB of small objects that die young. */
async function newSpaceAfterChurn(isSmall: boolean): Promise<number> {
  const module = pathToFileURL(projectPath("dist/agent/heap-settings.js")).href;
  const script = `
    const v8 = await import("node:v8");
    if (${isSmall}) (await import(${JSON.stringify(module)})).applyAgentHeapSettings();
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
  it("keeps new space at its starting size under churn, where V8's default grows it several-fold", async () => {
    const [grown, small] = await Promise.all([newSpaceAfterChurn(false), newSpaceAfterChurn(true)]);
    expect(small).toBeLessThanOrEqual(4 * MIB);
    expect(grown).toBeGreaterThanOrEqual(4 * small);
  });
});
