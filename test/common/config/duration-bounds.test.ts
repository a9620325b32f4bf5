/**
 * Every duration setting has a range (issue: hardening, reproduction 5): a value past 2³¹ − 1 ms
 * would become a 1 ms timer (a busy loop, thousands of Prometheus queries), a 400-digit value
 * parsed to Infinity, `0.0001ms` was accepted. Each is now a configuration problem naming the
 * setting and the range, and `inferwatch` exits 2 on it before starting anything.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_TIMER_MS, parseDurationMs } from "../../../common/config/duration.js";
import { loadConfig, type ConfigResult } from "../../../common/config/load.js";
import { OPTIONS } from "../../../common/config/options.js";
import type { Config } from "../../../common/config/schema.js";
import { projectPath } from "../../../common/paths.js";

const run = promisify(execFile);

function load(flags: Record<string, string>): ConfigResult {
  return loadConfig({ flags, env: {}, readFile: () => "" });
}

/** The value at a dotted path of the configuration. */
function at(config: Config, path: string): unknown {
  return path
    .split(".")
    .reduce<unknown>(
      (node, key) => (typeof node === "object" && node !== null ? (node as Record<string, unknown>)[key] : undefined),
      config,
    );
}

const DURATION_OPTIONS = OPTIONS.filter((option) => option.valueName === "duration");

describe("parseDurationMs", () => {
  it.each([
    ["a 400-digit number of seconds", `${"9".repeat(400)}s`],
    ["text", "soon"],
    ["a negative value", "-1s"],
  ])("refuses %s", (_name, text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });

  it("reads compound durations", () => {
    expect(parseDurationMs("1m30s")).toBe(90_000);
  });
});

describe("duration settings", () => {
  it("are all flags the table knows", () => {
    expect(DURATION_OPTIONS.map((option) => option.flag)).toEqual(
      expect.arrayContaining(["interval", "eval-interval", "influx-flush-interval", "runtime-interval"]),
    );
  });

  it.each([
    [
      "--interval 30d",
      "agent.interval",
      "30d",
      'agent.interval: expected a duration between 50ms and 1h, got "30d" (from --interval)',
    ],
    [
      "--eval-interval 30d",
      "analyzer.interval",
      "30d",
      'analyzer.interval: expected a duration between 1s and 1d, got "30d" (from --eval-interval)',
    ],
    [
      "--interval 0.0001ms",
      "agent.interval",
      "0.0001ms",
      'agent.interval: expected a duration between 50ms and 1h, got "0.0001ms" (from --interval)',
    ],
    [
      "a 400-digit --runtime-interval",
      "agent.runtimes.interval",
      `${"9".repeat(400)}s`,
      `agent.runtimes.interval: expected a positive duration such as 500ms, 1s or 5m, got "${"9".repeat(400)}s" (from --runtime-interval)`,
    ],
  ])("refuse %s with the setting's range", (_name, path, value, problem) => {
    const result = load({ [path]: value });
    expect(result.ok ? [] : result.problems).toEqual([problem]);
  });

  it("accept only values that a Node timer keeps, for every duration flag and any value", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...DURATION_OPTIONS),
        fc.double({ min: 0, max: 1e12, noNaN: true }),
        fc.constantFrom("ms", "s", "m", "h", "d"),
        (option, amount, unit) => {
          const result = load({ [option.path]: `${amount.toFixed(4).replace(/\.?0+$/, "")}${unit}` });
          if (!result.ok) {
            expect(result.problems.length).toBeGreaterThan(0);
            return;
          }
          const ms = at(result.config, option.path);
          expect(typeof ms).toBe("number");
          expect(ms as number).toBeGreaterThanOrEqual(10);
          expect(ms as number).toBeLessThanOrEqual(MAX_TIMER_MS);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("inferwatch on an extreme value", () => {
  it.each([
    [["--interval", "30d"], /agent\.interval: expected a duration between 50ms and 1h/],
    [["--eval-interval", "30d"], /analyzer\.interval: expected a duration between 1s and 1d/],
    [
      ["--influx-spool-max-bytes", "1"],
      /agent\.influx\.spoolMaxBytes: expected at least 16KiB \(4 spool segments of 4 KiB\), got "1"/,
    ],
  ])("%j exits 2 naming the setting, before starting", async (args, message) => {
    const failure = await run(process.execPath, [projectPath("dist/cli/main.js"), "config", "dump", ...args], {
      env: { PATH: process.env["PATH"] ?? "" },
    }).catch((err: { code: number; stderr: string }) => err);
    expect("code" in failure ? failure.code : 0).toBe(2);
    expect("stderr" in failure ? failure.stderr : "").toMatch(message);
  });
});
