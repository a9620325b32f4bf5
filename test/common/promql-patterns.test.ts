/**
 * One pattern, one meaning: every default model-class pattern selects the same real model names in
 * JavaScript (`RegExp.test`, as the analyzer and agent search it) and in Prometheus (a `model=~`
 * matcher built by common/promql.ts, evaluated by the real `promtool test rules`), and means what the
 * look-around patterns it replaced meant. The names are Hugging Face repository ids as vLLM, TGI and
 * SGLang report them by default (`--model` without `--served-model-name`), plus short served names.
 */
import { describe, expect, it } from "vitest";
import { classMatchers } from "../../alerts/model-selector.js";
import { classOf, DEFAULT_SLO_CONFIG } from "../../common/slo/spec.js";
import { METRICS } from "../../common/conventions.js";
import { matcher, searchRegex, selector } from "../../common/promql.js";
import { runPromtoolTests, seriesOf, type ExprTest } from "../alerts/promtool.js";

/** Real model names and the default class a reader expects ("-": none). */
const NAMES: readonly (readonly [string, string])[] = [
  ["meta-llama/Llama-2-7b-chat-hf", "7b"],
  ["meta-llama/Meta-Llama-3.1-8B-Instruct", "7b"],
  ["meta-llama/Llama-3.1-8B-Instruct", "7b"],
  ["mistralai/Mistral-7B-Instruct-v0.3", "7b"],
  ["Qwen/Qwen2.5-7B-Instruct", "7b"],
  ["Qwen/Qwen2.5-Coder-7B-Instruct", "7b"],
  ["Qwen/Qwen3-8B", "7b"],
  ["deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "7b"],
  ["deepseek-ai/DeepSeek-R1-Distill-Llama-8B", "7b"],
  ["ibm-granite/granite-3.1-8b-instruct", "7b"],
  ["google/gemma-7b", "7b"],
  ["HuggingFaceH4/zephyr-7b-beta", "7b"],
  ["meta-llama/Llama-Guard-3-8B", "7b"],
  ["neuralmagic/Meta-Llama-3-8B-Instruct-FP8", "7b"],
  ["llama3-8b", "7b"],
  ["meta-llama/Llama-2-13b", "13b"],
  ["meta-llama/Llama-2-13b-chat-hf", "13b"],
  ["TheBloke/Llama-2-13B-chat-GPTQ", "13b"],
  ["lmsys/vicuna-13b-v1.5", "13b"],
  ["Qwen/Qwen2.5-14B", "13b"],
  ["Qwen/Qwen3-14B", "13b"],
  ["deepseek-ai/DeepSeek-R1-Distill-Qwen-14B", "13b"],
  ["qwen2.5-14b-awq", "13b"],
  ["meta-llama/Llama-3.1-70B", "70b"],
  ["meta-llama/Llama-3.3-70B-Instruct", "70b"],
  ["meta-llama/Llama-2-70b-chat-hf", "70b"],
  ["deepseek-ai/DeepSeek-R1-Distill-Llama-70B", "70b"],
  ["nvidia/Llama-3.1-Nemotron-70B-Instruct-HF", "70b"],
  ["Qwen/Qwen2-72B-Instruct", "70b"],
  ["Qwen/Qwen2.5-72B-Instruct-AWQ", "70b"],
  ["mistralai/Mixtral-8x7B-Instruct-v0.1", "-"],
  ["MIXTRAL-8X7B", "-"],
  ["mistralai/Mixtral-8x22B-Instruct-v0.1", "-"],
  ["Qwen/Qwen1.5-MoE-A2.7B", "-"],
  ["Qwen/Qwen3-30B-A3B", "-"],
  ["Qwen/Qwen2.5-1.5B-Instruct", "-"],
  ["meta-llama/Llama-3.2-1B", "-"],
  ["meta-llama/Llama-3.2-11B-Vision-Instruct", "-"],
  ["google/gemma-2-9b-it", "-"],
  ["google/gemma-2-27b-it", "-"],
  ["microsoft/Phi-3-mini-4k-instruct", "-"],
  ["microsoft/Phi-3.5-mini-instruct", "-"],
  ["openai/gpt-oss-20b", "-"],
  ["openai/gpt-oss-120b", "-"],
  ["01-ai/Yi-1.5-34B-Chat", "-"],
  ["mistralai/Mistral-Nemo-Instruct-2407", "-"],
  ["deepseek-ai/DeepSeek-V3", "-"],
];

/** The default patterns before they were rewritten without look-around (JavaScript only). */
const LOOKAROUND_SIZES: Readonly<Record<string, string>> = { "7b": "7|8", "13b": "13|14", "70b": "70|72" };

const MODEL_RULES = DEFAULT_SLO_CONFIG.classes.flatMap((modelClass) =>
  modelClass.match.flatMap((rule) =>
    "model" in rule ? [{ className: modelClass.name, model: rule.model, ignoreCase: rule.ignoreCase }] : [],
  ),
);
const METRIC = METRICS.llmRequests.name;
const input = NAMES.map(([model]) => ({ series: seriesOf(METRIC, { model, status: "ok" }), values: "1x5" }));
const expectModels = (models: readonly string[]) =>
  models.map((model) => ({ labels: `{model=${JSON.stringify(model)}}`, value: 1 }));

async function expectPromtool(tests: readonly ExprTest[]): Promise<void> {
  const result = await runPromtoolTests(
    [{ name: "default patterns", interval: "1m", input_series: input, promql_expr_test: tests }],
    /^$/,
  );
  expect(result.code, result.output).toBe(0);
}

describe("default model-class patterns in JavaScript and in Prometheus", () => {
  it("put each real model name in the class a reader expects (the analyzer's classOf)", () => {
    expect(MODEL_RULES.map((rule) => rule.className)).toEqual(["7b", "13b", "70b"]);
    for (const [model, expected] of NAMES)
      expect(classOf(DEFAULT_SLO_CONFIG, model)?.name ?? "-", model).toBe(expected);
  });

  it("mean what the look-around patterns they replaced meant, on every name", () => {
    for (const rule of MODEL_RULES) {
      const before = new RegExp(`(?<![0-9.x])(${LOOKAROUND_SIZES[rule.className] ?? ""})b(?![a-z0-9])`, "i");
      const after = new RegExp(rule.model, rule.ignoreCase ? "i" : "");
      for (const [model] of NAMES) expect(after.test(model), `${rule.model} on ${model}`).toBe(before.test(model));
    }
  });

  it("select in Prometheus, pattern by pattern, exactly the names JavaScript's RegExp matches", async () => {
    const tests = MODEL_RULES.map((rule) => {
      const regex = new RegExp(rule.model, rule.ignoreCase ? "i" : "");
      const matching = NAMES.map(([model]) => model).filter((model) => regex.test(model));
      expect(matching.length, rule.model).toBeGreaterThan(0);
      return {
        expr: `count by (model) (${selector(METRIC, [matcher("model", "=~", searchRegex(rule.model, rule.ignoreCase))])})`,
        eval_time: "2m",
        exp_samples: expectModels(matching),
      };
    });
    await expectPromtool(tests);
  });

  it("select in Prometheus, class by class (first class wins), exactly the names classOf gives each class", async () => {
    const tests = DEFAULT_SLO_CONFIG.classes.map((modelClass, index) => ({
      expr: `count by (model) (${METRIC}{${classMatchers(DEFAULT_SLO_CONFIG.classes, index) ?? ""}})`,
      eval_time: "2m",
      exp_samples: expectModels(
        NAMES.map(([model]) => model).filter((model) => classOf(DEFAULT_SLO_CONFIG, model)?.name === modelClass.name),
      ),
    }));
    await expectPromtool(tests);
  });
});
