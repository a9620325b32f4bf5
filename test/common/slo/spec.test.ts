import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import {
  classOf,
  DEFAULT_SLO_CONFIG,
  gpuUtilizationObjective,
  listSlos,
  sloConfigSchema,
  SLO_CLASS_LABEL,
} from "../../../common/slo/spec.js";
import { sloThresholds } from "../../../common/slo/thresholds.js";

const DAY = 86_400_000;

/** The problems of a configuration, as `path: message` lines. */
function problems(input: unknown): string[] {
  const result = sloConfigSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

describe("SLO configuration defaults", () => {
  it("parses an empty file to the platform's defaults", () => {
    const empty: unknown = parseYaml("");
    expect(sloConfigSchema.parse(empty ?? {})).toEqual(DEFAULT_SLO_CONFIG);
    expect(DEFAULT_SLO_CONFIG.periodMs).toBe(30 * DAY);
  });

  it.each([
    ["7b", 1.2],
    ["13b", 2],
    ["70b", 4],
  ])("class %s asks 95% of requests under %d s and 99% without error", (name, threshold) => {
    const modelClass = DEFAULT_SLO_CONFIG.classes.find((candidate) => candidate.name === name);
    expect(modelClass?.latency).toMatchObject({
      id: `${name}-latency`,
      thresholdSeconds: threshold,
      objective: 0.95,
      metric: "inferwatch_llm_request_duration_seconds",
    });
    expect(modelClass?.availability).toMatchObject({
      id: `${name}-availability`,
      objective: 0.99,
      metric: "inferwatch_llm_requests_total",
    });
    expect(modelClass?.ttft).toBeUndefined();
  });

  it("lists six SLOs with stable ids", () => {
    expect(listSlos(DEFAULT_SLO_CONFIG).map((slo) => slo.id)).toEqual([
      "7b-latency",
      "7b-availability",
      "13b-latency",
      "13b-availability",
      "70b-latency",
      "70b-availability",
    ]);
  });

  it("gives the agent 1.2 s, 2 s and 4 s as histogram boundaries", () => {
    expect(sloThresholds(DEFAULT_SLO_CONFIG)).toEqual([1.2, 2, 4]);
  });

  it("asks every pool for 60% GPU utilization over a day, as a ticket", () => {
    expect(gpuUtilizationObjective(DEFAULT_SLO_CONFIG, "batch")).toEqual({
      id: "batch-gpu-utilization",
      pool: "batch",
      minRatio: 0.6,
      windowMs: DAY,
      severity: "ticket",
    });
  });
});

describe("an SLO file", () => {
  const yaml = `
period: 28d
classes:
  - name: small
    match:
      - model: "^mistral-"
      - podLabel: { key: team, value: search }
    latency: { threshold: 800ms, objective: "97.5%" }
    ttft: { threshold: 250ms }
    availability: { objective: 0.995 }
  - name: large
    match:
      - model: Llama-3\\.1-70B
        ignoreCase: false
    latency: { threshold: 5s }
gpuUtilization:
  minRatio: 0.5
  pools:
    latency: { minRatio: "40%" }
    batch: { window: 12h }
`;
  const config = sloConfigSchema.parse(parseYaml(yaml));

  it("reads period, thresholds, percentages and defaults", () => {
    expect(config.periodMs).toBe(28 * DAY);
    expect(config.classes[0]).toMatchObject({
      latency: { id: "small-latency", thresholdSeconds: 0.8, objective: 0.975 },
      ttft: {
        id: "small-ttft",
        kind: "ttft",
        thresholdSeconds: 0.25,
        objective: 0.95,
        metric: "inferwatch_llm_time_to_first_token_seconds",
      },
      availability: { id: "small-availability", objective: 0.995 },
    });
    expect(config.classes[1]).toMatchObject({
      latency: { thresholdSeconds: 5, objective: 0.95 },
      availability: { objective: 0.99 },
    });
  });

  it("lists TTFT thresholds with latency thresholds for the agent's buckets", () => {
    expect(sloThresholds(config)).toEqual([0.25, 0.8, 5]);
    expect(listSlos(config).map((slo) => slo.id)).toEqual([
      "small-latency",
      "small-ttft",
      "small-availability",
      "large-latency",
      "large-availability",
    ]);
  });

  it.each([
    ["latency", 0.4, "a day (its own ratio)", DAY],
    ["batch", 0.5, "12 hours (its own window)", 12 * 3_600_000],
    ["interactive", 0.5, "a day (not listed: the defaults)", DAY],
  ])("gives pool %s a %d utilization objective over %s", (pool, minRatio, _window, windowMs) => {
    expect(gpuUtilizationObjective(config, pool)).toMatchObject({ minRatio, windowMs, severity: "ticket" });
  });

  it.each([
    ["mistral-7b-instruct", {}, "class small"],
    ["llama-3.1-70b", {}, "no class"],
    ["Llama-3.1-70B", {}, "class large"],
    ["gemma-2b", { team: "search" }, "class small"],
    ["gemma-2b", { team: "ads" }, "no class"],
  ] as const)("puts %s (pod labels %o) in %s", (model, labels, expected) => {
    expect(classOf(config, model, labels)?.name ?? "no class").toBe(expected.replace(/^class /, ""));
  });
});

describe("classOf with the default classes", () => {
  it.each([
    ["mistralai/Mistral-7B-Instruct-v0.3", {}, "class 7b"],
    ["meta-llama/Llama-3.1-8B-Instruct", {}, "class 7b"],
    ["Qwen/Qwen2.5-7B-Instruct-AWQ", {}, "class 7b"],
    ["meta-llama/Llama-2-13b-chat-hf", {}, "class 13b"],
    ["Qwen/Qwen2.5-14B-Instruct", {}, "class 13b"],
    ["meta-llama/Llama-3.3-70B-Instruct", {}, "class 70b"],
    ["Qwen/Qwen2-72B-Instruct-GPTQ-Int4", {}, "class 70b"],
    ["mistralai/Mixtral-8x7B-Instruct-v0.1", {}, "no class"],
    ["HuggingFaceTB/SmolLM2-1.7B", {}, "no class"],
    ["custom-17b", {}, "no class"],
    ["in-house-assistant", { [SLO_CLASS_LABEL]: "13b" }, "class 13b"],
    ["in-house-assistant", {}, "no class"],
  ] as const)("puts %s (pod labels %o) in %s", (model, labels, expected) => {
    expect(classOf(DEFAULT_SLO_CONFIG, model, labels)?.name ?? "no class").toBe(expected.replace(/^class /, ""));
  });

  it("takes the first matching class in configuration order", () => {
    expect(classOf(DEFAULT_SLO_CONFIG, "llama-7b", { [SLO_CLASS_LABEL]: "70b" })?.name).toBe("7b");
  });
});

describe("invalid SLO files", () => {
  it.each([
    [
      "an objective above 1",
      { classes: [{ name: "a", match: [{ model: "a" }], latency: { threshold: "1s", objective: 1.2 } }] },
      "classes.0.latency.objective: expected a ratio between 0 and 1",
    ],
    [
      "a threshold without a unit",
      { classes: [{ name: "a", match: [{ model: "a" }], latency: { threshold: 1.2 } }] },
      "classes.0.latency.threshold: expected a duration with its unit such as 1.2s or 800ms, got 1.2",
    ],
    [
      "a threshold that is not a duration",
      { classes: [{ name: "a", match: [{ model: "a" }], latency: { threshold: "fast" } }] },
      "classes.0.latency.threshold: expected a duration with its unit such as 1.2s",
    ],
    [
      "a broken regular expression",
      { classes: [{ name: "a", match: [{ model: "(" }], latency: { threshold: "1s" } }] },
      "classes.0.match.0.model: expected a valid regular expression",
    ],
    ["a class with no rule", { classes: [{ name: "a", match: [], latency: { threshold: "1s" } }] }, "classes.0.match:"],
    [
      "a class name unfit for an id",
      { classes: [{ name: "Big Models", match: [{ model: "a" }], latency: { threshold: "1s" } }] },
      "classes.0.name: expected lower-case",
    ],
    [
      "a duplicate class",
      {
        classes: [
          { name: "a", match: [{ model: "a" }], latency: { threshold: "1s" } },
          { name: "a", match: [{ model: "b" }], latency: { threshold: "2s" } },
        ],
      },
      "classes.1.name: duplicate class a",
    ],
    [
      "a period shorter than the 3-day window",
      { period: "1d" },
      "period: must be at least the longest burn-rate window (3d)",
    ],
    ["an unknown key", { perod: "30d" }, ": Unrecognized key"],
    ["a utilization above 100%", { gpuUtilization: { minRatio: "120%" } }, "gpuUtilization.minRatio: expected a ratio"],
  ])("reports %s with its path", (_name, input, expected) => {
    expect(problems(input).some((problem) => problem.startsWith(expected))).toBe(true);
  });
});
