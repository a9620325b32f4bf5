/**
 * The import graph of the product folders: `common/` is the ground floor (it imports nothing from
 * `agent/`, `analyzer/` or `cli/`), and no module imports itself back through others, type-only
 * imports included. The edges are read with the TypeScript compiler's own pre-processor
 * (`ts.preProcessFile`): `import`, `import type`, `export … from`, `import x = require(…)` and
 * `import(…)`, whatever the line breaks.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { projectPath } from "../../common/paths.js";

const PRODUCT_FOLDERS = ["agent", "analyzer", "common", "cli", "alerts", "dashboards"] as const;
/** Folders `common/` must not import from. */
const ABOVE_COMMON = ["agent", "analyzer", "cli"] as const;
const CODE = /\.(ts|js|mjs|cjs)$/;

/** Module files by repository-relative path, each with the repository-relative paths it imports. */
type ImportGraph = ReadonlyMap<string, readonly string[]>;

/** The module specifiers one source file names, in order of appearance. */
function specifiersOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((file) => file.fileName);
}

/**
 * The repository-relative file a relative specifier of `from` names: `./x.js` is `./x.ts` where that
 * exists (NodeNext resolution of TypeScript sources), else the file itself, else `x/index.ts`.
 * Undefined when nothing exists there.
 */
function resolveSpecifier(root: string, from: string, specifier: string): string | undefined {
  const base = join(dirname(from), specifier);
  const candidates = [base.replace(/\.js$/, ".ts"), base, `${base}.ts`, join(base, "index.ts")];
  return candidates.find((candidate) => existsSync(join(root, candidate)) && statSync(join(root, candidate)).isFile());
}

function codeFiles(root: string, folder: string): string[] {
  return readdirSync(join(root, folder), { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return codeFiles(root, path);
    return CODE.test(entry.name) ? [path] : [];
  });
}

/** The graph of `folders` under `root`; a relative specifier that names no file is a problem, not a missing edge. */
function readImportGraph(root: string, folders: readonly string[]): { graph: ImportGraph; unresolved: string[] } {
  const graph = new Map<string, string[]>();
  const unresolved: string[] = [];
  for (const file of folders.flatMap((folder) => codeFiles(root, folder))) {
    const targets: string[] = [];
    for (const specifier of specifiersOf(readFileSync(join(root, file), "utf8"))) {
      if (!specifier.startsWith(".")) continue;
      const target = resolveSpecifier(root, file, specifier);
      if (target === undefined) unresolved.push(`${file} → ${specifier}`);
      else if (CODE.test(target)) targets.push(target);
    }
    graph.set(file, [...new Set(targets)]);
  }
  return { graph, unresolved };
}

/**
 * One cycle through each strongly connected component of more than one module (or a module that
 * imports itself), as the files in import order with the first repeated at the end (Tarjan's
 * algorithm, then a breadth-first path back to the component's first file within the component).
 */
function findCycles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node) ?? 0);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop();
      if (member === undefined) break;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) components.push(component.sort());
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return components.map((component) => cycleThrough(graph, new Set(component), component[0] ?? ""));
}

/** The shortest path from `start` back to itself inside `members`. */
function cycleThrough(graph: ImportGraph, members: ReadonlySet<string>, start: string): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head] ?? "";
    for (const next of graph.get(node) ?? []) {
      if (!members.has(next)) continue;
      if (next === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(previous.get(path[0] ?? "") ?? start);
        return [...path, start];
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start];
}

describe("the checks themselves", () => {
  it("read every kind of import, type-only and multi-line included", () => {
    const source = [
      'import type { A } from "./a.js";',
      'import {\n  b,\n  type B,\n} from "./b.js";',
      'export * from "./c.js";',
      'export type { D } from "./d.js";',
      'import "./e.js";',
      'const f = await import("./f.js");',
      'import g = require("./g.js");',
      'import { z } from "zod";',
    ].join("\n");
    expect(specifiersOf(source)).toEqual(["./a.js", "./b.js", "./c.js", "./d.js", "./e.js", "./f.js", "./g.js", "zod"]);
  });

  it("find a cycle and name its files in import order", () => {
    const graph = new Map([
      ["a.ts", ["b.ts"]],
      ["b.ts", ["c.ts", "d.ts"]],
      ["c.ts", ["a.ts"]],
      ["d.ts", []],
      ["e.ts", ["e.ts"]],
    ]);
    expect(findCycles(graph)).toEqual([
      ["a.ts", "b.ts", "c.ts", "a.ts"],
      ["e.ts", "e.ts"],
    ]);
    expect(
      findCycles(
        new Map([
          ["a.ts", ["b.ts"]],
          ["b.ts", []],
        ]),
      ),
    ).toEqual([]);
  });
});

describe("the product's import graph", () => {
  const root = projectPath();
  const { graph, unresolved } = readImportGraph(root, PRODUCT_FOLDERS);

  it("is read whole: every relative import names a file, and the known edges are there", () => {
    expect(unresolved).toEqual([]);
    expect(graph.size).toBeGreaterThan(200);
    expect(graph.get(join("common", "config", "schema.ts"))).toContain(join("common", "slo", "spec.ts"));
    expect(graph.get(join("analyzer", "service.ts"))).toContain(join("analyzer", "analyzer-state.ts"));
  });

  it("has common/ import nothing from agent/, analyzer/ or cli/", () => {
    const upward = [...graph].flatMap(([from, targets]) =>
      from.startsWith("common/")
        ? targets
            .filter((to) => ABOVE_COMMON.some((folder) => to.startsWith(`${folder}/`)))
            .map((to) => `${from} → ${to}`)
        : [],
    );
    expect(upward).toEqual([]);
  });

  it("has no import cycle, type-only or not", () => {
    const cycles = findCycles(graph).map((cycle) => cycle.join(" → "));
    expect(cycles).toEqual([]);
  });
});
