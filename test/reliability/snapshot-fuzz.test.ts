/**
 * Hostile fleet snapshot files, as `inferwatch recommend --snapshot` reads them: random
 * JSON, the shipped example with one node of its tree replaced by a random value, truncated text.
 * parseFleetSnapshot must return a snapshot or throw its one "is invalid" error listing the
 * problems; a snapshot it accepts must plan without throwing; the CLI must exit 1 with the reason.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseFleetSnapshot, type FleetSnapshot } from "../../analyzer/fleet/snapshot.js";
import { recommend } from "../../analyzer/recommend/recommendations.js";
import { configSchema } from "../../common/config/schema.js";
import { projectPath } from "../../common/paths.js";

const EXAMPLE_PATH = projectPath("analyzer/fleet/examples/simulated-fleet.json");
const exampleText = await readFile(EXAMPLE_PATH, "utf8");
const example = JSON.parse(exampleText) as unknown;
const recommendConfig = configSchema.parse({}).analyzer.recommend;

/** Parses; a refusal must be the documented error, never a TypeError or a stack overflow. */
function parseOrRefuse(input: unknown): FleetSnapshot | undefined {
  try {
    return parseFleetSnapshot(input, "fuzz.json");
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).constructor).toBe(Error);
    expect((err as Error).message).toMatch(/^fuzz\.json is invalid:\n {2}\S/);
    return undefined;
  }
}

/** Every path to a node of a JSON tree. */
function nodePaths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(value)) value.forEach((item, i) => out.push(...nodePaths(item, [...prefix, i])));
  else if (value !== null && typeof value === "object")
    for (const [key, item] of Object.entries(value)) out.push(...nodePaths(item, [...prefix, key]));
  return out;
}

function replaceAt(tree: unknown, path: readonly (string | number)[], leaf: unknown): unknown {
  if (path.length === 0) return leaf;
  const copy = structuredClone(tree) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path.at(-1) as string | number] = leaf;
  return copy;
}

const examplePaths = nodePaths(example);

describe("fleet snapshot parsing on hostile input", () => {
  it("refuses random JSON values with the listed problems", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => void parseOrRefuse(value)),
      { numRuns: 300 },
    );
  });

  it("parses or refuses the example with one node replaced by a random value, and plans what it accepts", () => {
    const leaf = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom(-1, 0, 1e308, -1e308, 2 ** 53 + 1, "", "GPU-x", null, [], {}),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: examplePaths.length - 1 }), leaf, (index, value) => {
        const snapshot = parseOrRefuse(replaceAt(example, examplePaths[index] ?? [], value));
        if (snapshot === undefined) return;
        const plan = recommend(snapshot, null, recommendConfig, snapshot.takenAtMs);
        expect(plan.consolidation).toBeDefined();
      }),
      { numRuns: 60 },
    );
  }, 60_000);

  // A random node of the tree rarely keeps the snapshot valid (most of 60 random mutations are
  // refused, and a run could refuse all of them), so the planner's side is driven by mutations
  // that the schema must accept: any string as a node label's value, any ratio as a GPU's busy share.
  it("accepts and plans the example with a label value or a GPU's utilization replaced by any valid value", () => {
    const labelPaths = examplePaths.filter((path) => path.length === 4 && path[2] === "labels");
    const utilizationPaths = examplePaths.filter((path) => path.at(-1) === "utilizationRatio");
    expect(labelPaths.length).toBeGreaterThan(0);
    expect(utilizationPaths.length).toBeGreaterThan(0);
    const mutation = fc.oneof(
      fc.tuple(fc.constantFrom(...labelPaths), fc.string()),
      fc.tuple(
        fc.constantFrom(...utilizationPaths),
        fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), fc.constant(null)),
      ),
    );
    fc.assert(
      fc.property(mutation, ([path, value]) => {
        const snapshot = parseOrRefuse(replaceAt(example, path, value));
        expect(snapshot).toBeDefined();
        if (snapshot === undefined) return;
        const plan = recommend(snapshot, null, recommendConfig, snapshot.takenAtMs);
        expect(plan.consolidation).toBeDefined();
      }),
      { numRuns: 40 },
    );
  }, 60_000);

  it("refuses 100,000 nested arrays without overflowing the stack", () => {
    expect(parseOrRefuse(JSON.parse(`${"[".repeat(100_000)}${"]".repeat(100_000)}`))).toBeUndefined();
  });
});

describe("inferwatch recommend --snapshot on broken files", () => {
  const run = promisify(execFile);
  it.each([
    ["a file cut in the middle", exampleText.slice(0, Math.floor(exampleText.length / 2)), /JSON/],
    ["binary bytes", "\u0000\u0001\u00ff\ufffd{", /JSON/],
    ["a JSON array", "[1, 2, 3]", /is invalid/],
    [
      "the example with a negative GPU memory",
      exampleText.replace(/"memoryTotalBytes":\s*\d+/, '"memoryTotalBytes": -5'),
      /nodes\.0\.gpus\.0\.memoryTotalBytes: /,
    ],
  ])("exits 1 and names the reason for %s", async (_what, text, reason) => {
    const dir = await mkdtemp(join(tmpdir(), "inferwatch-snapshot-"));
    const file = join(dir, "snapshot.json");
    await writeFile(file, text);
    const failure = await run(process.execPath, [
      projectPath("dist/cli/main.js"),
      "recommend",
      "--snapshot",
      file,
    ]).then(
      () => undefined,
      (err: unknown) => err as { code: number; stderr: string },
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toMatch(/^inferwatch recommend: /);
    expect(failure?.stderr).toMatch(reason);
    expect(failure?.stderr).not.toMatch(/\n\s+at /);
  });
});
