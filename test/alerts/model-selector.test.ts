/**
 * The PromQL matchers of the model classes select, in a real Prometheus (promtool), exactly the
 * models the analyzer's `classOf` assigns to each class; rules RE2 cannot express are refused by
 * the configuration, so no rule is ever translated.
 */
import { describe, expect, it } from "vitest";
import { classMatchers } from "../../alerts/model-selector.js";
import { classOf, DEFAULT_SLO_CONFIG, sloConfigSchema } from "../../common/slo/spec.js";
import { METRICS } from "../../common/conventions.js";
import { runPromtoolTests, seriesOf } from "./promtool.js";

/** Names that exercise the size rules' boundaries: suffixes, case, MoE sizes, longer numbers, versions. */
const MODELS = [
  "llama-3-8b",
  "Llama-3.1-8B-Instruct",
  "mistral-7b",
  "qwen2.5-7b-awq",
  "7b",
  "mixtral-8x7b",
  "mixtral-8X7B",
  "phi-1.7b",
  "llama-17b",
  "llama-2-13b",
  "qwen2.5-14b",
  "codellama-13B-hf",
  "llama-3-70b",
  "qwen2-72b-instruct",
  "llama-3-70bx",
  "gpt-oss",
  "tensorrt_llm",
  "llama-3-8b-70b-draft",
  "__overflow__",
];

const selects = (config: typeof DEFAULT_SLO_CONFIG, index: number) =>
  `count by (model) (${METRICS.llmRequests.name}{${classMatchers(config.classes, index) as string}})`;

async function expectPrometheusAgrees(config: typeof DEFAULT_SLO_CONFIG): Promise<void> {
  const result = await runPromtoolTests(
    [
      {
        name: "class selection",
        interval: "1m",
        input_series: MODELS.map((model) => ({
          series: seriesOf(METRICS.llmRequests.name, { model, status: "ok" }),
          values: "1x5",
        })),
        promql_expr_test: config.classes.map((modelClass, index) => ({
          expr: selects(config, index),
          eval_time: "2m",
          exp_samples: MODELS.filter((model) => classOf(config, model)?.name === modelClass.name).map((model) => ({
            labels: `{model=${JSON.stringify(model)}}`,
            value: 1,
          })),
        })),
      },
    ],
    /^$/,
  );
  expect(result.code, result.output).toBe(0);
}

describe("model class selectors", () => {
  it("select in Prometheus exactly the models classOf gives each default class", async () => {
    const sizes = MODELS.map((model) => classOf(DEFAULT_SLO_CONFIG, model)?.name ?? "-");
    // The table must cover every class and models of none, or the agreement proves little.
    expect(new Set(sizes)).toEqual(new Set(["7b", "13b", "70b", "-"]));
    await expectPrometheusAgrees(DEFAULT_SLO_CONFIG);
  });

  it("give a model claimed by two classes to the first one only, and honour ignoreCase: false and anchors", async () => {
    const config = sloConfigSchema.parse({
      classes: [
        { name: "draft", match: [{ model: "draft$" }], latency: { threshold: "1s" } },
        { name: "big", match: [{ model: "^llama-3-70b", ignoreCase: false }], latency: { threshold: "4s" } },
        { name: "small", match: [{ model: "(^|[^0-9.x])(7|8)b([^a-z0-9]|$)" }], latency: { threshold: "1.2s" } },
      ],
    });
    expect(classOf(config, "llama-3-8b-70b-draft")?.name).toBe("draft");
    await expectPrometheusAgrees(config);
  });

  it.each([
    ["a look-ahead in the middle", "llama(?=-3)", /look-ahead \(\?=…\)/],
    ["a look-behind", "(?<![0-9.x])(7|8)b", /look-behind \(\?<!…\)/],
    ["a back-reference", "(a)\\1", /backreference/],
    ["a named group", "(?<size>7)b", /named group/],
    ["an atomic group", "(?>7|8)b", /atomic group/],
    ["a possessive quantifier", "llama-[0-9]++b", /possessive quantifier/],
  ])("refuse %s in the configuration, which RE2 cannot express", (_name, model, problem) => {
    const parsed = sloConfigSchema.safeParse({
      classes: [{ name: "x", match: [{ model }], latency: { threshold: "1s" } }],
    });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((issue) => issue.message).join("; ")).toMatch(problem);
  });

  it("leave classes with pod-label rules only without a selector", () => {
    const config = sloConfigSchema.parse({
      classes: [{ name: "labelled", match: [{ podLabel: { key: "k", value: "v" } }], latency: { threshold: "1s" } }],
    });
    expect(classMatchers(config.classes, 0)).toBeUndefined();
  });
});
