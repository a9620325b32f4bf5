/**
 * Configured patterns must mean the same to JavaScript and to Prometheus's RE2: each construct the
 * two engines read apart is refused with its name, where the configuration is loaded (SLO class,
 * tier and pool rules), and the patterns both read alike pass.
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../common/config/load.js";
import { re2Problems } from "../../../common/config/re2-syntax.js";
import { patternProblems } from "../../../common/config/safe-regex.js";

function problemsOf(file: string): readonly string[] {
  const result = loadConfig({ flags: { config: "/c.yaml" }, env: {}, readFile: () => file });
  return result.ok ? [] : result.problems;
}

describe("re2Problems", () => {
  it.each([
    ["(?<![0-9.x])(7|8)b", /look-behind \(\?<!…\)/],
    ["(?<=-)7b", /look-behind \(\?<=…\)/],
    ["7b(?![a-z0-9])", /look-ahead \(\?!…\)/],
    ["llama(?=-3)", /look-ahead \(\?=…\)/],
    ["(?>7|8)b", /atomic group/],
    ["llama-[0-9]++b", /possessive quantifier \+\+/],
    ["a{2}+", /possessive quantifier \{n\}\+/],
    ["(?<size>7)b", /named group/],
    ["\\u0041", /escape \\u/],
    ["\\cJ", /escape \\c/],
    ["\\0", /escape \\0/],
    ["\\a", /escape \\a/],
    ["\\p{L}", /escape \\p/],
    ["[\\b]", /escape \\b inside a class/],
    ["[]a", /empty character class/],
    ["[^]", /empty character class/],
    ["[[:alpha:]]", /POSIX class/],
    ["a{1001}", /repetition count above 1000/],
  ])("names what RE2 reads apart in %s", (pattern, problem) => {
    expect(re2Problems(pattern).join("; ")).toMatch(problem);
  });

  it.each([
    "(^|[^0-9.x])(7|8)b([^a-z0-9]|$)",
    "^gpu-[0-9]+$",
    "mistral|mixtral",
    "(meta-)?llama-3(\\.1)?-8b",
    "\\bqwen\\d+\\.\\d-\\d+b\\b",
    "a\\x41\\-\\/[\\]\\-x]{2,1000}?",
    "(?:ab)+?",
    "[(]+a",
  ])("accepts %s, which both engines read alike", (pattern) => {
    expect(re2Problems(pattern)).toEqual([]);
  });
});

describe("patternProblems", () => {
  it("names a construct RE2 lacks even where V8 cannot compile the pattern", () => {
    expect(patternProblems("(?>a)b")).toEqual([
      "not RE2-compatible: an atomic group (?>…), which RE2 (Prometheus) does not have",
    ]);
  });

  it("keeps the backtracking check's messages beside the RE2 ones", () => {
    const problems = patternProblems("^(a+)+(?=b)");
    expect(problems.some((p) => /repetition of something that repeats/.test(p))).toBe(true);
    expect(problems.some((p) => /not RE2-compatible: a look-around/.test(p))).toBe(true);
  });
});

describe("the configuration's regex settings", () => {
  it.each([
    [
      "an SLO class rule",
      "slo:\n  classes:\n    - name: x\n      match: [{ model: '(?<![0-9])7b' }]\n      latency: { threshold: 1s }\n",
      /^slo\.classes\.0\.match\.0(\.model)?: .*not RE2-compatible: a look-around \(the look-behind/,
    ],
    [
      "a tier rule",
      "agent:\n  spans:\n    tiers: [{ model: 'llama(?=-3)', tier: batch }]\n",
      /^agent\.spans\.tiers\.0\.model: not RE2-compatible: a look-around \(the look-ahead/,
    ],
    [
      "a pool rule",
      "analyzer:\n  pools: [{ name: a, nodes: '(?<rack>r1)-gpu' }]\n",
      /^analyzer\.pools\.0\.nodes: not RE2-compatible: a named group/,
    ],
  ])("refuse a pattern RE2 reads apart in %s, naming its path", (_name, file, problem) => {
    const problems = problemsOf(file);
    expect(
      problems.some((line) => problem.test(line)),
      problems.join("\n"),
    ).toBe(true);
  });
});
