/**
 * Regular expressions from configuration are checked for catastrophic backtracking where they are
 * configured (issue: hardening, reproduction 12): SLO class rules, tier rules and pool rules refuse
 * `^(a+)+$` and its kin with the setting's path (exit 2), and a configured pattern only ever sees
 * the first 256 characters of a name.
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_SLO_CONFIG } from "../../../common/slo/spec.js";
import { loadConfig } from "../../../common/config/load.js";
import { analyzeRegex, BoundedRegExp, MAX_MATCHED_CHARS, regexProblems } from "../../../common/config/safe-regex.js";

function problemsOf(file: string): readonly string[] {
  const result = loadConfig({ flags: { config: "/c.yaml" }, env: {}, readFile: () => file });
  return result.ok ? [] : result.problems;
}

describe("regexProblems", () => {
  it.each([
    ["^(a+)+$", /repetition of something that repeats/],
    ["(a*)*b", /repetition of something that repeats/],
    ["([a-z]+-)*model", /repetition of something that repeats/],
    ["(?:x+y){2,}", /repetition of something that repeats/],
    ["(a|aa)+$", /repetition of an alternation/],
    ["(\\w|\\d)*!", /repetition of an alternation/],
    ["(a)\\1", /backreference/],
    ["(?<n>a)\\k<n>", /backreference/],
    [".*a.*b.*c.*d", /4 unbounded repetitions/],
    ["(", /^expected a valid regular expression \(Invalid regular expression/],
    ["a".repeat(513), /^expected a regular expression of at most 512 characters, got 513$/],
  ])("refuses %s", (pattern, problem) => {
    expect(regexProblems(pattern).join("; ")).toMatch(problem);
  });

  it.each([
    "(?<![0-9.x])(7|8)b(?![a-z0-9])",
    "llama.*70b.*chat",
    "^gpu-[0-9]+$",
    "mistral|mixtral",
    "(meta-)?llama-3(\\.1)?-8b",
    "[(]+a",
    "(?:ab)+",
  ])("accepts %s", (pattern) => {
    expect(regexProblems(pattern)).toEqual([]);
  });

  it("reports look-around, which RE2 (PromQL) lacks, without refusing it", () => {
    expect(analyzeRegex("(?<![0-9.x])(7|8)b(?![a-z0-9])")).toEqual({
      problems: [],
      unboundedRepeats: 0,
      hasLookaround: true,
    });
  });

  it("accepts every pattern of the default SLO classes", () => {
    const patterns = DEFAULT_SLO_CONFIG.classes.flatMap((modelClass) =>
      modelClass.match.flatMap((rule) => ("model" in rule ? [rule.model] : [])),
    );
    expect(patterns.length).toBeGreaterThan(0);
    for (const pattern of patterns) expect(regexProblems(pattern)).toEqual([]);
  });
});

describe("the configuration's regex settings", () => {
  it.each([
    [
      "an SLO class rule",
      "slo:\n  classes:\n    - name: x\n      match: [{ model: '^(a+)+$' }]\n      latency: { threshold: 1s }\n",
      /^slo\.classes\.0\.match\.0(\.model)?: .*repetition of something that repeats/,
    ],
    [
      "a tier rule",
      "agent:\n  spans:\n    tiers: [{ model: '^(a+)+$', tier: batch }]\n",
      /^agent\.spans\.tiers\.0\.model: unsafe regular expression: a repetition of something that repeats/,
    ],
    [
      "a pool rule",
      "analyzer:\n  pools: [{ name: a, nodes: '(a|aa)+$' }]\n",
      /^analyzer\.pools\.0\.nodes: unsafe regular expression: a repetition of an alternation/,
    ],
  ])("refuse a catastrophic pattern in %s, naming its path", (_name, file, problem) => {
    const problems = problemsOf(file);
    expect(
      problems.some((line) => problem.test(line)),
      problems.join("\n"),
    ).toBe(true);
  });
});

describe("BoundedRegExp", () => {
  it(`matches the first ${MAX_MATCHED_CHARS} characters of a name and no further`, () => {
    const pattern = new BoundedRegExp("70b", "i");
    expect(pattern.test(`${"x".repeat(MAX_MATCHED_CHARS - 3)}70B`)).toBe(true);
    expect(pattern.test(`${"x".repeat(MAX_MATCHED_CHARS - 2)}70b`)).toBe(false);
    expect(new BoundedRegExp("x.*y.*z").test(`${"xy".repeat(2048)}z`)).toBe(false);
  });
});
