import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";
import { parseFleetSnapshot } from "../../analyzer/fleet/snapshot.js";
import { checkPlan } from "../../analyzer/recommend/checker.js";
import { parseConsolidationConfig } from "../../analyzer/recommend/constraints.js";
import type { Recommendations } from "../../analyzer/recommend/recommendations.js";
import { projectPath } from "../../common/paths.js";

const run = promisify(execFile);
const cli = projectPath("dist/cli/main.js");
const example = projectPath("analyzer/fleet/examples/simulated-fleet.json");

it("plans the shipped example snapshot as JSON: moves the independent checker accepts, GPUs freed, bounds and Kubernetes steps", async () => {
  const { stdout } = await run(process.execPath, [cli, "recommend", "--snapshot", example, "--format", "json"]);
  const result = JSON.parse(stdout) as Recommendations & { kubernetesSteps: string };
  const plan = result.consolidation;
  expect(plan.check.isValid).toBe(true);
  expect(plan.gpusFreed).toBe(plan.gpusInUseBefore - plan.gpusInUseAfter);
  expect(plan.movesCount).toBe(plan.moves.length);
  for (const pool of plan.pools) {
    expect(pool.lowerBound).not.toBeNull();
    expect(pool.gpusInUseAfter).toBeGreaterThanOrEqual(pool.lowerBound?.bound ?? Infinity);
  }
  for (const cls of plan.classes) expect(cls.gapGpus).toBeGreaterThanOrEqual(0);
  const snapshot = parseFleetSnapshot(JSON.parse(await readFile(example, "utf8")) as unknown);
  expect(checkPlan(snapshot, plan.moves, parseConsolidationConfig({})).violations).toEqual([]);
  expect(result.idle.scaleToZero.map((candidate) => candidate.model)).toEqual(["mistral-7b-awq"]);
  for (const move of plan.moves)
    expect(result.kubernetesSteps).toContain(`kubectl delete pod -n ${move.namespace} ${move.pod}`);
});

it("refuses a malformed snapshot with the path of every problem, and exits 1", async () => {
  const dir = await mkdtemp(join(tmpdir(), "inferwatch-recommend-"));
  const bad = join(dir, "bad.json");
  const snapshot = JSON.parse(await readFile(example, "utf8")) as { replicas: { node: string }[] };
  (snapshot.replicas[0] as { node: string }).node = "no-such-node";
  await writeFile(bad, JSON.stringify(snapshot));
  const failed = await run(process.execPath, [cli, "recommend", "--snapshot", bad]).then(
    () => undefined,
    (err: { code: number; stderr: string }) => err,
  );
  expect(failed?.code).toBe(1);
  expect(failed?.stderr).toMatch(/replicas\.0\.node: unknown node no-such-node/);
});
