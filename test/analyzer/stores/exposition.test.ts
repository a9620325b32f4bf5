import { describe, expect, it } from "vitest";
import { ExpositionParseError, parseExpositionText, type ExpositionSample } from "../../../common/exposition.js";

describe("parseExpositionText", () => {
  it.each<[string, string, ExpositionSample]>([
    ["a bare sample", "up 1", { name: "up", labels: {}, value: 1 }],
    [
      "labels with every escape",
      'm{a="x\\"y",b="back\\\\slash",c="new\\nline"} 2.5',
      { name: "m", labels: { a: 'x"y', b: "back\\slash", c: "new\nline" }, value: 2.5 },
    ],
    ["a trailing comma and spaces", 'm{ a = "1" , } 3', { name: "m", labels: { a: "1" }, value: 3 }],
    ["an exponent", "m 1.5e-3", { name: "m", labels: {}, value: 0.0015 }],
    ["+Inf", 'h_bucket{le="+Inf"} +Inf', { name: "h_bucket", labels: { le: "+Inf" }, value: Infinity }],
    ["-Inf", "m -Inf", { name: "m", labels: {}, value: -Infinity }],
    ["a millisecond timestamp", "m 4 1704067200123", { name: "m", labels: {}, value: 4, timestampMs: 1704067200123 }],
    ["a colon in the name", "job:requests:rate5m 7", { name: "job:requests:rate5m", labels: {}, value: 7 }],
    ["a tab separator", "m\t8", { name: "m", labels: {}, value: 8 }],
  ])("reads %s", (_what, line, expected) => {
    expect(parseExpositionText(`# HELP m help\n# TYPE m gauge\n${line}\n`)).toEqual([expected]);
  });

  it("reads NaN as NaN", () => {
    expect(parseExpositionText("m NaN\n")[0]?.value).toBeNaN();
  });

  it("reads OpenMetrics: timestamps in seconds and exemplars skipped", () => {
    const text = [
      "# TYPE r counter",
      'r_total{a="1"} 5 1704067200.5 # {trace_id="abc"} 1 1704067200.4',
      'r_total{a="2"} 6 # {trace_id="def"} 1',
      "# EOF",
      "",
    ].join("\n");
    expect(parseExpositionText(text)).toEqual([
      { name: "r_total", labels: { a: "1" }, value: 5, timestampMs: 1704067200500 },
      { name: "r_total", labels: { a: "2" }, value: 6 },
    ]);
  });

  it.each([
    ["a label value without quotes", "m{a=1} 1"],
    ["an unterminated label value", 'm{a="1} 1'],
    ["an unknown escape", 'm{a="\\t"} 1'],
    ["a duplicate label", 'm{a="1",a="2"} 1'],
    ["a value that is not a number", "m one"],
    ["no value", "m"],
    ["a fractional timestamp in the Prometheus format", "m 1 17.5"],
    ["text after the timestamp", "m 1 17 extra"],
    ["a name starting with a digit", "1m 1"],
  ])("refuses %s, naming the line", (_what, line) => {
    expect(() => parseExpositionText(`ok 1\n${line}\n`)).toThrow(ExpositionParseError);
    expect(() => parseExpositionText(`ok 1\n${line}\n`)).toThrow(/line 2/);
  });
});
