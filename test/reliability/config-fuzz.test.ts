/**
 * Hostile configuration: random YAML text, random values under real and made-up setting
 * paths, random flags and INFERWATCH_* variables. loadConfig must answer with a configuration or a
 * list of problems, each naming where it is — and never throw.
 */
import fc from "fast-check";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { loadConfig, type ConfigResult } from "../../common/config/load.js";
import { envName, OPTIONS } from "../../common/config/options.js";

const RUNS = 300;
const FILE = "/etc/inferwatch.yaml";

function load(
  file: string | undefined,
  flags: Record<string, string> = {},
  env: Record<string, string> = {},
): ConfigResult {
  return loadConfig({
    flags: file === undefined ? flags : { config: FILE, ...flags },
    env,
    readFile: (path) => {
      if (path !== FILE || file === undefined) throw new Error(`ENOENT: ${path}`);
      return file;
    },
  });
}

/** A result is a configuration or problems, every one a line naming a path or a source. */
function expectAnswer(result: ConfigResult): void {
  if (result.ok) {
    expect(result.config.agent).toBeDefined();
    return;
  }
  expect(result.problems.length).toBeGreaterThan(0);
  for (const problem of result.problems) {
    expect(typeof problem).toBe("string");
    expect(problem).toMatch(/^\S.*: /s);
  }
}

/** A JSON-like value of any shape, YAML-safe. */
const value = fc.jsonValue({ maxDepth: 3 });
const paths = fc.constantFrom(
  ...OPTIONS.map((option) => option.path),
  "agent",
  "analyzer",
  "slo",
  "log",
  "agent.nvml",
  "agent.forward",
  "agent.bogus.deep",
  "__proto__.polluted",
  "constructor.prototype.x",
);

/** A tree with `leaf` set at the dotted `path`. */
function treeAt(path: string, leaf: unknown): Record<string, unknown> {
  return path.split(".").reduceRight<unknown>((inner, key) => ({ [key]: inner }), leaf) as Record<string, unknown>;
}

describe("loadConfig on hostile input", () => {
  it("answers random text as the YAML file with problems, never a throw", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 400 }), (text) => expectAnswer(load(text))),
      { numRuns: RUNS },
    );
  });

  it("answers random YAML documents (any shape at the top) with a configuration or problems", () => {
    fc.assert(
      fc.property(value, (doc) => expectAnswer(load(stringify(doc)))),
      { numRuns: RUNS },
    );
  });

  it("answers a random value under a real or made-up setting path with a configuration or problems naming the path", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(paths, value), { minLength: 1, maxLength: 4 }), (entries) => {
        const doc = Object.assign({}, ...entries.map(([path, leaf]) => treeAt(path, leaf))) as Record<string, unknown>;
        expectAnswer(load(stringify(doc)));
        expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
      }),
      { numRuns: RUNS },
    );
  });

  it("answers random flag and environment values for every option with a configuration or problems", () => {
    const option = fc.constantFrom(...OPTIONS);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(option, fc.string({ maxLength: 40 }), fc.boolean()), { maxLength: 6 }),
        fc.string({ maxLength: 20 }),
        (settings, stray) => {
          const flags: Record<string, string> = {};
          const env: Record<string, string> = { [`INFERWATCH_${stray.toUpperCase()}`]: "1" };
          for (const [spec, raw, isFlag] of settings) {
            if (isFlag) flags[spec.path] = raw;
            else env[envName(spec.flag)] = raw;
          }
          expectAnswer(load(undefined, flags, env));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("refuses a YAML alias bomb with a problem instead of expanding it", () => {
    const levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 12; i++)
      levels.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(", ")}]`,
      );
    const result = load(`${levels.join("\n")}\n`);
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems[0]).toMatch(/^\/etc\/inferwatch\.yaml: /);
  });
});
