/**
 * The PromQL pieces every generator and the Prometheus store share: literals escaped so that no
 * value changes a query's meaning, names checked, `le` matched in both of Prometheus's spellings,
 * and a searched pattern anchored as Prometheus anchors label regexes.
 */
import { describe, expect, it } from "vitest";
import {
  escapeRegex,
  leMatcher,
  leSetMatcher,
  leValues,
  matcher,
  promString,
  searchRegex,
  selector,
} from "../../common/promql.js";

describe("common/promql", () => {
  it("escapes backslash, quote, newline, carriage return and tab in a string literal", () => {
    expect(promString('a"b\\c\nd\re\tf')).toBe('"a\\"b\\\\c\\nd\\re\\tf"');
  });

  it("escapes every RE2 metacharacter of a literal", () => {
    expect(escapeRegex("a.b|c*(d)[e]{f}^$?+\\")).toBe("a\\.b\\|c\\*\\(d\\)\\[e\\]\\{f\\}\\^\\$\\?\\+\\\\");
  });

  it.each([
    ["a label name with a dash", () => matcher("a-b", "=", "x"), /invalid label name "a-b"/],
    ["a metric name with a brace", () => selector("m{x}", []), /invalid metric name "m\{x\}"/],
  ])("refuses %s", (_what, build, problem) => {
    expect(build).toThrow(problem);
  });

  it("writes a selector with its matchers, or the bare name", () => {
    expect(selector("m", [matcher("model", "=~", "a|b"), "", matcher("status", "!=", "error")])).toBe(
      'm{model=~"a|b", status!="error"}',
    );
    expect(selector("m", [])).toBe("m");
  });

  it.each([
    [1.2, 'le="1.2"'],
    [2, 'le=~"2(\\\\.0)?"'],
  ])("matches the bucket bound %s before and after Prometheus 3's le normalisation", (seconds, expected) => {
    expect(leMatcher(seconds)).toBe(expected);
  });

  it("spells a set of bounds both ways, escaped", () => {
    expect(leValues([1.2, 2, 2])).toEqual(["1.2", "2", "2.0"]);
    expect(leSetMatcher([1.2, 2])).toBe('le=~"1\\\\.2|2|2\\\\.0"');
  });

  it("turns a searched pattern into an anchored one, with the case flag", () => {
    expect(searchRegex("^gpu-[12]$")).toBe(".*(?:^gpu-[12]$).*");
    expect(searchRegex("7b", true)).toBe("(?i:.*(?:7b).*)");
  });
});
