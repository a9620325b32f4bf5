/**
 * No synchronous subprocess and no blocking file I/O on the agent's event loop (issue: the agent's
 * footprint). Two checks, each able to fail on its own:
 *
 * 1. Statically, over every module the `inferwatch agent` command can load (our sources and the
 *    packages they import, parsed, not grepped): no module uses execSync, execFileSync or
 *    spawnSync at all, and our own modules use synchronous fs calls only where the table below
 *    says why (start-up, before any timer runs).
 * 2. At run time (test/agent/no-sync-io.e2e.test.ts): the real agent process with every
 *    collector on, with those functions wrapped from before its first module loads, makes no such
 *    call while it samples, is scraped and takes spans.
 */
import { describe, expect, it } from "vitest";
import { projectPath, projectRoot } from "../../common/paths.js";
import { walkImportGraph, type IdentifierUse } from "../fixtures/import-graph.js";
import { CHILD_PROCESS_SYNC, FS_SYNC } from "../fixtures/sync-io-guard.js";

/** Synchronous fs calls our own agent-reachable modules may make, and why each is not on a timer path. */
const STARTUP_ONLY: readonly { readonly file: string; readonly name: string; readonly why: string }[] = [
  { file: "common/paths.ts", name: "existsSync", why: "projectRoot(): finds package.json once, memoised" },
  {
    file: "common/paths.ts",
    name: "readFileSync",
    why: "packageVersion(): read while the metrics are registered, at start",
  },
  {
    file: "common/config/load.ts",
    name: "readFileSync",
    why: "the YAML configuration file, read once before the agent starts",
  },
  {
    file: "agent/nvml/worker-nvml-client.ts",
    name: "existsSync",
    why: "workerScript(): where the compiled worker is, when NVML is opened (start and retries, not rounds)",
  },
];

// cli/main.ts loads each command's module when that command runs: the agent command's is followed, not the others'.
const main = projectPath("cli/main.ts");
const watched = new Set<string>([...CHILD_PROCESS_SYNC, ...FS_SYNC]);
const graph = walkImportGraph([main, projectPath("cli/run-agent.ts")], watched, { staticOnly: [main] });
const relative = (file: string): string => file.slice(projectRoot().length + 1);
const isOurs = (use: IdentifierUse): boolean => !use.file.includes("/node_modules/");
const describeUse = (use: IdentifierUse): string => `${relative(use.file)}:${use.line} ${use.name}`;

describe("the modules the agent command can load", () => {
  it("are found: our agent, its NVML worker and the packages the agent imports", () => {
    const files = graph.files.map(relative);
    expect(files).toContain("agent/agent.ts");
    expect(files).toContain("agent/collectors/host-collector.ts");
    expect(files).toContain("agent/nvml/nvml-worker.ts");
    for (const pkg of ["prom-client", "koffi", "pino", "@grpc/grpc-js", "influx"]) {
      expect(
        files.some((file) => file.startsWith(`node_modules/${pkg}/`)),
        pkg,
      ).toBe(true);
    }
    // Packages name optional dependencies in try/catch (koffi its other platforms, debug supports-color); ours must all resolve.
    expect(graph.unresolved.filter((u) => !u.file.includes("/node_modules/"))).toEqual([]);
  });

  it("never run a subprocess synchronously (execSync, execFileSync, spawnSync)", () => {
    const spawning = graph.uses.filter((use) => CHILD_PROCESS_SYNC.includes(use.name)).map(describeUse);
    expect(spawning).toEqual([]);
  });

  it("make synchronous fs calls of our own only at start-up, where the table says why", () => {
    const ours = graph.uses.filter((use) => isOurs(use) && FS_SYNC.includes(use.name));
    const unexplained = ours.filter(
      (use) => !STARTUP_ONLY.some((allowed) => relative(use.file) === allowed.file && use.name === allowed.name),
    );
    expect(unexplained.map(describeUse)).toEqual([]);
    // The table does not rot: every entry still names a call that exists.
    const stale = STARTUP_ONLY.filter(
      (allowed) => !ours.some((use) => relative(use.file) === allowed.file && use.name === allowed.name),
    );
    expect(stale).toEqual([]);
  });

  it("do not load systeminformation, whose network and cpu modules spawn processes synchronously", () => {
    expect(graph.files.filter((file) => file.includes("/node_modules/systeminformation/"))).toEqual([]);
  });
});
